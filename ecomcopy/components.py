"""The page's file inputs, which check what they are sent before Gradio opens it.

A file input may be sent a URL instead of an upload (`FileData.path` = "http://..."), which Gradio would
download on the server for anyone; and a photo's pixels are decoded by Gradio before our handlers see them.
These components refuse the first and check the second's size from its header, with a plain message.
"""

from __future__ import annotations

import base64
import binascii
import io

import gradio as gr
import PIL.Image
from gradio_client.utils import is_http_url_like

from .errors import EcomcopyError
from .images import check_size, load_image

URL_REFUSED = "This app does not fetch files from URLs; upload the file itself."


def _local_only(path) -> None:
    if path is not None and is_http_url_like(str(path)):
        raise gr.Error(URL_REFUSED, print_exception=False)


def local_files_only(cls):
    """Class decorator for a file component: files must be uploaded to this server, never fetched from a URL by
    it. (A decorator, not a mixin: Gradio renders a template component by its first base class.)"""
    fetch_async, fetch = cls.async_move_resource_to_block_cache, cls.move_resource_to_block_cache

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        _local_only(url_or_file_path)
        return await fetch_async(self, url_or_file_path)

    def move_resource_to_block_cache(self, url_or_file_path):
        _local_only(url_or_file_path)
        return fetch(self, url_or_file_path)

    cls.async_move_resource_to_block_cache = async_move_resource_to_block_cache
    cls.move_resource_to_block_cache = move_resource_to_block_cache
    return cls


def _check_header(payload) -> None:
    """The photo's size from its header (a path or a data: URL), before anything decodes it."""
    url, path = getattr(payload, "url", None), getattr(payload, "path", None)
    try:
        if url and url.startswith("data:"):
            source = io.BytesIO(base64.b64decode(url.partition(",")[2], validate=False))
        elif path:
            source = path
        else:
            return
        with PIL.Image.open(source) as im:
            size = im.size
    except (OSError, ValueError, binascii.Error, PIL.Image.DecompressionBombError):
        return  # unreadable: preprocess below names the reason
    try:
        check_size(*size)
    except EcomcopyError as reason:
        raise gr.Error(str(reason), print_exception=False) from None


@local_files_only
class PhotoInput(gr.Image):
    """gr.Image whose upload errors become a plain message (gr.Image raises PIL's errors as they are)."""

    is_template = True  # render with the ordinary Image front end

    def preprocess(self, payload):  # type: ignore[override]
        if payload is not None:
            _check_header(payload)
        try:
            return super().preprocess(payload)  # with type="filepath": reads the header only, no decoding
        except Exception:  # noqa: BLE001 - any unreadable upload gets a clear answer
            path = getattr(payload, "path", None)
            if path:  # the pipeline's own checks name the reason (empty, truncated, too large...)
                try:
                    load_image(path)
                except EcomcopyError as reason:
                    raise gr.Error(str(reason), print_exception=False) from None
            raise gr.Error("That file is not an image we can read; upload a JPEG, PNG or WebP photo.", print_exception=False) from None


@local_files_only
class UploadFile(gr.File):
    """gr.File that takes uploads only."""

    is_template = True
