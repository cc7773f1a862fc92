"""Workflow benchmark: what a copy editor waits for, on the app's own pipeline (working catalog, default writer).

- write: time until the references are shown, until the first words of a draft are visible (streamed),
  and until all drafts and their review are done (4 drafts of up to 60 new tokens);
- approve: time to store an approval that joins the catalog (photo copy, vectors, one transaction);
- bulk: products per minute through the bulk path (CSV + ZIP), 2 drafts per product.

    python bench/workflow.py [--products 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
from bulk import write_bulk_job  # bench/bulk.py, this script's neighbour


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10, help="H&M dev products to run")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "workflow.json"))
    args = ap.parse_args()
    os.environ["ECOMCOPY_DATA"] = tempfile.mkdtemp(prefix="ecomcopy-bench-")  # approvals go to a throw-away copy

    from ecomcopy.bulk import PhotoArchive, read_rows, run_bulk
    from ecomcopy.handlers import get_pipeline
    from ecomcopy.config import SamplingConfig
    from ecomcopy.keywords import product_keywords
    from ecomcopy.pipeline import Progress
    from ecomcopy.products import read_products

    pipe = get_pipeline()
    products = [p for p in read_products(SHARED / "hm", split="dev").products][: args.products]
    pipe.suggest(None, "warm up", SamplingConfig(n=1, max_new_tokens=8, seed=0))

    t_ref, t_first, t_done, t_approve = [], [], [], []
    for i, p in enumerate(products):
        kw = product_keywords(p)
        photo = SHARED / "hm" / p.image
        t0 = time.perf_counter()
        first = None
        for step in pipe.suggest_stream(photo, kw, SamplingConfig(n=4, max_new_tokens=60, seed=i)):
            now = time.perf_counter() - t0
            if isinstance(step, Progress):
                if len(t_ref) == i:  # the first step of this request: the references
                    t_ref.append(now)
                if first is None and any(step.partial):
                    first = now
        t_done.append(time.perf_counter() - t0)
        t_first.append(first if first is not None else t_done[-1])
        t1 = time.perf_counter()
        pipe.approve(step.to_dict(), step.drafts[0] if step.drafts else "Approved.", step.drafts[0] if step.drafts else "", photo)
        t_approve.append(time.perf_counter() - t1)

    csv_path, zip_path = write_bulk_job(products)
    rows = read_rows(csv_path)
    archive = PhotoArchive(zip_path)
    t0 = time.perf_counter()
    results = list(run_bulk(pipe, rows, archive, SamplingConfig(n=2, max_new_tokens=60, seed=0)))
    bulk_s = time.perf_counter() - t0

    result = {
        "products": len(products),
        "lm": pipe.lm.name,
        "writer": "modict" if pipe.modict is not None else "prompt",
        "catalog_products": len(pipe.catalog),
        "reference_shown_p50_s": p50(t_ref),
        "first_draft_words_p50_s": p50(t_first),
        "all_drafts_reviewed_p50_s": p50(t_done),
        "all_drafts_reviewed_max_s": round(max(t_done), 3),
        "approve_p50_s": p50(t_approve),
        "bulk_products_per_minute": round(60 * len(results) / bulk_s, 1),
        "bulk_ok": sum(r.status == "ok" for r in results),
        "machine": f"{os.cpu_count()} CPU cores",
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    for k, v in result.items():
        print(f"{k:30s} {v}")


if __name__ == "__main__":
    main()
