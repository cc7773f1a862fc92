"""The bad-input corpus (tests/corpus, made by make_corpus.py) through the UI functions, the API and the CLI.

Every item gets a plain message (never a traceback), the app keeps serving, and nothing is written half-way.
"""

import csv
import json
import re
from functools import partial
import sqlite3

import gradio as gr
import numpy as np
import pytest
from gradio_client import handle_file

import app
from ecomcopy.write_view import WriteView
from conftest import ROOT, api_generate, signed_in
from ecomcopy.__main__ import main as cli
from ecomcopy.errors import InputError
from ecomcopy.images import load_image

CORPUS = ROOT / "tests" / "corpus"
IMAGES = CORPUS / "images"
BULK = CORPUS / "bulk"
KEYWORDS = json.loads((CORPUS / "keywords.json").read_text())

# image -> what the message must say, or None when the photo is usable
IMAGE_CASES = {
    "text_named.jpg": "not an image",
    "empty.jpg": "empty",
    "truncated.jpg": "truncated",
    "one_pixel.png": "1x1",
    "huge_10000x10000.png": "megapixels",
    "thin_20x20000.png": "at most 10,000 pixels",
    "thin_8x2500000.png": "at most 10,000 pixels",
    "drawing.svg": "not an image",
    "cmyk.jpg": None,
    "grey_16bit.png": None,
    "rgba.png": None,
    "animated.gif": None,
    "exif_rotated.jpg": None,
}
BAD_IMAGES = [k for k, v in IMAGE_CASES.items() if v]
GOOD_IMAGES = [k for k, v in IMAGE_CASES.items() if not v]
PHOTO = IMAGES / "cmyk.jpg"  # a usable photo for the keyword cases
RESULT = WriteView.names().index("result")  # where the page's result JSON is among the Write tab's outputs


def _ui_write(photo, keywords, n=2, max_tokens=20):
    """The Write button's handler, run to the end; returns its last output."""
    *_, last = app.write(str(photo) if photo else None, keywords, n, 0.8, 0.9, max_tokens)
    return last


_api_generate = partial(api_generate, max_tokens=20)


def _stored(pipeline) -> tuple:
    """What an approval would write: approval rows, catalog products, photo files."""
    photos = sorted(p.name for p in pipeline.approvals.photo_dir.iterdir())
    return len(pipeline.approvals.list("")), len(pipeline.catalog), photos


def _assert_plain(err: BaseException, message: str) -> None:
    text = str(err)
    assert message in text, text
    assert "Traceback" not in text and 'File "' not in text


def _assert_drafts_are_text(drafts: list[str]) -> None:
    for d in drafts:
        assert not re.search(r"<\s*/?\s*[a-z!]", d, re.I), d  # no markup survives, whatever the keywords held
        assert not any(ord(ch) < 32 for ch in d), d
        assert not re.search(r"\b(poem|cats?)\b", d, re.I), d  # the injected instruction was not followed


# -- images ---------------------------------------------------------------------------------------
def test_corpus_images_load_or_say_why():
    for name, message in IMAGE_CASES.items():
        if message:
            with pytest.raises(InputError, match=message):
                load_image(IMAGES / name)
        else:
            assert load_image(IMAGES / name).mode == "RGB"
    grey = np.asarray(load_image(IMAGES / "grey_16bit.png"))
    assert grey.std() > 20  # 16-bit levels scaled to 8 bits, not clipped to a white square
    assert load_image(IMAGES / "exif_rotated.jpg").size == (160, 100)  # stored 100x160, EXIF says turn it
    rgba = np.asarray(load_image(IMAGES / "rgba.png"))
    assert rgba[:, 0].mean() > 250  # the transparent side is white, not black


def test_corpus_images_through_ui_and_api(client, pipeline):
    for name in BAD_IMAGES:
        with pytest.raises(gr.Error) as err:
            _ui_write(IMAGES / name, "Dress, Black")
        _assert_plain(err.value, IMAGE_CASES[name])
        with pytest.raises(Exception) as err:
            _api_generate(client, IMAGES / name, "Dress, Black")
        _assert_plain(err.value, IMAGE_CASES[name])
    for name in GOOD_IMAGES:
        ui = _ui_write(IMAGES / name, "Dress, Black")
        assert ui[RESULT]["drafts"], name  # the result JSON the page keeps
        assert _api_generate(client, IMAGES / name, "Dress, Black")["drafts"], name


