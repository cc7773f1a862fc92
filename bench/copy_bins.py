"""Where each row wins or loses against copying: ROUGE-L by how close the reference is to the truth.

Reads the per-product drafts of an `evaluate --json` result (nothing is generated) and bins its products
by the copy baseline's own ROUGE-L (the reference's description against the shop's). For each bin: how many
products, how many of the shop's own descriptions copy their reference (8 words in a row, as the copy rate
counts), and each row's mean greedy ROUGE-L. A writer that may not copy 8 words can only lose where the truth
itself is a copy of the reference; this shows how much of the gap to `copy_reference` sits there.

    python bench/copy_bins.py bench/results/test-tables/eval_hm_test_100_words.json --data ../shared/data/hm
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from ecomcopy.metrics import copies, rouge_l
from stored import catalog_descriptions, greedy_rouge_l, human_descriptions  # bench/stored.py

EDGES = (0.0, 0.3, 0.5, 0.7, 0.9, 1.01)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result", help="JSON written by `python -m ecomcopy evaluate --json` (with its `products`)")
    ap.add_argument("--data", required=True, help="the product folder it was run on (for the human descriptions)")
    ap.add_argument("--rows", default="copy_reference,icl_prompt,modict", help="comma-separated rows to show")
    args = ap.parse_args()
    result = json.loads(Path(args.result).read_text())
    truth = human_descriptions(args.data, result)
    catalog = catalog_descriptions()
    rows = [m for m in args.rows.split(",") if m in result["rows"]]
    records = result["products"]
    score = {m: greedy_rouge_l(records, truth, m) for m in rows}
    near = [rouge_l(truth[r["id"]], catalog[r["reference"]]) for r in records]  # = copy_reference's score
    human_copies = [copies(catalog[r["reference"]], truth[r["id"]]) for r in records]
    print(f"{len(records)} products of {args.result}; the shop's own description copies its reference in "
          f"{statistics.mean(human_copies):.0%} of them\n")
    print("| copy ROUGE-L | products | shop's copy copies the reference | " + " | ".join(rows) + " |")
    print("|---|---|---|" + "---|" * len(rows))
    bins = list(zip(EDGES[:-1], EDGES[1:])) + [(EDGES[0], EDGES[-1])]
    for lo, hi in bins:
        idx = [i for i, c in enumerate(near) if lo <= c < hi]
        if not idx:
            continue
        label = "all" if (lo, hi) == (EDGES[0], EDGES[-1]) else f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}"
        cells = [f"{statistics.mean(score[m][i] for i in idx):.3f}" for m in rows]
        print(f"| {label} | {len(idx)} | {sum(human_copies[i] for i in idx)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
