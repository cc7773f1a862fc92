"""Foundation benchmark: cold start, retrieval latency, generate latency, peak memory.

- cold start: `python app.py` as a subprocess until its page answers and its models have loaded (the page is
  served while they load), first with an empty cache folder
  (the LM is converted from its GGUF file) and then again with that cache;
- retrieval: encode photo + keywords, and catalog search alone, over the shipped demo catalog;
- generate: p50 of full requests (photo + keywords -> reference + 4 drafts of up to 60 tokens);
- peak RSS of the app process and of this process.

    python bench/foundation.py [--requests 10] [--skip-cold] [--warm-cache-only]

--warm-cache-only: only the start with the cache this machine already has (the case of a restarted app),
first once with no int8 weights kept (the first start after an install or upgrade packs and keeps them), then three times
with them, and the app's peak RSS; the results go to bench/results/performance/cold_start_<writer's LM>.json
(ECOMCOPY_LM picks the writer, as for the app).
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


READY_LINE = "models loaded: ready to write"  # app.launch logs it once the models have loaded


@contextmanager
def app_process(env: dict):
    """`python app.py` on a free port, yielded once its page answers and its models have loaded:
    (process, url, {"page_s": seconds until the page answered, "ready_s": seconds until the models were loaded})."""
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.time()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}/"
        times: dict[str, float] = {}
        try:
            while len(times) < 2:
                if proc.poll() is not None:
                    raise RuntimeError("app exited during start-up")
                if "page_s" not in times:
                    try:
                        urllib.request.urlopen(url, timeout=2)
                        times["page_s"] = time.time() - t0
                    except OSError:
                        pass
                if "ready_s" not in times:
                    log.seek(0)
                    if READY_LINE in log.read():
                        times["ready_s"] = time.time() - t0
                time.sleep(0.1)
            yield proc, url, times
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def peak_rss_mb(pid: int) -> float:
    hwm = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return int(hwm.split()[1]) / 1024


def cold_start(cache: Path, **env: str) -> tuple[float, float, float]:
    """Seconds from process start until the page answers and until the models are loaded; the app's peak RSS in MB."""
    with app_process({**os.environ, "ECOMCOPY_CACHE": str(cache), **env}) as (proc, _, times):
        return times["page_s"], times["ready_s"], peak_rss_mb(proc.pid)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--warm-cache-only", action="store_true")
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    out: dict = {}
    if args.warm_cache_only:
        from ecomcopy.config import cache_dir, writer_lm

        with tempfile.TemporaryDirectory() as int8:  # no int8 weights kept yet: the first start packs them
            _, packing, packing_rss = cold_start(cache_dir(), ECOMCOPY_INT8_CACHE=int8)
            runs = [cold_start(cache_dir(), ECOMCOPY_INT8_CACHE=int8) for _ in range(3)]
        out = {"command": "python bench/foundation.py --warm-cache-only", "lm": writer_lm(), "cores": os.cpu_count(),
               "first_start_packing_int8_models_loaded_s": round(packing, 1), "first_start_packing_int8_peak_rss_mb": round(packing_rss),
               "start_to_page_s": [round(s, 1) for s, _, _ in runs], "start_to_page_median_s": round(statistics.median(s for s, _, _ in runs), 1),
               "start_to_models_loaded_s": [round(r, 1) for _, r, _ in runs],
               "start_to_models_loaded_median_s": round(statistics.median(r for _, r, _ in runs), 1),
               "app_peak_rss_mb": [round(m) for _, _, m in runs]}
        (ROOT / "bench" / "results" / "performance" / f"cold_start_{writer_lm()}.json").write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps(out, indent=1))
        return
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache:
            out["cold_start_first_s"], out["cold_start_first_models_loaded_s"], _ = cold_start(Path(cache))
            out["cold_start_cached_s"], out["cold_start_cached_models_loaded_s"], out["app_peak_rss_mb"] = cold_start(Path(cache))
        print(json.dumps(out), flush=True)

    from ecomcopy.config import SamplingConfig
    from ecomcopy.images import load_image
    from ecomcopy.pipeline import Pipeline, PipelineConfig
    from ecomcopy.products import read_products

    pipe = Pipeline(PipelineConfig.of_writer())  # ECOMCOPY_LM's writer, as the app
    queries = []
    for source in ("hm", "ikea"):
        folder = Path(args.shared) / source
        for p in read_products(folder, split="dev").products[: args.requests // 2]:
            queries.append((load_image(folder / p.image), p.keywords))

    enc, search = [], []
    for img, kw in queries:
        t = time.perf_counter()
        iv = pipe.image_encoder.encode([img]).pooled[0].numpy()
        tv = pipe.text_encoder.encode([", ".join(kw)])[0]
        enc.append(time.perf_counter() - t)
        for _ in range(5):
            t = time.perf_counter()
            pipe.catalog.search(iv, tv, k=3)
            search.append(time.perf_counter() - t)
    out["catalog_products"] = len(pipe.catalog)
    out["encode_query_p50_ms"] = round(statistics.median(enc) * 1000, 1)
    out["search_p50_ms"] = round(statistics.median(search) * 1000, 2)

    gen = []
    pipe.suggest(*queries[0], SamplingConfig(n=4, max_new_tokens=60, seed=0))  # warm-up
    for i, (img, kw) in enumerate(queries):
        r = pipe.suggest(img, kw, SamplingConfig(n=4, max_new_tokens=60, seed=i))
        gen.append(r.seconds)
    out["lm"] = pipe.lm.name
    out["generate_4_drafts_p50_s"] = round(statistics.median(gen), 2)
    out["generate_4_drafts_max_s"] = round(max(gen), 2)
    out["bench_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["threads"] = pipe.cfg.threads
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
