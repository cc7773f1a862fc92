"""Latency under load: the app as its own process, 16 gradio_client sessions x 3 generate requests each.

Every session sends its requests one after another (a copy editor waits for drafts before asking again),
all sessions at once. Requests are the app's defaults: photo + keywords, 4 drafts of up to 60 new tokens.
The model serves one request at a time (queue of 32), so latency is mostly waiting in the queue.

    python bench/load.py [--sessions 16] [--requests 3] [--out bench/results/performance/load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
from foundation import app_process, peak_rss_mb  # bench/ is this script's folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=16)
    ap.add_argument("--requests", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "load.json"))
    args = ap.parse_args()
    from gradio_client import Client, handle_file

    from ecomcopy.keywords import product_keywords
    from ecomcopy.products import read_products

    products = read_products(SHARED / "hm", split="dev").products[: args.sessions]
    env = {**os.environ, "ECOMCOPY_DATA": tempfile.mkdtemp(prefix="ecomcopy-load-")}
    with app_process(env) as (proc, url, _):
        latencies, errors, lock = [], [], threading.Lock()

        def session(i: int) -> None:
            p = products[i % len(products)]
            client = Client(url, verbose=False)
            kw = ", ".join(product_keywords(p))
            for _ in range(args.requests):
                t0 = time.perf_counter()
                try:
                    client.predict(handle_file(str(SHARED / "hm" / p.image)), kw, 4, 0.8, 0.9, 60, "modict", "", "",
                                   api_name="/generate")
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                except Exception as e:  # noqa: BLE001 - counted
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")

        t0 = time.perf_counter()
        threads = [threading.Thread(target=session, args=(i,)) for i in range(args.sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        rss = peak_rss_mb(proc.pid)
    xs = sorted(latencies)
    result = {
        "command": f"python bench/load.py --sessions {args.sessions} --requests {args.requests}",
        "machine": f"{os.cpu_count()} cores",
        "requests": args.sessions * args.requests,
        "answered": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "latency_p50_s": round(statistics.median(xs), 2) if xs else None,
        "latency_p95_s": round(xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], 2) if xs else None,
        "latency_max_s": round(xs[-1], 2) if xs else None,
        "wall_s": round(wall, 1),
        "throughput_requests_per_min": round(60 * len(latencies) / wall, 1),
        "app_peak_rss_mb": round(rss),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
