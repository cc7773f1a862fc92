import io

import pytest
from PIL import Image

from ecomcopy.errors import InputError
from ecomcopy.images import MAX_PIXELS, load_image


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_rgb_jpeg_roundtrip(tmp_path):
    p = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(p)
    img = load_image(p)
    assert img.mode == "RGB" and img.size == (64, 48)


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is text, not a photo")
    with pytest.raises(InputError, match="not an image"):
        load_image(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(p)


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(InputError, match="corrupt|truncated"):
        load_image(p)


def test_decompression_bomb_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 200  # just over the limit
    data = _png(Image.new("1", (side, side)))
    with pytest.raises(InputError, match="megapixel"):
        load_image(data)


def test_tiny_image_refused():
    with pytest.raises(InputError, match="pixels"):
        load_image(_png(Image.new("RGB", (1, 1))))


def test_rgba_becomes_rgb_on_white():
    img = load_image(_png(Image.new("RGBA", (32, 32), (0, 0, 0, 0))))
    assert img.mode == "RGB" and img.getpixel((5, 5)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (80, 40), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    p = tmp_path / "rotated.jpg"
    img.save(p, exif=exif.tobytes())
    assert load_image(p).size == (40, 80)
