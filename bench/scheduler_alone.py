"""One request alone, through the batching scheduler and without it, in one process, alternating: does the
scheduler (a step per model-thread task, the batch's mask and positions, per-request groups) cost a lone request
anything? The default writer, shipped decoding, H&M dev products, each request seeded so both paths write the same.

    python bench/scheduler_alone.py [--products 10] [--out bench/results/performance/scheduler_alone.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "scheduler_alone.json"))
    args = ap.parse_args()
    from ecomcopy.config import BATCH_ROWS, SamplingConfig
    from ecomcopy.keywords import product_keywords
    from ecomcopy.pipeline import Pipeline, PipelineConfig
    from ecomcopy.products import read_products

    pipe = Pipeline(PipelineConfig.of_writer(batch_rows=BATCH_ROWS))
    products = read_products(SHARED / "hm", split="dev").products[: args.products]
    pipe.suggest((SHARED / "hm" / products[0].image).read_bytes(), ", ".join(product_keywords(products[0])))  # warm
    times = {"scheduler": [], "alone": []}
    same = 0
    for i, p in enumerate(products):
        photo, kw = (SHARED / "hm" / p.image).read_bytes(), ", ".join(product_keywords(p))
        drafts = {}
        for path in (("scheduler", "alone") if i % 2 == 0 else ("alone", "scheduler")):
            pipe.scheduler.max_rows = BATCH_ROWS if path == "scheduler" else 0
            t0 = time.perf_counter()
            drafts[path] = pipe.suggest(photo, kw, SamplingConfig(seed=i)).drafts
            times[path].append(time.perf_counter() - t0)
        same += drafts["scheduler"] == drafts["alone"]
    result = {"command": "python bench/scheduler_alone.py", "products": len(products), "batch_rows": BATCH_ROWS,
              "same_drafts": same,
              **{f"{k}_p50_s": round(statistics.median(v), 2) for k, v in times.items()},
              **{f"{k}_mean_s": round(statistics.mean(v), 2) for k, v in times.items()},
              "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
