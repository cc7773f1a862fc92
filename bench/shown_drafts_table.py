"""The test table of `docs/EVALUATION.md` "On test, the drafts shown": the draft checker's columns, re-scored with
today's checker, for copying, the plain prompt and ModICT before sample-and-rank (OLD: the full test tables) and
ModICT in later settings (NEW, one row each), per domain, with the shop's own copy, on the first K products all of
them hold. A domain with a NEW file missing is skipped.

    python bench/shown_drafts_table.py [--old dec02] [--new dec03 ...] [--first 100]
        -> bench/results/checker/test_K_shown_drafts.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from checker_rescore import rescore  # bench/ is this script's folder
from stored import human_descriptions

from ecomcopy.catalog import Catalog
from ecomcopy.checker import DraftChecker
from ecomcopy.config import DEMO_CATALOG_DB

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("clean", "best_of_n_clean", "non_words_per_100", "unsupported_per_draft", "contradiction_rate", "stuffing_rate",
           "truncation_rate")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="dec02")
    ap.add_argument("--new", nargs="+", default=["dec03"], help="names of later test tables (eval_D_test_N_NAME.json)")
    ap.add_argument("--first", type=int, default=100, help="compare the first K products")
    args = ap.parse_args()
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())
    tables = ROOT / "bench" / "results" / "test-tables"
    out = {}
    for d in ("hm", "ikea"):
        news = {n: sorted(tables.glob(f"eval_{d}_test_*_{n}.json")) for n in args.new}
        if not all(news.values()):
            continue
        old = _first(json.loads((tables / f"eval_{d}_test_100_{args.old}.json").read_text()), args.first)
        truth = human_descriptions(str(ROOT.parent / "shared" / "data" / d), old)
        a = rescore(old, truth, checker)
        out[d] = {"copy the reference": a["copy_reference"], "plain prompt, 4 sampled": a["icl_prompt"],
                  f"ModICT, 4 sampled ({args.old})": a["modict"]}
        for name, paths in news.items():
            new = _first(json.loads(paths[0].read_text()), args.first)
            out[d][f"ModICT ({name})"] = rescore(new, truth, checker)["modict"]
        out[d]["shop's own copy"] = a["human copy"]
        print(f"\n{d}, first {len(old['products'])}")
        print("| row | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
        for row, r in out[d].items():
            print(f"| {row} | " + " | ".join(f"{r[c]:.3f}" for c in COLUMNS) + " |")
    (ROOT / "bench" / "results" / "checker" / f"test_{args.first}_shown_drafts.json").write_text(json.dumps(out, indent=1))


def _first(result: dict, k: int) -> dict:
    return result | {"products": result["products"][:k]}


if __name__ == "__main__":
    main()
