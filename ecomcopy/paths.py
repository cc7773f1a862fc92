"""Where ecomcopy keeps its files: shipped assets in the repo, derived files in a cache folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"
DEMO_CATALOG_DB = ASSETS_DIR / "catalog" / "catalog.db"
DEFAULT_ADAPTER = ASSETS_DIR / "modict" / "adapter"  # .safetensors + .json, once trained


def cache_dir() -> Path:
    """Converted LMs and other derived files; `ECOMCOPY_CACHE` overrides `~/.cache/ecomcopy`."""
    root = Path(os.environ.get("ECOMCOPY_CACHE") or Path.home() / ".cache" / "ecomcopy").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def data_dir() -> Path:
    """Where the app keeps what users create (approvals, their photos, the working catalog).

    `ECOMCOPY_DATA` overrides; on a Hugging Face Space with persistent storage `/data` is used, since
    everything else there is wiped on restart; otherwise `~/.local/share/ecomcopy`.
    """
    env = os.environ.get("ECOMCOPY_DATA")
    if env:
        root = Path(env).expanduser()
    elif os.environ.get("SPACE_ID") and os.access("/data", os.W_OK):
        root = Path("/data/ecomcopy")
    else:
        root = Path.home() / ".local" / "share" / "ecomcopy"
    root.mkdir(parents=True, exist_ok=True)
    return root
