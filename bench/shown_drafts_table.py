"""The test table of `docs/EVALUATION.md` "On test, the drafts shown": the draft checker's columns, re-scored with
today's checker, for copying, the plain prompt and ModICT before sample-and-rank (OLD: the full test tables) and
ModICT as shipped (NEW), per domain, with the shop's own copy. A domain whose NEW file is missing is skipped.

    python bench/shown_drafts_table.py [--old dec02] [--new dec03]   -> bench/results/checker/test_100_shown_drafts.json
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
    ap.add_argument("--new", default="dec03")
    args = ap.parse_args()
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())
    tables = ROOT / "bench" / "results" / "test-tables"
    out = {}
    for d in ("hm", "ikea"):
        new_path = tables / f"eval_{d}_test_100_{args.new}.json"
        if not new_path.is_file():
            continue
        old, new = json.loads((tables / f"eval_{d}_test_100_{args.old}.json").read_text()), json.loads(new_path.read_text())
        truth = human_descriptions(str(ROOT.parent / "shared" / "data" / d), old)
        a, b = rescore(old, truth, checker), rescore(new, truth, checker)
        out[d] = {"copy the reference": a["copy_reference"], "plain prompt, 4 sampled": a["icl_prompt"],
                  f"ModICT, 4 sampled ({args.old})": a["modict"], "ModICT shipped, best 4 of 12": b["modict"],
                  "shop's own copy": a["human copy"],
                  "greedy": {"rouge_l": new["rows"]["modict"]["rouge_l"], "copy_rate": new["rows"]["modict"]["copy_rate"],
                             "reference_used_rate": new["reference_used_rate"]}}
        print(f"\n{d}: ModICT shipped greedy {out[d]['greedy']}")
        print("| row | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
        for row, r in out[d].items():
            if row != "greedy":
                print(f"| {row} | " + " | ".join(f"{r[c]:.3f}" for c in COLUMNS) + " |")
    (ROOT / "bench" / "results" / "checker" / "test_100_shown_drafts.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
