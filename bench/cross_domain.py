"""The cross-domain setting: a catalog that holds nothing alike. Queries of one domain are written against a
catalog of the other domain's products only (IKEA test products against the shipped catalog's H&M products,
and the reverse), as a merchant whose products are unlike the catalog's meets it until their approvals fill it.

Rows: ModICT as shipped (a best match under `MIN_REFERENCE_SCORE` is no reference), and ModICT always given the
best match (what the threshold spares it). Besides `evaluate`'s metrics it
counts the catalog domain's words in the drafts: words of at least 3 catalog descriptions that no description
of the query domain's train split uses (a belt's "buckle" in a lamp's draft), the keywords excepted.

    python bench/cross_domain.py [--split test] [--limit 20] [--lm LM]   -> bench/results/cross-domain/SPLIT_LIMIT_LM.json
(LM: the writer, its shipped adapter; default ECOMCOPY_LM, else the default writer's)
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from ecomcopy.catalog import Catalog
from ecomcopy.checker import _words
from ecomcopy.config import DEMO_CATALOG_DB, LM_NAMES, MIN_REFERENCE_SCORE, cache_dir, writer_lm
from ecomcopy.evaluate import CHECK_COLUMNS, evaluate, markdown_table
from ecomcopy.pipeline import Pipeline, PipelineConfig
from ecomcopy.products import read_products

ROOT = Path(__file__).resolve().parent.parent
ROWS = ["modict", "modict_always_reference"]  # for products whose best match is dropped, "modict" is ModICT without a reference
DOMAIN_MIN_PRODUCTS = 3


def one_domain_catalog(folder: Path) -> Path:
    """A copy of the shipped catalog holding only the products of `folder`'s domain (photos stay where they are)."""
    domain = read_products(folder, split="train").products[0].domain  # as the catalog names it
    path = cache_dir() / "cross-domain" / f"{folder.name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    catalog = Catalog(path, create=True)
    catalog.seed_from(DEMO_CATALOG_DB)
    with catalog.transaction():
        catalog.remove_products([p.id for p in catalog.products() if p.domain != domain])
    catalog.close()
    return path


def domain_words(catalog: Path, query_data: Path) -> set[str]:
    """Words of the catalog's kind of product that the query domain never uses."""
    counts = Counter(w for p in Catalog(catalog).products() for w in set(_words(p.description)))
    theirs = {w for p in read_products(query_data, split="train").products for w in _words(p.description)}
    return {w for w, c in counts.items() if c >= DOMAIN_MIN_PRODUCTS and w not in theirs and len(w) > 2}


def leaks(result: dict, vocab: set[str]) -> dict:
    """Per row: the catalog domain's words per sampled draft, and the share of drafts with any."""
    out = {}
    for row in result["rows"]:
        found = []
        for p in result["products"]:
            said = {w for k in p["keywords"] for w in _words(k)}
            found += [sorted({w for w in _words(d) if w in vocab} - said) for d in p["drafts"][row]["sampled"]]
        out[row] = {"per_draft": round(sum(map(len, found)) / max(len(found), 1), 4),
                    "drafts_with_any": round(sum(bool(f) for f in found) / max(len(found), 1), 4),
                    "most_common": Counter(w for f in found for w in f).most_common(10)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=20, help="query products per domain")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--min-reference-score", type=float, default=MIN_REFERENCE_SCORE)
    ap.add_argument("--lm", choices=LM_NAMES, default=None, help="the writer (default: ECOMCOPY_LM, else the default writer's)")
    args = ap.parse_args()
    lm = args.lm or writer_lm()
    dest = ROOT / "bench" / "results" / "cross-domain" / f"{args.split}_{args.limit}_{lm}.json"
    done = json.loads(dest.read_text()) if dest.is_file() else {}  # resumable: a finished direction is kept
    for query, catalog_domain in (("ikea", "hm"), ("hm", "ikea")):
        name = f"{query} against {catalog_domain}"
        if name not in done:
            db, data = one_domain_catalog(Path(args.data) / catalog_domain), Path(args.data) / query
            pipe = Pipeline(PipelineConfig.of_writer(lm, catalog=db, min_reference_score=args.min_reference_score))
            result = evaluate(pipe, data, args.split, args.limit, methods=ROWS)
            result["leaks"] = leaks(result, domain_words(db, data))
            done[name] = result
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(json.dumps(done, indent=1))
        r = done[name]
        print(f"\n{name}: {r['n_products']} products, reference used for {r['reference_used_rate']:.2f}")
        print(markdown_table(r, ("rouge_l", "keyword_coverage", "copy_rate") + CHECK_COLUMNS))
        for row, leak in r["leaks"].items():
            print(f"  {row}: {leak['per_draft']:.2f} {catalog_domain} words per draft, in {leak['drafts_with_any']:.0%} of drafts; {leak['most_common'][:6]}")


if __name__ == "__main__":
    main()
