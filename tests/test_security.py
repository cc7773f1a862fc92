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
    from ecomcopy.config import data_dir

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


def _outside_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None when it has only loopback."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_listens_on_loopback_only(app_url):
    import socket
    from urllib.parse import urlparse

    port = urlparse(app_url).port
    assert _status(app_url) == 200
    ip = _outside_address()
    if ip is None:
        return  # nothing but loopback here: nothing else to connect from
    with socket.socket() as s:
        s.settimeout(5)
        assert s.connect_ex((ip, port)) != 0, f"the app answers on {ip}:{port}"


def test_all_interfaces_need_an_explicit_flag(tmp_path):
    import pytest

    from ecomcopy.config import AppConfig

    local = AppConfig.from_env({"ECOMCOPY_DATA": str(tmp_path)})
    assert local.listen_host("127.0.0.1", public=False) == "127.0.0.1"
    with pytest.raises(SystemExit, match="--public"):
        local.listen_host("0.0.0.0", public=False)
    assert local.listen_host("0.0.0.0", public=True) == "0.0.0.0"
    space = AppConfig.from_env({"ECOMCOPY_DATA": str(tmp_path), "SPACE_ID": "shop/ecomcopy"})
    assert space.listen_host("0.0.0.0", public=False) == "0.0.0.0"  # a Space's proxy
