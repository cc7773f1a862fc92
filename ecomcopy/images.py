"""Opening user photos safely: every way a file can be unusable becomes an InputError with a plain message."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

MAX_PIXELS = 20_000_000  # decompression-bomb guard: a 20-megapixel photo is larger than any product shot needs
MAX_SIDE = 10_000  # per side: a thin strip is small in area but padding it to a square is not (20 x 20,000 -> 1.2 GB)
MAX_ASPECT = 10  # long side / short side; product shots are at most ~3:1
MAX_FILE_BYTES = 25 * 1024 * 1024

# PIL warns at MAX_IMAGE_PIXELS and raises at twice that; we check ourselves before decoding.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def check_size(w: int, h: int) -> None:
    """Refuse a photo by its header's size, before it is decoded or padded."""
    if w < 8 or h < 8:
        raise InputError(f"The photo is only {w}x{h} pixels; upload a real product photo.")
    if w * h > MAX_PIXELS:
        raise InputError(f"The photo is {w}x{h} pixels, over the {MAX_PIXELS // 1_000_000}-megapixel limit; resize it first.")
    if max(w, h) > MAX_SIDE:
        raise InputError(f"The photo is {w}x{h} pixels; each side may be at most {MAX_SIDE:,} pixels. Resize it first.")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise InputError(f"The photo is {w}x{h} pixels, more than {MAX_ASPECT} times as long as it is wide; "
                         "crop it to the product first.")


def load_image(source: str | Path | bytes | Image.Image) -> Image.Image:
    """Open, validate and normalise a photo to RGB with its EXIF orientation applied."""
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
            label = "the uploaded file"
        else:
            path = Path(source)
            label = path.name
            if not path.is_file():
                raise InputError(f"No file at {path}.")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise InputError(f"{label} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; upload a smaller photo.")
            data = path.read_bytes()
        if not data:
            raise InputError(f"{label} is empty (0 bytes); upload a JPEG, PNG or WebP photo.")
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise InputError(f"{label} is not an image we can read; upload a JPEG, PNG or WebP photo.") from None
        except Image.DecompressionBombError:
            raise InputError(f"{label} is too large (over {MAX_PIXELS // 1_000_000} megapixels).") from None
    check_size(*img.size)  # from the header: nothing is decoded yet
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        if img.mode.startswith("I"):  # 16-bit greyscale: Pillow's convert would clip it to white
            a = np.asarray(img, dtype=np.float32)
            img = Image.fromarray((a / 257 if a.max() > 255 else a).clip(0, 255).astype(np.uint8), "L")
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, img)  # product shots: transparent means white
        return img.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"The photo could not be decoded (corrupt or truncated file: {e}).") from None
