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
