"""Reference relevance: share of queries whose retrieved reference has the same product type.

Queries are H&M dev products (never in the demo catalog); candidates are the shipped demo catalog;
the query's own group is excluded. Compares image-only retrieval (the paper's) with fused image +
keyword retrieval at several weights, with the data's keywords and with the product type removed
from the query keywords (a merchant who does not type the category).

    python bench/relevance.py --data ../shared/data/hm --split dev [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from ecomcopy.catalog import Catalog
from ecomcopy.encoders import TextEncoder, create_image_encoder
from ecomcopy.images import load_image
from ecomcopy.config import DEMO_CATALOG_DB
from ecomcopy.products import read_products

WEIGHTS = [1.0, 0.7, 0.5, 0.3, 0.0]


def product_type(p) -> str:
    return p.attributes.get("product_type") or p.attributes.get("type") or (p.keywords[0] if p.keywords else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "hm"))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--db", default=str(DEMO_CATALOG_DB))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    queries = read_products(data, split=args.split).products
    queries = queries[: args.limit] if args.limit else queries
    catalog = Catalog(args.db)
    ienc, tenc = create_image_encoder(), TextEncoder()
    t0 = time.time()
    ivecs = ienc.encode([load_image(data / q.image) for q in queries]).pooled.numpy()
    full = tenc.encode([q.keyword_text for q in queries])
    no_type = tenc.encode([", ".join(k for k in q.keywords if k != product_type(q)) or "product" for q in queries])
    encode_s = time.time() - t0
    rows = {}
    for setting, tvecs in (("data keywords", full), ("keywords without product type", no_type)):
        for w in WEIGHTS:
            hits = 0
            for q, iv, tv in zip(queries, ivecs, tvecs):
                ref = catalog.search(iv, tv, k=1, image_weight=w, exclude_group=q.group)[0].product
                hits += product_type(ref) == product_type(q)
            label = "image-only" if w == 1.0 else ("keywords-only" if w == 0.0 else f"fused w={w}")
            rows.setdefault(setting, {})[label] = round(hits / len(queries), 4)
            if w == 1.0 and setting != "data keywords":
                rows[setting][label] = rows["data keywords"][label]
    out = {"queries": len(queries), "split": args.split, "data": data.name, "catalog_products": len(catalog), "encode_seconds": round(encode_s, 1), "relevance": rows}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{len(queries)} {data.name} {args.split} queries against {len(catalog)} catalog products (own group excluded)")
    print("| retrieval | " + " | ".join(rows) + " |\n|---|" + "---|" * len(rows))
    for label in rows["data keywords"]:
        print(f"| {label} | " + " | ".join(f"{rows[s][label]:.3f}" for s in rows) + " |")


if __name__ == "__main__":
    main()
