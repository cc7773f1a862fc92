"""The app launched in-process and driven through gradio_client, as another program would use it."""

import socket

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from conftest import SHARED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(pipeline):
    import app

    port = _free_port()
    demo = app.launch(port=port, block=False)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


def _call(client, photo, keywords, n=2, max_tokens=40):
    return client.predict(photo, keywords, n, 0.8, 0.9, max_tokens, "", api_name="/generate")


def test_generate_endpoint_with_real_photo(client):
    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    ref_photo, title, ref_kw, ref_desc, drafts, chosen, result = _call(client, handle_file(str(photo)), "Leggings, Black, Solid", n=3)
    assert ref_desc and ref_kw and "similarity" in title
    assert result["reference"]["description"] == ref_desc
    assert 1 <= len(result["drafts"]) <= 3 and chosen == result["drafts"][0]


@pytest.mark.parametrize(
    "make_photo, keywords, message",
    [
        (lambda tmp: _write(tmp / "a.jpg", b"plain text"), "dress", "not an image"),
        (lambda tmp: _write(tmp / "e.png", b""), "dress", "image"),
        (lambda tmp: _bomb(tmp), "dress", "megapixel"),
        (lambda tmp: None, "", "photo or type"),
        (lambda tmp: None, "x" * 501, "500"),
    ],
)
def test_bad_input_clear_message_and_server_keeps_serving(client, tmp_path, make_photo, keywords, message):
    path = make_photo(tmp_path)
    with pytest.raises(Exception) as err:
        _call(client, handle_file(str(path)) if path else None, keywords)
    assert message in str(err.value) and "Traceback" not in str(err.value)
    # still serving: a good keywords-only request right after succeeds
    assert _call(client, None, "mug, white, ceramic", n=1, max_tokens=20)[6]["drafts"] is not None


def _write(path, data):
    path.write_bytes(data)
    return path


def _bomb(tmp):
    p = tmp / "bomb.png"
    Image.new("1", (5000, 4500)).save(p)
    return p
