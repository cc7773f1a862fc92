"""Is a ROUGE-L difference between two rows more than noise? A paired bootstrap over the same products.

Reads the per-product greedy drafts of stored `evaluate --json` results (nothing is generated), scores each
against the shop's description, and bootstraps the mean of the per-product differences A - B (scipy's
BCa interval, 10,000 resamples, fixed seed). Both sides must hold the same products in the same
order, as two runs of `evaluate` with the same `--limit` do. A side is RESULT.json:ROW.

    python bench/paired.py bench/results/test-tables/eval_ikea_test_100_wrep4.json:modict \\
        bench/results/test-tables/eval_ikea_test_100_wrep4.json:modict_no_reference --data ../shared/data/ikea
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from stored import greedy_rouge_l, human_descriptions  # bench/stored.py


def side(spec: str) -> tuple[dict, str]:
    path, _, row = spec.rpartition(":")
    result = json.loads(Path(path).read_text())
    if row not in result["rows"]:
        sys.exit(f"{path} has no row {row!r}; it has {', '.join(result['rows'])}")
    return result, row


def paired_interval(diff: np.ndarray) -> tuple[float, float]:
    """95% interval of the mean per-product difference: scipy's BCa bootstrap, 10,000 resamples, fixed seed (the one
    setting every comparison of the benches uses, ROUGE-L here and a blind read's usable share in blind_read.py)."""
    ci = bootstrap((diff,), np.mean, n_resamples=10_000, random_state=0).confidence_interval
    return float(ci.low), float(ci.high)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="RESULT.json:ROW")
    ap.add_argument("b", help="RESULT.json:ROW")
    ap.add_argument("--data", required=True, help="the product folder both were run on (for the human descriptions)")
    args = ap.parse_args()
    (ra, row_a), (rb, row_b) = side(args.a), side(args.b)
    ids = [p["id"] for p in ra["products"]]
    if ids != [p["id"] for p in rb["products"]]:
        sys.exit("the two results do not hold the same products in the same order")
    truth = human_descriptions(args.data, ra)
    a = np.array(greedy_rouge_l(ra["products"], truth, row_a))
    b = np.array(greedy_rouge_l(rb["products"], truth, row_b))
    diff = a - b
    low, high = paired_interval(diff)
    print(f"{len(ids)} products: A {a.mean():.3f}, B {b.mean():.3f}, A - B {100 * diff.mean():+.1f} points "
          f"(95% CI {100 * low:+.1f} to {100 * high:+.1f}); A better on {(diff > 0).sum()}, "
          f"worse on {(diff < 0).sum()}, level on {(diff == 0).sum()}")


if __name__ == "__main__":
    main()
