"""Thin-strip photos against the running app: refused with a plain message, and the server's peak memory.

A 20 x 20,000 PNG (3.6 KB) and an 8 x 2,500,000 PNG (4.9 KB) are small in area and on disk, but padding one
to a square used to cost 1.6 GB and a MemoryError. Each is sent to /generate, /approve and /bulk of the app
running as its own process (models loaded, no request served yet); the process's peak RSS (VmHWM) is reset
to its current RSS, then read after the requests.

    python bench/attack_photos.py [--out bench/results/security/thin_photos.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import zipfile
from pathlib import Path

from foundation import app_process, peak_rss_mb  # bench/ is this script's folder

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = [ROOT / "tests" / "corpus" / "images" / name for name in ("thin_20x20000.png", "thin_8x2500000.png")]


def refusal(call) -> str:
    """The message the caller sees ('' when the call was not refused)."""
    try:
        call()
    except Exception as e:  # noqa: BLE001 - gradio_client raises AppError with the server's message
        return str(e)
    return ""


def bulk_files(photo: Path, folder: Path) -> tuple[Path, Path]:
    csv_path, zip_path = folder / "products.csv", folder / "photos.zip"
    csv_path.write_text(f"id,keywords,image\nthin,\"shirt, white\",{photo.name}\n")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(photo, photo.name)
    return csv_path, zip_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "security" / "thin_photos.json"))
    args = ap.parse_args()
    from gradio_client import Client, handle_file

    from ecomcopy.catalog import Catalog
    from ecomcopy.config import DEMO_CATALOG_DB

    ref_id = Catalog(DEMO_CATALOG_DB).products(limit=1)[0].id
    result = {"keywords": ["shirt"], "reference": {"id": ref_id}, "drafts": ["A white shirt."], "writer": "modict"}
    work = Path(tempfile.mkdtemp(prefix="ecomcopy-attack-"))
    out: dict = {"photos": {p.name: p.stat().st_size for p in PHOTOS}, "requests": []}
    with app_process({**os.environ, "ECOMCOPY_DATA": str(work)}) as (proc, url, _):
        client = Client(url, verbose=False)
        # the peak so far is the models' load; reset it to the current RSS so that a rise shows (Linux >= 4.0)
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        out["peak_rss_mb_before"] = round(peak_rss_mb(proc.pid), 1)
        for photo in PHOTOS:
            csv_path, zip_path = bulk_files(photo, work)
            calls = {
                "/generate": lambda: client.predict(handle_file(str(photo)), "shirt, white", 2, 0.8, 0.9, 20, "modict", "", "", api_name="/generate"),
                "/approve": lambda: client.predict(result, "A white shirt.", "", handle_file(str(photo)), True, api_name="/approve"),
                "/bulk": lambda: client.predict(handle_file(str(csv_path)), handle_file(str(zip_path)), 2, api_name="/bulk"),
            }
            for endpoint, call in calls.items():
                message = refusal(call) if endpoint != "/bulk" else call()[0]["data"][0][2]  # bulk reports the row's error
                out["requests"].append({"photo": photo.name, "endpoint": endpoint, "message": message})
                print(photo.name, endpoint, message, flush=True)
        out["peak_rss_mb_after"] = round(peak_rss_mb(proc.pid), 1)
    out["peak_rss_rise_mb"] = round(out["peak_rss_mb_after"] - out["peak_rss_mb_before"], 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
