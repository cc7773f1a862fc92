"""Bulk throughput: products per minute, in-process and on Ray (local, one pipeline replica), same job.

The job: N H&M dev products as a CSV (id, merchant keywords, image) + a ZIP of their photos, 4 drafts each,
seed fixed, the shipped catalog. Ray's time includes starting Ray and loading the replica's models; the
steady rate (products/minute after the first result) is reported too. Both outputs are compared row by row.

    python bench/bulk.py [--products 20] [--out bench/results/performance/bulk.json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def write_bulk_job(products: list, source: str = "hm") -> tuple[Path, Path]:
    """A bulk upload made of shared-data products: products.csv (id, merchant keywords, image) + photos.zip."""
    from ecomcopy.keywords import product_keywords

    folder = Path(tempfile.mkdtemp(prefix="ecomcopy-bulk-bench-"))
    with zipfile.ZipFile(folder / "photos.zip", "w") as z, (folder / "products.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "keywords", "image"])
        for p in products:
            z.write(SHARED / source / p.image, Path(p.image).name)
            w.writerow([p.id, ", ".join(product_keywords(p)), Path(p.image).name])
    return folder / "products.csv", folder / "photos.zip"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "bulk.json"))
    args = ap.parse_args()

    from ecomcopy.bulk import PhotoArchive, read_rows, run_bulk
    from ecomcopy.bulk_ray import run_bulk_ray
    from ecomcopy.config import SamplingConfig
    from ecomcopy.pipeline import Pipeline, PipelineConfig
    from ecomcopy.products import read_products

    csv_path, zip_path = write_bulk_job(read_products(SHARED / "hm", split="dev").products[: args.products])
    rows = read_rows(csv_path)
    archive = PhotoArchive(zip_path)
    sampling = SamplingConfig(n=4, max_new_tokens=60, seed=0)
    cfg = PipelineConfig.of_writer()  # the shipped catalog, read-only; ECOMCOPY_LM's writer

    def timed(results) -> tuple[list, float, float]:
        t0, first, out = time.perf_counter(), None, []
        for r in results:
            out.append(r)
            first = first or time.perf_counter()
        end = time.perf_counter()
        steady = 60 * (len(out) - 1) / (end - first) if len(out) > 1 else None
        return out, 60 * len(out) / (end - t0), steady

    t0 = time.perf_counter()
    pipe = Pipeline(cfg)
    load_s = time.perf_counter() - t0
    here, here_rate, here_steady = timed(run_bulk(pipe, rows, archive, sampling))
    del pipe
    t0 = time.perf_counter()
    there, ray_rate, ray_steady = timed(run_bulk_ray(cfg, rows, archive, sampling, workers=1))
    ray_total = time.perf_counter() - t0
    import ray

    ray.shutdown()
    same = [dataclasses.asdict(a) == dataclasses.asdict(b) for a, b in zip(here, there)]
    result = {
        "command": f"python bench/bulk.py --products {args.products}",
        "machine": f"{os.cpu_count()} cores",
        "products": len(rows),
        "drafts_per_product": sampling.n,
        "in_process_products_per_min": round(here_rate, 1),
        "in_process_products_per_min_steady": round(here_steady, 1) if here_steady else None,
        "in_process_model_load_s": round(load_s, 1),
        "ray_products_per_min_incl_start": round(ray_rate, 1),
        "ray_products_per_min_steady": round(ray_steady, 1) if ray_steady else None,
        "ray_total_s": round(ray_total, 1),
        "ok_rows": sum(r.status == "ok" for r in here),
        "same_results_rows": f"{sum(same)}/{len(same)}",
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
