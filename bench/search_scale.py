"""Catalog search from 10^3 to 10^6 products: exact matrix product vs the FAISS back end, in the same run.

Products are synthetic (the scale test needs 10^6): each is a real demo-catalog product's image vector
and another real product's keyword vector, both perturbed and renormalised, so the neighbourhoods look
like a real catalog's (variants of real products) rather than uniform noise. For every size:
- the catalog is written to SQLite the way the indexer writes it (float16 vectors);
- the ANN back end is built through `Catalog(backend="ann")` (read vectors, train, add, save) and timed;
- queries (fresh synthetic products, fused w = 0.5) go through `Catalog.search` (ANN proposals re-scored
  exactly from SQLite) and through an exact float32 matrix product over all products (the naive path);
- recall@1 = share of queries whose top product is the exact top product.

    python bench/search_scale.py [--sizes 1000 10000 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from ecomcopy.catalog import Catalog
from ecomcopy.search import unit
from ecomcopy.config import DEMO_CATALOG_DB
from ecomcopy.products import Product


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def base_vectors() -> tuple[np.ndarray, np.ndarray]:
    cat = Catalog(DEMO_CATALOG_DB)
    rows = cat.db.execute("SELECT v.image_vec, v.text_vec FROM vectors v").fetchall()
    img = np.stack([np.frombuffer(r[0], np.float16) for r in rows]).astype(np.float32)
    txt = np.stack([np.frombuffer(r[1], np.float16) for r in rows]).astype(np.float32)
    return img, txt


def synthetic(base_img: np.ndarray, base_txt: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Image vectors near real image vectors (raw, like the encoder's), keyword vectors near real ones (unit)."""
    bi = rng.integers(0, len(base_img), n)
    bt = rng.integers(0, len(base_txt), n)
    scale = np.linalg.norm(base_img, axis=1).mean()
    img = base_img[bi] + noise * scale * rng.standard_normal((n, base_img.shape[1]), dtype=np.float32) / np.sqrt(base_img.shape[1])
    txt = unit(base_txt[bt] + noise * rng.standard_normal((n, base_txt.shape[1]), dtype=np.float32) / np.sqrt(base_txt.shape[1]))
    return img.astype(np.float32), txt.astype(np.float32)


def build_catalog(path: Path, n: int, base_img, base_txt, seed: int = 0) -> tuple[float, np.ndarray, np.ndarray]:
    """Write n synthetic products; returns seconds and the float16-rounded vectors as stored."""
    rng = np.random.default_rng(seed)
    cat = Catalog(path, create=True, backend="exact")
    t0 = time.perf_counter()
    imgs, txts = [], []
    chunk = 20_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        img, txt = synthetic(base_img, base_txt, m, rng)
        imgs.append(img.astype(np.float16))
        txts.append(txt.astype(np.float16))
        items = [(Product(id=f"s{start + i}", group=f"g{(start + i) // 3}", name="", keywords=[], description="", image="x.jpg"),
                  Path("x.jpg"), "", img[i], txt[i]) for i in range(m)]
        with cat.transaction():
            cat.write_products(items)
    seconds = time.perf_counter() - t0
    cat.close()
    return seconds, np.concatenate(imgs), np.concatenate(txts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--weight", type=float, default=0.5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "retrieval" / "search_scale.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs" / "search_scale.png"))
    args = ap.parse_args()
    base_img, base_txt = base_vectors()
    q_img, q_txt = synthetic(base_img, base_txt, args.queries, np.random.default_rng(12345))
    w = args.weight
    results = []
    for n in args.sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"ecomcopy-scale-{n}-"))
        write_s, img16, txt16 = build_catalog(folder / "catalog.db", n, base_img, base_txt)
        # the naive path: one exact float32 matrix product over every product
        mean = img16.astype(np.float64).mean(0).astype(np.float32)
        img = np.empty(img16.shape, np.float32)
        for s in range(0, n, 100_000):
            img[s : s + 100_000] = unit(img16[s : s + 100_000].astype(np.float32) - mean)
        txt = txt16.astype(np.float32)
        exact_ms, truth = [], []
        for qi, qt in zip(q_img, q_txt):
            t0 = time.perf_counter()
            score = w * (img @ unit(qi - mean)) + (1 - w) * (txt @ qt)
            best = int(np.argmax(score))
            exact_ms.append(1000 * (time.perf_counter() - t0))
            truth.append(f"s{best}")
        del img, txt
        # our path: Catalog with the ANN back end (build timed on the first search)
        rss0 = rss_mb()
        cat = Catalog(folder / "catalog.db", backend="ann")
        t0 = time.perf_counter()
        cat._ann_index()
        build_s = time.perf_counter() - t0
        index_mb = cat.ann_path.stat().st_size / 2**20
        rss_build = rss_mb() - rss0
        ann_ms, hits = [], 0
        for (qi, qt), want in zip(zip(q_img, q_txt), truth):
            t0 = time.perf_counter()
            got = cat.search(qi, qt, k=1, image_weight=w)
            ann_ms.append(1000 * (time.perf_counter() - t0))
            hits += got[0].product.id == want
        row = {
            "products": n,
            "write_catalog_s": round(write_s, 1),
            "exact_p50_ms": round(statistics.median(exact_ms), 2),
            "ann_p50_ms": round(statistics.median(ann_ms), 2),
            "ann_p95_ms": round(float(np.percentile(ann_ms, 95)), 2),
            "recall_at_1": round(hits / len(truth), 4),
            "ann_build_s": round(build_s, 1),
            "ann_index_mb": round(index_mb, 1),
            "ann_build_rss_mb": round(rss_build, 1),
            "nlist": cat._ann.cfg.nlist,
            "nprobe": cat._ann.cfg.nprobe,
            "candidates": cat._ann.cfg.candidates,
        }
        cat.close()
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
        results.append(row)
        print(json.dumps(row), flush=True)
    out = {"rows": results, "queries": args.queries, "image_weight": w, "machine": f"{os.cpu_count()} CPU cores"}
    Path(args.out).write_text(json.dumps(out, indent=1))
    plot(results, Path(args.plot))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["products"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(n, [r["exact_p50_ms"] for r in rows], "o-", label="exact matrix product (p50)")
    ax.loglog(n, [r["ann_p50_ms"] for r in rows], "s-", label="FAISS IVF-SQ8 + exact re-score (p50)")
    ax.axhline(10, color="grey", ls="--", lw=1, label="goal: 10 ms")
    ax.set_xlabel("catalog products")
    ax.set_ylabel("ms per query")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