def test_approving_with_a_bad_photo_writes_nothing(client, pipeline):
    result = _api_generate(client, PHOTO, "Dress, Black", n=1)
    before = _stored(pipeline)
    for name in BAD_IMAGES:
        with pytest.raises(Exception) as err:
            client.predict(result, "A black dress.", "", handle_file(str(IMAGES / name)), True, api_name="/approve")
        _assert_plain(err.value, IMAGE_CASES[name])
    assert _stored(pipeline) == before
    with sqlite3.connect(pipeline.catalog.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- keywords -------------------------------------------------------------------------------------
# a keyword box that is refused, and why; an instruction to the model is a sentence, not a keyword
REFUSED_KEYWORDS = {"long_10000_chars": "under 500", "prompt_injection": "reads like a sentence"}


def test_corpus_keywords_through_ui_and_api(client):
    for name, keywords in KEYWORDS.items():
        if name in REFUSED_KEYWORDS:
            for call in (lambda: _ui_write(PHOTO, keywords), lambda: _api_generate(client, PHOTO, keywords)):
                with pytest.raises(Exception) as err:
                    call()
                _assert_plain(err.value, REFUSED_KEYWORDS[name])
            continue
        ui = _ui_write(PHOTO, keywords)[RESULT]
        api = _api_generate(client, PHOTO, keywords)
        for result in (ui, api):
            assert result["drafts"], name
            _assert_drafts_are_text(result["drafts"])
            assert all("<" not in k for k in result["keywords"]) or name == "html_and_script"  # kept as typed, shown as text
    for keywords in (KEYWORDS["empty"], KEYWORDS["only_punctuation"]):  # and no photo: nothing to go on
        with pytest.raises(gr.Error) as err:
            _ui_write(None, keywords)
        _assert_plain(err.value, "photo or type")
    assert _api_generate(client, None, "mug, white", n=1)["drafts"]  # still serving


# -- bulk -------------------------------------------------------------------------------------------
ROW_STATUS = {
    "ok-1": ("ok", ""), "up": ("error", "outside the ZIP"), "abs": ("error", "outside the ZIP"),
    "win": ("error", "outside the ZIP"), "escape": ("error", "outside the ZIP"), "notes": ("error", "not an image"),
    "gone": ("error", "not in the ZIP"), "nokw": ("error", "empty keywords"), "script": ("ok", ""), "formula": ("ok", ""),
}


def _check_rows(results: list[tuple[str, str, str]]) -> None:
    assert [r[0] for r in results] == ["ok-1", "ok-1", "up", "abs", "win", "escape", "notes", "gone", "nokw", "script", "formula"]
    assert results[1][1] == "error" and "duplicate id" in results[1][2]
    for rid, status, message in results[:1] + results[2:]:
        want, says = ROW_STATUS[rid]
        assert status == want and says in message, (rid, status, message)


def test_bulk_corpus_through_ui_and_api(client, tmp_path):
    table, out, summary = app.bulk(str(BULK / "rows.csv"), str(BULK / "photos.zip"), 1)
    _check_rows([(r[0], r[1], r[2]) for r in table])
    assert summary.startswith("3 of 11")
    cells = [c for row in csv.reader(open(out, encoding="utf-8")) for c in row]
    assert not any(c.startswith("=") for c in cells)  # a spreadsheet would run it
    api_table, _, _ = client.predict(handle_file(str(BULK / "rows.csv")), handle_file(str(BULK / "photos.zip")), 1, api_name="/bulk")
    api_rows = api_table["data"] if isinstance(api_table, dict) else api_table
    _check_rows([(r[0], r[1], r[2]) for r in api_rows])
    bad = {
        "missing_columns.csv": "lacks the column", "wrong_encoding.csv": "UTF-8", "rows_100000.csv": "more than 5,000",
    }
    for name, message in bad.items():
        with pytest.raises(gr.Error) as err:
            app.bulk(str(BULK / name), str(BULK / "photos.zip"), 1)
        _assert_plain(err.value, message)
    with pytest.raises(gr.Error) as err:
        app.bulk(str(BULK / "rows.csv"), str(BULK / "not_a_zip.zip"), 1)
    _assert_plain(err.value, "not a ZIP")
    bomb_csv = tmp_path / "bomb.csv"
    bomb_csv.write_text("id,keywords,image\nb1,dress,good.jpg\nb2,dress,small.jpg\n")
    table, _, _ = app.bulk(str(bomb_csv), str(BULK / "zip_bomb.zip"), 1)
    assert table[0][1] == "error" and "over 25 MB" in table[0][2]  # never unpacked: its header says 200 MB
    assert table[1][1] == "error" and "ZIP bomb" in table[1][2]


# -- command line -----------------------------------------------------------------------------------
def test_cli_bad_photos_and_keywords(capsys):
    for name in BAD_IMAGES:
        assert cli(["generate", "--image", str(IMAGES / name), "--keywords", "dress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and IMAGE_CASES[name] in err and "Traceback" not in err
    assert cli(["generate", "--keywords", KEYWORDS["long_10000_chars"]]) == 2
    assert "under 500" in capsys.readouterr().err
    assert cli(["generate", "--keywords", KEYWORDS["prompt_injection"]]) == 2
    assert "reads like a sentence" in capsys.readouterr().err
    assert cli(["generate", "--keywords", KEYWORDS["only_punctuation"]]) == 2
    assert "keywords" in capsys.readouterr().err
    for name, message in {"missing_columns.csv": "lacks the column", "wrong_encoding.csv": "UTF-8", "rows_100000.csv": "more than 5,000"}.items():
        assert cli(["bulk", "--csv", str(BULK / name), "--zip", str(BULK / "photos.zip"), "--out", "/tmp/x.csv"]) == 2
        assert message in capsys.readouterr().err
    assert cli(["bulk", "--csv", str(BULK / "rows.csv"), "--zip", str(BULK / "not_a_zip.zip"), "--out", "/tmp/x.csv"]) == 2
    assert "not a ZIP" in capsys.readouterr().err


def test_cli_bulk_corpus_and_hostile_keywords(tmp_path, capsys):
    """One CLI run (one model load) over every bulk row and every usable photo and keyword box of the corpus."""
    import shutil
    import zipfile

    shutil.copy(BULK / "photos.zip", tmp_path / "photos.zip")
    with zipfile.ZipFile(tmp_path / "photos.zip", "a") as z:
        for name in IMAGE_CASES:
            z.write(IMAGES / name, f"corpus/{name}")
    rows = list(csv.reader(open(BULK / "rows.csv", encoding="utf-8")))
    rows += [[f"img-{n}", "Dress, Black", f"corpus/{n}"] for n in IMAGE_CASES]
    rows += [[f"kw-{k}", v, "corpus/cmyk.jpg"] for k, v in KEYWORDS.items()]
    with open(tmp_path / "rows.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "results.csv"
    assert cli(["bulk", "--csv", str(tmp_path / "rows.csv"), "--zip", str(tmp_path / "photos.zip"), "--out", str(out),
                "--n", "1", "--max-tokens", "20", "--seed", "0"]) == 0
    results = {r["id"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    for name, message in IMAGE_CASES.items():
        r = results[f"img-{name}"]
        assert (r["status"] == "error" and message in r["message"]) if message else r["status"] == "ok", (name, r)
    for name in KEYWORDS:
        r = results[f"kw-{name}"]
        if name in ("empty", "only_punctuation"):
            assert r["status"] == "error" and "keywords" in r["message"]
        elif name in REFUSED_KEYWORDS:
            assert r["status"] == "error" and REFUSED_KEYWORDS[name] in r["message"]
        else:
            assert r["status"] == "ok", (name, r)
            _assert_drafts_are_text(r["drafts"].split(" || "))
    assert "have drafts" in capsys.readouterr().out


def test_cli_index_reports_bad_catalog_lines_and_keeps_the_good(tmp_path, capsys):
    from ecomcopy.catalog import Catalog

    db = tmp_path / "catalog.db"
    assert cli(["index", "--data", str(CORPUS / "catalog"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    for said in ("line 2:", "line 3:", "line 4:", "good-a: duplicate id", "up: image", "abs: image", "outside the product folder",
                 "notes: notes.jpg is not an image"):
        assert said in out, (said, out)
    assert sorted(p.id for p in Catalog(db).products()) == ["good-a", "good-b", "latin1"]
    assert cli(["index", "--data", str(CORPUS / "images"), "--db", str(db)]) == 2  # not a product folder
    assert "products.jsonl" in capsys.readouterr().err


# -- the same through the API of an app with sign-in on ----------------------------------------------
def _stored_in(data) -> tuple:
    with sqlite3.connect(data / "catalog.db") as db:
        counts = db.execute("SELECT (SELECT COUNT(*) FROM approvals), (SELECT COUNT(*) FROM products)").fetchone()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return counts, sorted(p.name for p in (data / "photos").iterdir())


def test_the_corpus_through_the_api_with_sign_in(team_app):
    """Photos, keywords, approvals and bulk files of the corpus sent by a signed-in editor: the same plain
    messages, nothing written by a refused call, and the app still serving."""
    url, data = team_app
    client = signed_in(url, "ed")
    result = _api_generate(client, PHOTO, "Dress, Black", n=1)
    before = _stored_in(data)
    for name in BAD_IMAGES:
        with pytest.raises(Exception) as err:
            _api_generate(client, IMAGES / name, "Dress, Black")
        _assert_plain(err.value, IMAGE_CASES[name])
        with pytest.raises(Exception) as err:
            client.predict(result, "A black dress.", "", handle_file(str(IMAGES / name)), True, api_name="/approve")
        _assert_plain(err.value, IMAGE_CASES[name])
    for name, message in REFUSED_KEYWORDS.items():
        with pytest.raises(Exception) as err:
            _api_generate(client, PHOTO, KEYWORDS[name])
        _assert_plain(err.value, message)
    assert _stored_in(data) == before
    api_table, _, _ = client.predict(handle_file(str(BULK / "rows.csv")), handle_file(str(BULK / "photos.zip")), 1, api_name="/bulk")
    _check_rows([(r[0], r[1], r[2]) for r in (api_table["data"] if isinstance(api_table, dict) else api_table)])
    _assert_drafts_are_text(_api_generate(client, PHOTO, KEYWORDS["html_and_script"])["drafts"])  # still serving
