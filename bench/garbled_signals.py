"""Which automatic signals see what a blind reader marked garbled (or not usable)?

Joins a blind read's ratings with its key and scores every machine text with: the checker (clean, flag count),
keyword coverage, brevity (fewer words), and the frozen LM's mean log-probability per token, alone and after the keywords (a
garbled sentence is improbable English). Reports each signal's AUC (the chance that a text the reader found
fine outscores one marked garbled), so a ranking or a metric rests on what an editor sees.

    python bench/garbled_signals.py bench/results/blind-read/NAME [...] [--data ../shared/data/hm]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ecomcopy.checker import DraftChecker
from ecomcopy.lm import load_lm
from ecomcopy.review import review_draft
from ecomcopy.catalog import Catalog
from ecomcopy.config import DEMO_CATALOG_DB


@torch.inference_mode()
def mean_logprob(lm, text: str, before: str = "") -> float:
    """Mean log-probability per token of `text` after `before` (the text's own tokens only)."""
    tok = lm.tokenizer
    head = tok(before, add_special_tokens=False).input_ids if before else []
    body = tok(text.strip(), add_special_tokens=False).input_ids
    ids = torch.tensor([head + body])
    logits = lm.model(input_ids=ids).logits[0, :-1].float().log_softmax(-1)  # (T-1, V)
    lp = logits.gather(-1, ids[0, 1:, None]).squeeze(-1)[max(len(head) - 1, 0):]
    return lp.mean().item()


def auc(good: list[float], bad: list[float]) -> float:
    pairs = [(g > b) + 0.5 * (g == b) for g in good for b in bad]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reads", nargs="+")
    ap.add_argument("--out", default=None)
    ap.add_argument("--lm", default=None, help="the judging LM (default: the shipped one)")
    args = ap.parse_args()
    lm = load_lm(args.lm) if args.lm else load_lm()
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())  # as the app checks
    rows = []
    for read in map(Path, args.reads):
        sheet, key = json.load(open(read / "sheet.json")), json.load(open(read / "key.json"))
        rating = {(r["product"], r["text"]): r for r in json.load(open(read / "ratings.json"))}
        for p in sheet["products"]:
            k = key[str(p["product"])]
            for letter, text in p["texts"].items():
                if k[letter] == "human":
                    continue
                r = rating[(p["product"], letter)]
                review = review_draft(text, p["keywords"], "", checker)
                rows.append({
                    "garbled": "garbled" in r["problems"], "usable": r["rating"] != "rewrite",
                    "clean": float(review.check.clean),
                    "flags": -len(review.check.flags()),
                    "coverage": review.coverage,
                    "shorter": -review.words,
                    "lp_alone": mean_logprob(lm, text),
                    "lp_after_keywords": mean_logprob(lm, text, "Keywords: " + ", ".join(p["keywords"]) + "\nDescription:"),
                })
    report = {}
    for signal in ("clean", "flags", "coverage", "shorter", "lp_alone", "lp_after_keywords"):
        report[signal] = {
            "auc_not_garbled": round(auc([r[signal] for r in rows if not r["garbled"]], [r[signal] for r in rows if r["garbled"]]), 3),
            "auc_usable": round(auc([r[signal] for r in rows if r["usable"]], [r[signal] for r in rows if not r["usable"]]), 3),
        }
    report["texts"] = len(rows)
    print(json.dumps(report, indent=1))
    if args.out:
        json.dump({"report": report, "rows": rows}, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
