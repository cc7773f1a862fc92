"""When is the catalog's best match too unlike the product to be its reference? Chooses `MIN_REFERENCE_SCORE`.

Dev products of both domains (never in the shipped catalog) are searched as the app searches them (photo +
merchant keywords, fused score): once against the shipped catalog (own group excluded: the in-domain
setting, where a reference of the same product type helps), and once against the other domain's products
only (the cross-domain setting: a catalog holding nothing alike, e.g. IKEA products against H&M's). For each
threshold on the best match's fused score it reports the share of in-domain references kept (of those of the
product's own type, and of the others) and the share of cross-domain references dropped.

    python bench/reference_threshold.py [--limit 100]   -> bench/results/reference-threshold/dev_LIMIT.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from ecomcopy.catalog import Catalog
from ecomcopy.config import DEFAULT_IMAGE_WEIGHT, DEMO_CATALOG_DB
from ecomcopy.encoders import TextEncoder, create_image_encoder
from ecomcopy.evaluate import _products, product_type
from ecomcopy.images import load_image
from ecomcopy.keywords import product_keywords

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = [round(0.30 + 0.025 * i, 3) for i in range(17)]


def best_matches(catalog: Catalog, data: Path, limit: int, ienc, tenc) -> list[dict]:
    out = []
    for p in _products(data, "dev", limit):
        kw = product_keywords(p)
        iv = ienc.encode([load_image(data / p.image)]).pooled[0].numpy()
        tv = tenc.encode([", ".join(kw)])[0]
        hits = catalog.search(iv, tv, k=len(catalog), image_weight=DEFAULT_IMAGE_WEIGHT, exclude_group=p.group)
        same = next(h for h in hits if h.product.domain == p.domain)
        other = next(h for h in hits if h.product.domain != p.domain)
        out.append({"id": p.id, "domain": p.domain, "in_domain": round(same.score, 4), "cross_domain": round(other.score, 4),
                    "relevant": product_type(same.product).lower() == product_type(p).lower(),
                    "in_image": round(same.image_score, 4), "cross_image": round(other.image_score, 4)})
    return out


def table(rows: list[dict]) -> list[dict]:
    rel = [r for r in rows if r["relevant"]]
    unrel = [r for r in rows if not r["relevant"]]
    share = lambda xs, f: round(sum(map(f, xs)) / max(len(xs), 1), 4)
    return [{"threshold": t,
             "in_domain_kept": share(rows, lambda r: r["in_domain"] >= t),
             "same_type_kept": share(rel, lambda r: r["in_domain"] >= t),
             "other_type_kept": share(unrel, lambda r: r["in_domain"] >= t),
             "cross_domain_dropped": share(rows, lambda r: r["cross_domain"] < t)} for t in THRESHOLDS]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=100, help="dev products per domain")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    catalog, ienc, tenc = Catalog(DEMO_CATALOG_DB), create_image_encoder(), TextEncoder()
    rows = [r for d in ("hm", "ikea") for r in best_matches(catalog, Path(args.data) / d, args.limit, ienc, tenc)]
    summary = {side: {q: round(statistics.quantiles([r[side] for r in rows], n=20)[i], 4) for q, i in (("p5", 0), ("p50", 9), ("p95", 18))}
               for side in ("in_domain", "cross_domain")}
    out = {"limit": args.limit, "image_weight": DEFAULT_IMAGE_WEIGHT, "summary": summary, "thresholds": table(rows), "products": rows}
    dest = ROOT / "bench" / "results" / "reference-threshold" / f"dev_{args.limit}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(json.dumps(summary))
    print("| best match's score ≥ | in-domain kept | same type kept | other type kept | cross-domain dropped |\n|---|---|---|---|---|")
    for r in out["thresholds"]:
        print(f"| {r['threshold']:.3f} | {r['in_domain_kept']:.2f} | {r['same_type_kept']:.2f} | {r['other_type_kept']:.2f} | {r['cross_domain_dropped']:.2f} |")


if __name__ == "__main__":
    main()
