"""A blind read: the drafts of test products shuffled with the shop's own copy, sources hidden, each text rated
as a copy editor would before anyone sees which is which.

`sheet` writes, per product (PER_DOMAIN of each result, after the first SKIP), its photo, its keywords and its texts (the
row's sampled drafts, as shown in the app, and the human description) in a random order under letters;
the sources go to a separate key file the reader never opens. The reader writes one rating per text into
ratings.json: `{"product": 1, "text": "B", "rating": "publish" | "light edit" | "rewrite", "problems": [...],
"fluency": 1-5}`, problems among PROBLEMS, fluency (how well the English reads, facts aside) optional. `unblind` refuses until every text is rated, then joins the key and counts per
source: publishable as it stands, usable (publish or light edit), garbled, each problem, and the share of
products with a usable draft among those shown.

    python bench/blind_read.py sheet HM.json IKEA.json --out bench/results/blind-read/NAME [--per-domain 30]
        [--versus HM_B.json=b IKEA_B.json=b ...] [--skip K] [--name A]  (other settings of the same products in one sheet, one reader;
        PATH=NAME:ROW takes that result's ROW, e.g. the plain prompt's icl_prompt)
    python bench/blind_read.py unblind bench/results/blind-read/NAME [...] [--versus SOURCE]  (reads NAME/ratings.json;
        several: one table; --versus: each source's usable share minus SOURCE's, product by product, with a 95% interval)
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections import Counter
from pathlib import Path

from ecomcopy.keywords import once_each
from ecomcopy.products import read_products

RATINGS = ("publish", "light edit", "rewrite")
PROBLEMS = ("garbled", "invented", "contradicts", "stuffing", "unrelated detail", "repetition", "cut off", "other")


def sheet(results: list[str], out: Path, per_domain: int, row: str, seed: int = 0,
          versus: list[str] = (), versus_name: str = "before", skip: int = 0, name: str = "") -> None:
    """`versus`: earlier results of the same products; their drafts join each product's texts as `versus_name`,
    so one reader rates both settings side by side (a paired comparison, not two readers' scales); where a setting
    had other keywords (`evaluate --keywords`), the sheet shows every setting's, each once. `skip`: start
    after the first `skip` products of each result (a long read split between readers, each product whole in one
    sheet); `name`: the source name of `row`'s drafts (default: the row's)."""
    source = name or row
    others = [_versus(entry, versus_name, row) for entry in versus]
    names = {n for _, n, _ in others}  # one name may serve each domain
    if source in names | {"human"} or "human" in names or "+" in "".join(names | {source}) or skip < 0:
        raise SystemExit(f"each source needs its own name, without '+' (got {source}, {sorted(names)}); --skip must be >= 0")
    rng = random.Random(seed)
    products, key = [], {}
    earlier: dict[str, list[tuple[str, str]]] = {}  # product id -> (source, draft) of the other settings
    their_keywords: dict[str, list[str]] = {}  # product id -> the other settings' keywords (another keyword mode)
    for path, their_name, their_row in others:
        for rec in json.load(open(path))["products"]:
            earlier.setdefault(rec["id"], []).extend((their_name, d) for d in rec["drafts"][their_row]["sampled"])
            their_keywords.setdefault(rec["id"], []).extend(rec["keywords"])
    for path in results:
        result = json.load(open(path))
        data = Path(result["data"])
        truth = {p.id: p for p in read_products(data, split=result["split"]).products}
        for rec in result["products"][skip: skip + per_domain]:
            p = truth[rec["id"]]
            texts = [(source, d) for d in rec["drafts"][row]["sampled"]] + [("human", p.description)]
            texts = _merged(texts + earlier.get(rec["id"], []))
            rng.shuffle(texts)
            n = len(products) + 1
            letters = string.ascii_uppercase[: len(texts)]
            shown = once_each(rec["keywords"] + their_keywords.get(rec["id"], []))  # every setting's, where they differ
            products.append({"product": n, "photo": str((data / p.image).resolve()), "keywords": shown,
                             "texts": {letter: text for letter, (_, text) in zip(letters, texts)}})
            key[n] = {"id": p.id, "domain": p.domain, **{letter: source for letter, (source, _) in zip(letters, texts)}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "sheet.json").write_text(json.dumps({"ratings": RATINGS, "problems": PROBLEMS, "products": products}, indent=1, ensure_ascii=False))
    (out / "key.json").write_text(json.dumps(key, indent=1))
    print(f"{len(products)} products, {sum(len(p['texts']) for p in products)} texts -> {out}/sheet.json (key: {out}/key.json)")


def _merged(texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One letter per distinct text: two settings that show the same draft (one decode ranked two ways) share it,
    its source "a+b" (a reader shown the same text twice would know the two came from one place)."""
    sources: dict[str, list[str]] = {}
    for source, text in texts:
        sources.setdefault(text, []).append(source)
    return [("+".join(dict.fromkeys(names)), text) for text, names in sources.items()]


def _versus(entry: str, default_name: str, default_row: str) -> tuple[str, str, str]:
    """PATH[=NAME[:ROW]] -> (path, source name, row)."""
    path, _, theirs = entry.partition("=")
    name, _, row = theirs.partition(":")
    return path, name or default_name, row or default_row


