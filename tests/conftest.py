"""Shared fixtures: real backbones loaded once per session, small real product folders from ../shared/data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# approvals and the working catalog of the app under test go to a throw-away folder, not the user's
os.environ.setdefault("ECOMCOPY_DATA", tempfile.mkdtemp(prefix="ecomcopy-test-data-"))
# the app, CLI and subprocesses under test write with the 0.5B writer: the default 1.5B takes twice as long per
# request; test_lm loads the default writer itself.
os.environ.setdefault("ECOMCOPY_LM", "qwen2.5-0.5b")
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

needs_shared = pytest.mark.skipif(not (SHARED / "hm" / "products.jsonl").is_file(), reason="../shared/data is not beside the checkout")


def copy_products(dest: Path, source: str, split: str, limit: int, one_per_group: bool = True) -> list[dict]:
    """Copy the first `limit` products of a split (one per group) with their images into `dest`."""
    rows, groups = [], set()
    for line in (SHARED / source / "products.jsonl").open():
        r = json.loads(line)
        if r["split"] != split or (one_per_group and r["group"] in groups):
            continue
        groups.add(r["group"])
        rows.append(r)
        if len(rows) == limit:
            break
    (dest / "images").mkdir(parents=True, exist_ok=True)
    for r in rows:
        shutil.copyfile(SHARED / source / r["image"], dest / r["image"])
    with (dest / "products.jsonl").open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return rows


@pytest.fixture(scope="session")
def image_encoder():
    from ecomcopy.encoders import create_image_encoder

    return create_image_encoder()


@pytest.fixture(scope="session")
def text_encoder():
    from ecomcopy.encoders import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory) -> Path:
    """16 H&M and 8 IKEA train products in the shared data format."""
    if not (SHARED / "hm" / "products.jsonl").is_file():
        pytest.skip("../shared/data is not beside the checkout")
    folder = tmp_path_factory.mktemp("products")
    copy_products(folder, "hm", "train", 16)
    copy_products(folder, "ikea", "train", 8)
    return folder


@pytest.fixture(scope="session")
def pipeline():
    """The real default pipeline on the shipped demo catalog (loaded once: ~10-40 s)."""
    import app  # the app's own process-wide pipeline, so the models load once for the whole session

    return app.get_pipeline()


@pytest.fixture(scope="session")
def tiny_lm(pipeline):
    """A 2-layer random-weight Qwen2 with the real tokenizer of the app's LM: for shape and training-loop tests."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from ecomcopy.lm import LoadedLM

    tok = pipeline.lm.tokenizer
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    model = Qwen2ForCausalLM(cfg).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedLM("tiny-qwen2", model, tok, "tiny-qwen2:random", False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_process(data: Path, **env: str):
    """The app as its own process (`python app.py`) on a free port with its data in `data` and these settings;
    yields its URL once its models are loaded, and stops it after."""
    port = free_port()
    env = {**os.environ, "ECOMCOPY_DATA": str(data), "ECOMCOPY_LM": "smollm2-135m", **env}
    log = (data / "app.log").open("w+")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while "ready to write" not in (data / "app.log").read_text() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    try:
        assert proc.poll() is None, (data / "app.log").read_text()[-3000:]
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


PASSWORDS = {"wendy": "writer-pass-123", "ed": "editor-pass-456"}  # the signed-in app's writer and editor


def users_cli(data: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """`python -m ecomcopy users ...` on the data folder `data`."""
    env = {**os.environ, "ECOMCOPY_DATA": str(data)}
    return subprocess.run([sys.executable, "-m", "ecomcopy", "users", *args], input=password, capture_output=True, text=True, env=env,
                          timeout=120)


def add_team(data: Path) -> None:
    """A writer (wendy) and an editor (ed), added with the users command."""
    for name, role in (("wendy", "writer"), ("ed", "editor")):
        r = users_cli(data, "add", name, "--role", role, "--password-stdin", password=PASSWORDS[name] + "\n")
        assert r.returncode == 0, r.stderr


@pytest.fixture(scope="session")
def team_app(tmp_path_factory):
    """The app as its own process with sign-in on (ECOMCOPY_AUTH=on, SmolLM2), with a writer and an editor:
    (url, data folder). Tests on it count what they change, since others share it."""
    data = tmp_path_factory.mktemp("team-data")
    add_team(data)
    with app_process(data, ECOMCOPY_AUTH="on") as url:
        yield url, data


def signed_in(url: str, name: str):
    """A gradio_client session signed in as `name` (of PASSWORDS)."""
    from gradio_client import Client

    return Client(url, auth=(name, PASSWORDS[name]), verbose=False)


@pytest.fixture(scope="session")
def app_url(pipeline):
    """The real app, launched once in-process on a free port."""
    import app

    port = free_port()
    demo = app.launch(port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    """A gradio_client session on the launched app, as another program would use it."""
    from gradio_client import Client

    return Client(app_url, verbose=False)


def api_generate(client, photo, keywords, n: int = 2, max_tokens: int = 40, reference_id: str = "") -> dict:
    """The /generate endpoint: `photo` is a path (or None), the other settings the app's defaults."""
    from gradio_client import handle_file

    return client.predict(handle_file(str(photo)) if photo else None, keywords, n, 0.8, 0.9, max_tokens, "modict",
                          reference_id, "", api_name="/generate")
