"""Page layout benchmark: what the Write tab asks of a merchant's eyes and thumbs, in Chromium, on the real app.

At a desktop (1280 x 900) and a phone (390 x 844) viewport: one product written (photo, keywords, Enter), then
the page's height, how far below the Write button the drafts start, whether anything scrolls sideways, the widest
draft line, and the seconds from Enter to the first draft shown and to the finished round; then Regenerate, and
how many drafts the list holds (both rounds).

    python bench/page_layout.py [--lm smollm2-135m]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"
DONE = "() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')"
FIRST = "() => document.querySelectorAll('#drafts label').length > 0"
ROUND_2 = "() => (document.querySelector('#status textarea')?.value || '').includes('Earlier rounds are below')"


def measure(page, url: str, width: int, height: int) -> dict:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#photo input[type=file]", state="attached")
    page.locator("#photo input[type=file]").set_input_files(str(PHOTO))
    page.locator("#keywords textarea").fill("mug, white, stoneware")
    t0 = time.time()
    page.locator("#keywords textarea").press("Enter")
    page.wait_for_function(FIRST)
    first = time.time() - t0
    page.wait_for_function(DONE)
    done = time.time() - t0
    button, drafts = page.locator("#write").bounding_box(), page.locator("#drafts").bounding_box()
    out = {
        "viewport": f"{width}x{height}",
        "page_height_px": page.evaluate("() => document.documentElement.scrollHeight"),
        "sideways_scroll_px": page.evaluate("() => document.documentElement.scrollWidth") - width,
        "drafts_below_write_button_px": round(drafts["y"] - (button["y"] + button["height"])),
        "drafts_top_in_screens": round(drafts["y"] / height, 2),
        "drafts_width_px": round(drafts["width"]),
        "first_draft_shown_s": round(first, 2),
        "round_done_s": round(done, 2),
    }
    page.locator("#regenerate").click()
    page.wait_for_function(ROUND_2)
    out["drafts_listed_after_regenerate"] = page.locator("#drafts label").count()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=None, help="ECOMCOPY_LM for the app (default: the shipped default writer)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ux" / "page_layout.json"))
    args = ap.parse_args()
    os.environ["ECOMCOPY_DATA"] = tempfile.mkdtemp(prefix="ecomcopy-bench-")  # a throw-away working catalog
    if args.lm:
        os.environ["ECOMCOPY_LM"] = args.lm
    sys.path.insert(0, str(ROOT))
    import app
    from playwright.sync_api import sync_playwright

    demo = app.launch(port=7871, block=False)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.set_default_timeout(300_000)
            rows = [measure(page, "http://127.0.0.1:7871/", w, h) for w, h in ((1280, 900), (390, 844))]
            browser.close()
    finally:
        demo.close()
    from ecomcopy.config import AppConfig

    result = {"lm": AppConfig.from_env().lm, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