def unblind(outs: list[Path], versus: str = "") -> dict:
    """`versus`: a source every other is compared with, product by product (`_paired`)."""
    by_source: dict[str, list[dict]] = {}
    usable_share: dict[str, dict[tuple[str, int], float]] = {}  # source -> (sheet, product) -> share of its texts usable
    for out in outs:
        _rated(out, by_source, usable_share)
    table = {}
    for source, rs in by_source.items():
        n = len(rs)
        problems = Counter(x for r in rs for x in r.get("problems", []))
        table[source] = {"texts": n, "publish": round(sum(r["rating"] == "publish" for r in rs) / n, 3),
                         "usable": round(sum(r["rating"] != "rewrite" for r in rs) / n, 3),
                         "garbled": round(problems["garbled"] / n, 3),
                         "products_with_a_usable_text": round(sum(v > 0 for v in usable_share[source].values()) / len(usable_share[source]), 3),
                         "fluency": _mean([r["fluency"] for r in rs if "fluency" in r]),
                         "problems": {x: round(problems[x] / n, 3) for x in PROBLEMS}}
        if versus and source != versus:
            table[source][f"usable_minus_{versus}"] = _paired(usable_share[source], usable_share[versus])
    return table


def _paired(a: dict, b: dict) -> dict:
    """Mean per-product difference of the usable share, A - B, with the 95% paired interval of bench/paired.py: the
    products are the unit, not the texts."""
    import numpy as np

    from paired import paired_interval  # bench/paired.py

    diff = np.array([a[k] - b[k] for k in a if k in b])
    low, high = paired_interval(diff)
    return {"products": len(diff), "mean": round(float(diff.mean()), 3), "ci95": [round(low, 3), round(high, 3)]}


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 2) if xs else None


def _rated(out: Path, by_source: dict, usable_share: dict) -> None:
    """One sheet's ratings joined with its key, once every text is rated."""
    sheet_ = json.loads((out / "sheet.json").read_text())
    key = json.loads((out / "key.json").read_text())
    ratings = {(r["product"], r["text"]): r for r in json.loads((out / "ratings.json").read_text())}
    missing = [(p["product"], t) for p in sheet_["products"] for t in p["texts"] if (p["product"], t) not in ratings]
    bad = [k for k, r in ratings.items() if r.get("rating") not in RATINGS or not set(r.get("problems", [])) <= set(PROBLEMS)
           or r.get("fluency", 3) not in (1, 2, 3, 4, 5)]
    if missing or bad:
        raise SystemExit(f"{out}: not unblinded: {len(missing)} text(s) unrated (first {missing[:3]}), {len(bad)} invalid rating(s) {bad[:3]}")
    for p in sheet_["products"]:
        k = key[str(p["product"])]
        per_source: dict[str, list[dict]] = {}
        for letter in p["texts"]:
            for source in k[letter].split("+"):  # a text two settings both showed counts for each (`_merged`)
                per_source.setdefault(source, []).append(ratings[(p["product"], letter)])
        for source, rs in per_source.items():
            by_source.setdefault(source, []).extend(rs)
            usable_share.setdefault(source, {})[(str(out), p["product"])] = sum(r["rating"] != "rewrite" for r in rs) / len(rs)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheet")
    s.add_argument("results", nargs="+", help="`evaluate --json` results (one per domain)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--per-domain", type=int, default=30)
    s.add_argument("--row", default="modict")
    s.add_argument("--versus", nargs="*", default=[], help="other results of the same products (PATH or PATH=NAME), rated in the same sheet")
    s.add_argument("--versus-name", default="before", help="the source name of the --versus drafts")
    s.add_argument("--skip", type=int, default=0, help="leave out the first SKIP products of each result")
    s.add_argument("--name", default="", help="the source name of ROW's drafts (default: ROW)")
    s.add_argument("--seed", type=int, default=0, help="the shuffle; give each new sheet its own, so that no letter "
                   "keeps one source across sheets (sheets up to 2026-12-04 all used 0)")
    u = sub.add_parser("unblind")
    u.add_argument("outs", type=Path, nargs="+")
    u.add_argument("--save", type=Path, help="write the table as JSON here")
    u.add_argument("--versus", default="", help="compare every source with this one, product by product (paired bootstrap)")
    args = ap.parse_args()
    if args.cmd == "sheet":
        sheet(args.results, args.out, args.per_domain, args.row, versus=args.versus, versus_name=args.versus_name,
              skip=args.skip, name=args.name, seed=args.seed)
        return
    table = unblind(args.outs, args.versus)
    if args.save:
        args.save.write_text(json.dumps(table, indent=1))
    print("| texts by | texts | publish as is | usable (publish + light edit) | garbled | products with a usable text | fluency (1-5) |\n|---|---|---|---|---|---|---|")
    for source, t in table.items():
        fluency = "–" if t["fluency"] is None else f"{t['fluency']:.1f}"
        print(f"| {source} | {t['texts']} | {t['publish']:.0%} | {t['usable']:.0%} | {t['garbled']:.0%} | {t['products_with_a_usable_text']:.0%} | {fluency} |")


if __name__ == "__main__":
    main()
