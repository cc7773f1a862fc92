"""The draft checker checked by hand: a sheet of 50 drafts (the first 2 sampled ModICT drafts of each product,
25 per domain) with their keywords and flags for an independent reader, and the confusion counts of the
reader's judgements (flags right / wrong, problems of the same five kinds missed, drafts publishable).

    python bench/checker_handcheck.py sheet HM.json IKEA.json --out SHEET.json     # write the sheet
    python bench/checker_handcheck.py tally SHEET.json JUDGEMENTS.json             # count
"""

from __future__ import annotations

import argparse
import json

from ecomcopy.catalog import Catalog
from ecomcopy.checker import DraftChecker
from ecomcopy.config import DEMO_CATALOG_DB


def sheet(results: list[str], per_domain: int = 25, row: str = "modict") -> list[dict]:
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())
    items = []
    for path in results:
        found = [{"keywords": p["keywords"], "draft": d, "flags": checker.check(d, p["keywords"]).flags()}
                 for p in json.load(open(path))["products"] for d in p["drafts"][row]["sampled"][:2]]
        items += found[:per_domain]
    return [{"n": i, **x} for i, x in enumerate(items, 1)]


def tally(judgements: list[dict]) -> dict:
    right, wrong = sum(j["flags_right"] for j in judgements), sum(j["flags_wrong"] for j in judgements)
    return {"drafts": len(judgements), "flags": right + wrong, "flags_right": right, "flags_wrong": wrong,
            "precision": round(right / max(right + wrong, 1), 3), "missed": sum(j["missed"] for j in judgements),
            "publishable": sum(bool(j["publishable"]) for j in judgements)}


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheet")
    s.add_argument("results", nargs="+")
    s.add_argument("--out", required=True)
    t = sub.add_parser("tally")
    t.add_argument("sheet")
    t.add_argument("judgements")
    args = ap.parse_args()
    if args.cmd == "sheet":
        json.dump(sheet(args.results), open(args.out, "w"), indent=1, ensure_ascii=False)
    else:
        print(json.dumps(tally(json.load(open(args.judgements))), indent=1))


if __name__ == "__main__":
    main()
