"""What the running app lets a browser fetch: catalog and approved photos only."""

import urllib.error
import urllib.request

from conftest import ROOT


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_file_access_is_limited_to_photo_folders(app_url, pipeline):
    from ecomcopy.paths import data_dir

    photo = next((ROOT / "assets" / "catalog" / "images").iterdir())
    assert _status(f"{app_url}gradio_api/file={photo}") == 200
    refused = [
        "/etc/passwd",
        ROOT / "app.py",
        ROOT / "assets" / "catalog" / "catalog.db",
        data_dir() / "catalog.db",  # approvals live here
        f"{photo.parent}/../catalog.db",
        f"{data_dir() / 'photos'}/../catalog.db",
    ]
    for path in refused:
        assert _status(f"{app_url}gradio_api/file={path}") in (403, 404), path
