"""Fit the editor score (`ecomcopy/editor_score.py`) on the blind reads' ratings, and measure how well it ranks.

Every machine draft of every committed blind read (`bench/results/blind-read/*/` with a sheet, a key and ratings)
is one example: usable (publish or light edit) or not (rewrite). Drafts are checked as the app checks them (the
demo catalog's checker). An L2-regularised logistic regression on the standardised features of `draft_features`,
its weights bounded to the signs of `FLAGS`.

How well it ranks is measured where ranking happens, within a product: of two drafts of the same product in the
same read, one usable and one not (or one garbled and one not), how often it scores the better one higher (a
within-product AUC; 0.5 = chance). Fitted on the dev reads, measured on the test reads, and the reverse; beside it
the shipped rule order (`DraftReview.rank`: within the word limit, clean, fewer flags) and "fewer words"; the
`editor` order (`ranking.review_rank`) is the rule order with the editor score in place of the flag count. Then it is
fitted on every read and saved with that record. `--exclude`: reads left out (the reads that measured the fit).

    python bench/fit_editor_score.py [--exclude test_rank_] [--out assets/ranking/editor_score.json] [--report ...]
    (the shipped fit: --exclude test_rank_, the read that measured it)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from ecomcopy.catalog import Catalog
from ecomcopy.checker import DraftChecker
from ecomcopy.config import DEMO_CATALOG_DB, EDITOR_SCORE_PATH
from ecomcopy.editor_score import EditorScore, draft_features
from ecomcopy.review import review_draft

READS = Path(__file__).parent / "results" / "blind-read"
MAX_WORDS = 16  # the shipped word limit, for the rule order
# a checker flag never makes a draft likelier to be shown (readers did not always see an unsupported size as a
# fault; the checker's goals count it), nor does "clean" make it less likely: the fit is bounded to those signs
FLAGS = ("non_words", "unsupported", "contradictions", "stuffing", "unlikely_parts", "cut_off")


def load_examples(reads: Path, exclude: tuple[str, ...] = ()) -> list[dict]:
    checker = DraftChecker.from_products(Catalog(DEMO_CATALOG_DB).products())  # as the app checks
    out = []
    rated = [p for p in reads.iterdir() if (p / "ratings.json").exists() and (p / "key.json").exists()]
    for read in sorted(p for p in rated if not p.name.startswith(exclude)):
        sheet, key = json.load(open(read / "sheet.json")), json.load(open(read / "key.json"))
        texts = {p["product"]: p for p in sheet["products"]}
        for r in json.load(open(read / "ratings.json")):
            p, k = texts[r["product"]], key[str(r["product"])]
            if k[r["text"]] == "human":
                continue
            review = review_draft(p["texts"][r["text"]], p["keywords"], "", checker)
            out.append({"read": read.name, "group": (read.name, r["product"]), "review": review,
                        "features": draft_features(review), "usable": r["rating"] != "rewrite",
                        "not_garbled": "garbled" not in r.get("problems", [])})
    return out


def fit(examples: list[dict], names: list[str], l2: float) -> EditorScore:
    X = np.array([[e["features"][n] for n in names] for e in examples], float)
    y = np.array([e["usable"] for e in examples], float)
    mean, scale = X.mean(0), X.std(0) + 1e-6
    Z = np.c_[(X - mean) / scale, np.ones(len(X))]

    def loss(w):  # negative log-likelihood + L2 on the weights (not the bias), and its gradient
        p = 1 / (1 + np.exp(-Z @ w))
        nll = -(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)).sum()
        return nll + l2 * (w[:-1] ** 2).sum(), Z.T @ (p - y) + 2 * l2 * np.r_[w[:-1], 0]

    bounds = [(None, 0) if n in FLAGS else (0, None) if n == "clean" else (None, None) for n in names] + [(None, None)]
    w = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds).x
    return EditorScore(weights=dict(zip(names, map(float, w[:-1]))), mean=dict(zip(names, map(float, mean))),
                       scale=dict(zip(names, map(float, scale))), bias=float(w[-1]), record={})


def within_product_auc(examples: list[dict], score, label: str) -> float:
    groups = defaultdict(list)
    for e in examples:
        groups[e["group"]].append((score(e), e[label]))
    wins = pairs = 0.0
    for drafts in groups.values():
        for s_good, good in drafts:
            for s_bad, bad in drafts:
                if good and not bad:
                    pairs += 1
                    wins += (s_good > s_bad) + 0.5 * (s_good == s_bad)
    return round(wins / pairs, 3) if pairs else float("nan")


def _as_number(fragment: bool, within: bool, clean: bool, last: float) -> float:
    """A rank tuple as one number with the same order (`last` stays well within ±100)."""
    return fragment * 1e6 + within * 1e4 + clean * 1e2 + last


def rule_order(e: dict) -> float:
    """`DraftReview.rank` as one number."""
    return _as_number(*e["review"].rank(MAX_WORDS))


def editor_order(model: EditorScore):
    """`ranking.review_rank` as one number: the rule order with the editor score in place of the flag count."""
    return lambda e: _as_number(*e["review"].rank(MAX_WORDS)[:3], model(e["review"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=Path, default=READS)
    ap.add_argument("--exclude", nargs="*", default=[], help="leave out the reads whose names start so")
    ap.add_argument("--l2", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=EDITOR_SCORE_PATH)
    ap.add_argument("--report", type=Path, default=Path(__file__).parent / "results" / "ranking" / "editor_score.json")
    args = ap.parse_args()
    examples = load_examples(args.reads, tuple(args.exclude))
    names = list(examples[0]["features"])
    dev = [e for e in examples if e["read"].startswith("dev")]
    test = [e for e in examples if not e["read"].startswith("dev")]
    scorers = {"rule order (shipped)": rule_order, "fewer words": lambda e: -e["features"]["words"]}
    held_out = {}
    for label in ("usable", "not_garbled"):
        for name, (fit_on, measure_on) in {"dev -> test": (dev, test), "test -> dev": (test, dev)}.items():
            model = fit(fit_on, names, args.l2)
            row = {"clean, then the editor score": within_product_auc(measure_on, editor_order(model), label),
                   "editor score alone": within_product_auc(measure_on, lambda e: model(e["review"]), label)}
            row |= {k: within_product_auc(measure_on, s, label) for k, s in scorers.items()}
            held_out[f"{label}, fitted {name}"] = row
    model = fit(examples, names, args.l2)
    model.record = {
        "fitted_on": {"reads": sorted({e["read"] for e in examples}), "drafts": len(examples),
                      "usable": round(float(np.mean([e["usable"] for e in examples])), 3)},
        "l2": args.l2, "within_product_auc_held_out": held_out,
    }
    model.save(args.out)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    report = {"held_out": held_out, "drafts": len(examples), "dev_drafts": len(dev), "test_drafts": len(test),
              "weights": dict(sorted(model.weights.items(), key=lambda kv: -abs(kv[1])))}
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
