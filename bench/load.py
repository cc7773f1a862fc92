"""Latency under load, batching on and off in one run: the app as its own process, N gradio_client sessions x 3
generate requests each, for N = 1, 4, 8, 16 concurrent copy editors.

Every session sends its requests one after another (a copy editor waits for drafts before asking again), all
sessions at once. Requests are the app's defaults: photo + merchant keywords of an H&M dev product, 4 drafts
shown. "on" is the app as shipped (`scheduler.py`: concurrent requests' drafts decode in one batch of up to
BATCH_ROWS rows); "off" is ECOMCOPY_BATCH_ROWS=0 (one request at a time, the path before batching).

First words: the client's wait minus the server's time for the request plus the server's time to the first
token (the /generate endpoint answers once, at the end). Content rules: every draft is checked for what the
decoding rules forbid (an 8-word run of its reference, a 4-word run said twice) so that batching is seen to keep
them.

    python bench/load.py [--levels 1 4 8 16] [--requests 3] [--paths on off] [--batch-rows N] [--out bench/results/performance/load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
from foundation import app_process, peak_rss_mb  # bench/ is this script's folder


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, round(q * (len(xs) - 1)))], 2) if xs else None


def _repeats(text: str, run: int = 4) -> bool:
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i: i + run]) for i in range(len(words) - run + 1)]
    return len(grams) != len(set(grams))


def level(url: str, products: list, sessions: int, requests: int) -> dict:
    """`sessions` clients at once, each sending `requests` default requests one after another."""
    from gradio_client import Client, handle_file

    from ecomcopy.keywords import product_keywords

    rows, errors, lock = [], [], threading.Lock()

    def session(i: int) -> None:
        p = products[i % len(products)]
        client = Client(url, verbose=False)
        kw = ", ".join(product_keywords(p))
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                r = client.predict(handle_file(str(SHARED / "hm" / p.image)), kw, 4, 0.8, 0.9, 60, "modict", "", "",
                                   api_name="/generate")
                wait = time.perf_counter() - t0
                first = wait - r["seconds"] + r["first_words_seconds"] if r.get("first_words_seconds") is not None else None
                with lock:
                    rows.append({"latency": wait, "first_words": first, "drafts": r["drafts"], "reviews": r["reviews"]})
            except Exception as e:  # noqa: BLE001 - counted
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = [r["latency"] for r in rows]
    first = [r["first_words"] for r in rows if r["first_words"] is not None]
    drafts = [d for r in rows for d in r["drafts"]]
    reviews = [v for r in rows for v in r["reviews"]]
    return {
        "sessions": sessions, "requests": sessions * requests, "answered": len(rows), "errors": len(errors), "error_examples": errors[:3],
        "requests_per_min": round(60 * len(rows) / wall, 2), "wall_s": round(wall, 1),
        "latency_p50_s": _pct(lat, 0.5), "latency_p95_s": _pct(lat, 0.95), "latency_max_s": _pct(lat, 1.0),
        "first_words_p50_s": _pct(first, 0.5), "first_words_p95_s": _pct(first, 0.95),
        "drafts": len(drafts), "drafts_per_request": round(len(drafts) / max(1, len(rows)), 2),
        "drafts_copying_reference": sum(bool(v.get("copied")) for v in reviews),
        "drafts_repeating_4_words": sum(_repeats(d) for d in drafts),
        "mean_keyword_coverage": round(statistics.mean(v["coverage"] for v in reviews), 3) if reviews else None,
    }


def main() -> None:
    from ecomcopy.config import BATCH_ROWS

    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--paths", nargs="+", default=["on", "off"], choices=["on", "off"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "load.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "load_concurrency.png"))
    ap.add_argument("--batch-rows", type=int, default=None, help="the most rows of the 'on' path (default: the shipped BATCH_ROWS)")
    args = ap.parse_args()
    from ecomcopy.products import read_products

    rows = BATCH_ROWS if args.batch_rows is None else args.batch_rows

    products = read_products(SHARED / "hm", split="dev").products[: max(args.levels)]
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.is_file() else {}
    result |= {"command": f"python bench/load.py --levels {' '.join(map(str, args.levels))} --requests {args.requests}",
               "machine": f"{os.cpu_count()} cores", "lm": os.environ.get("ECOMCOPY_LM", "default writer"), "batch_rows_on": rows}
    for path in args.paths:
        env = {**os.environ, "ECOMCOPY_DATA": tempfile.mkdtemp(prefix="ecomcopy-load-"),
               "ECOMCOPY_BATCH_ROWS": str(rows if path == "on" else 0)}
        with app_process(env) as (proc, url, _):
            level(url, products, 1, 1)  # warm: the first request pays for lazy loads
            runs = []
            for n in args.levels:
                runs.append(level(url, products, n, args.requests))
                print(path, json.dumps(runs[-1]), flush=True)
            result[path] = {"levels": runs, "app_peak_rss_mb": round(peak_rss_mb(proc.pid))}
        out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, Path(args.plot))
    print(json.dumps(result, indent=1))


def plot(result: dict, path: Path) -> None:
    """Latency (p50 and p95) and requests per minute against concurrent editors, batching on and off."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, rate) = plt.subplots(1, 2, figsize=(10, 4))
    for name, style in (("on", "-"), ("off", "--")):
        runs = result.get(name, {}).get("levels", [])
        x = [r["sessions"] for r in runs]
        lat.plot(x, [r["latency_p50_s"] for r in runs], "o" + style, label=f"batching {name}: p50")
        lat.plot(x, [r["latency_p95_s"] for r in runs], "^" + style, label=f"batching {name}: p95")
        rate.plot(x, [r["requests_per_min"] for r in runs], "o" + style, label=f"batching {name}")
    lat.set(xlabel="concurrent editors (3 requests each)", ylabel="seconds per request", title="Latency")
    rate.set(xlabel="concurrent editors (3 requests each)", ylabel="requests per minute", title="Throughput")
    rate.set_ylim(bottom=0)  # the runs vary by about 30%: a zoomed axis would show noise as a trend
    for ax in (lat, rate):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{result.get('lm')}, {result.get('machine')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
