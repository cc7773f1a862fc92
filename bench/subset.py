"""Re-score the first K products of an `evaluate --json` result (its per-product drafts), without generating.

So a table over more products also gives the table over the first K, comparable with earlier runs of
`--limit K` (same products, same metric code; perplexity needs the LM and is left out).

    python bench/subset.py bench/results/test-tables/eval_hm_test_50_longer.json --first 20 --data ../shared/data/hm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from ecomcopy.evaluate import TABLE_COLUMNS, Drafts, markdown_table, row_metrics
from stored import catalog_descriptions, human_descriptions  # bench/stored.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result", help="JSON written by `python -m ecomcopy evaluate --json` (with its `products`)")
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--data", required=True, help="the product folder it was run on (for the human descriptions)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = json.loads(Path(args.result).read_text())
    records = result["products"][: args.first]
    truth = human_descriptions(args.data, result)
    catalog = catalog_descriptions()
    truths = [truth[r["id"]] for r in records]
    refs = [catalog[r["reference"]] for r in records]
    kws = [r["keywords"] for r in records]
    rows = {}
    for m in result["rows"]:
        d = Drafts([r["drafts"][m]["greedy"] for r in records], [r["drafts"][m]["sampled"] for r in records])
        rows[m] = row_metrics(truths, kws, refs, d)
    out = {"rows": rows, "n_products": len(records), "source": args.result}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"first {len(records)} products of {args.result}\n")
        print(markdown_table(out, TABLE_COLUMNS[:-1]))


if __name__ == "__main__":
    main()
