import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, SHARED, needs_shared


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ecomcopy", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


@needs_shared
def test_generate_json_contract():
    photo = SHARED / "ikea" / "images" / "802.962.48.jpg"  # an IKEA test product, not in the demo catalog
    r = run_cli("generate", "--image", str(photo), "--keywords", "Quilt cover and pillowcase, Turquoise, lilac", "--n", "3", "--seed", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert set(out) >= {"reference", "drafts"}
    assert set(out["reference"]) >= {"id", "name", "keywords", "description", "score"}
    assert out["reference"]["id"].startswith(("hm-", "ikea-"))
    assert 1 <= len(out["drafts"]) <= 3 and all(isinstance(d, str) and d for d in out["drafts"])


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp: ["--image", str(_text_file(tmp)), "--keywords", "dress"], "not an image"),
        (lambda tmp: ["--keywords", "  ,, "], "photo"),
        (lambda tmp: ["--keywords", "x" * 501], "500"),
        (lambda tmp: ["--image", str(_bomb(tmp)), "--keywords", "dress"], "megapixel"),
        (lambda tmp: ["--image", str(tmp / "missing.jpg")], "No file"),
        (lambda tmp: ["--keywords", "dress", "--n", "0"], "between 1 and 8"),
    ],
)
def test_bad_input_clear_error_no_traceback(tmp_path, make_args, message):
    r = run_cli("generate", *make_args(tmp_path), timeout=120)
    assert r.returncode != 0
    assert message in r.stderr and "Traceback" not in r.stderr + r.stdout


def _text_file(tmp):
    p = tmp / "photo.jpg"
    p.write_text("not really a jpeg")
    return p


def _bomb(tmp):
    p = tmp / "bomb.png"
    Image.new("1", (5000, 4500)).save(p)  # 22.5 megapixels, a few KB on disk
    return p


def test_index_reports_and_counts(tmp_path, small_folder):
    db = tmp_path / "c.db"
    r = run_cli("index", "--data", str(small_folder), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "24 products encoded" in r.stdout
    r = run_cli("index", "--data", str(small_folder), "--db", str(db))
    assert "0 products encoded, 24 unchanged" in r.stdout


def test_index_bad_folder(tmp_path):
    r = run_cli("index", "--data", str(tmp_path), "--db", str(tmp_path / "c.db"))
    assert r.returncode != 0 and "products.jsonl" in r.stderr and "Traceback" not in r.stderr
