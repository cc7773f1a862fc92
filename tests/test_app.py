"""The app launched in-process and driven through gradio_client, as another program would use it."""

import pytest
from gradio_client import handle_file
from PIL import Image

from conftest import SHARED
from conftest import api_generate as _call


def test_generate_then_approve_through_the_api(client, pipeline):
    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    result = _call(client, photo, "Leggings, Black, Solid", n=3)
    assert result["reference"]["description"] and len(result["alternatives"]) == 2
    assert 1 <= len(result["drafts"]) <= 3 and len(result["reviews"]) == len(result["drafts"])
    assert {"covered", "missing", "copied", "words", "coverage"} <= set(result["reviews"][0])
    # another of the similar products as the reference
    alt = result["alternatives"][0]["id"]
    again = _call(client, photo, "Leggings, Black, Solid", n=1, reference_id=alt)
    assert again["reference"]["id"] == alt
    final = result["drafts"][0] + " Edited by a copy editor."
    approval = client.predict(result, final, result["drafts"][0], handle_file(str(photo)), True, api_name="/approve")
    assert approval["final"] == final and approval["catalog_product_id"] == f"approved-{approval['id']}"
    stored = pipeline.approvals.get(approval["id"])
    assert stored.reference["id"] == result["reference"]["id"] and stored.drafts == result["drafts"]
    assert pipeline.catalog.get(approval["catalog_product_id"]).description == final
    pipeline.approvals.delete(approval["id"])  # leave the session's catalog as it was


def test_approve_without_drafts_is_refused(client):
    with pytest.raises(Exception) as err:
        client.predict({}, "Some text.", "", None, True, api_name="/approve")
    assert "Write drafts first" in str(err.value) and "Traceback" not in str(err.value)


@pytest.mark.parametrize(
    "make_photo, keywords, message",
    [
        (lambda tmp: _write(tmp / "a.jpg", b"plain text"), "dress", "not an image"),
        (lambda tmp: _write(tmp / "e.png", b""), "dress", "empty (0 bytes)"),
        (lambda tmp: _bomb(tmp), "dress", "megapixel"),
        (lambda tmp: None, "", "photo or type"),
        (lambda tmp: None, "x" * 501, "500"),
    ],
)
def test_bad_input_clear_message_and_server_keeps_serving(client, tmp_path, make_photo, keywords, message):
    path = make_photo(tmp_path)
    with pytest.raises(Exception) as err:
        _call(client, path, keywords)
    assert message in str(err.value) and "Traceback" not in str(err.value)
    # still serving: a good keywords-only request right after succeeds
    assert _call(client, None, "mug, white, ceramic", n=1, max_tokens=20)["drafts"] is not None


def _write(path, data):
    path.write_bytes(data)
    return path


def _bomb(tmp):
    p = tmp / "bomb.png"
    Image.new("1", (5000, 4500)).save(p)
    return p
