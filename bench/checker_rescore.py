"""The draft checker's metrics of stored `evaluate --json` results, re-scored with the checker as it is now
(nothing is generated): each row's sampled and greedy drafts, and the shop's own descriptions for scale.

    python bench/checker_rescore.py RESULT.json [...] --data ../shared/data/hm [--markdown]
"""

from __future__ import annotations

import argparse
import json

from stored import human_descriptions  # bench/ is this script's folder

from ecomcopy.catalog import Catalog
from ecomcopy.checker import DraftChecker, check_metrics
from ecomcopy.config import DEMO_CATALOG_DB
from ecomcopy.evaluate import CHECK_COLUMNS


def rescore(result: dict, truth: dict[str, str], checker: DraftChecker) -> dict:
    records = result["products"]
    rows = {m: check_metrics([[checker.check(d, r["keywords"]) for d in r["drafts"][m]["sampled"]] for r in records])
            for m in result["rows"]}
    rows |= {f"{m} (greedy)": check_metrics([[checker.check(r["drafts"][m]["greedy"], r["keywords"])] for r in records])
             for m in result["rows"]}
    rows["human copy"] = check_metrics([[checker.check(truth[r["id"]], r["keywords"])] for r in records])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="+")
    ap.add_argument("--data", required=True, help="the product folder the results were run on")
    args = ap.parse_args()
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())
    for path in args.results:
        result = json.load(open(path))
        rows = rescore(result, human_descriptions(args.data, result), checker)
        print(f"\n{path}: {result['n_products']} products\n")
        print("| row | " + " | ".join(CHECK_COLUMNS) + " |\n|---|" + "---|" * len(CHECK_COLUMNS))
        for name, r in rows.items():
            print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" for c in CHECK_COLUMNS) + " |")


if __name__ == "__main__":
    main()
