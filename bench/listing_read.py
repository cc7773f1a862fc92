"""Do the listings read as a shop would publish them? Titles and bullet points of test products, counted and read blind.

The listing's title and bullets come from the keywords (and the draft's later sentences), so this isolates them from
the model: every listing is built on the shop's own description as its draft. `dump` builds the listings of the first
PER_DOMAIN test products of each domain with the shipped builder (the merchant keywords `evaluate` uses; IKEA's
product name as the brand, as its shop titles do) and counts what an editor sees at a glance: titles with a
keyword that is a phrase cut from a sentence (`listing.fragment`: ends on a function word or is an "and"-joined
pair), bullets of one word, listings with fewer than 3 bullets, and each channel's blocking violations.

`sheet` shuffles two dumps' listings of each product under letters beside the photo, the keywords and the shop's
own description (the facts), the sources in a key the reader never opens. The reader rates each listing's title
and bullets apart: `{"product": 1, "text": "A", "title": "publish" | "light edit" | "rewrite", "bullets": ...,
"problems": [...]}`. `unblind` joins the key and reports the usable share (publish or light edit) per source, and
the paired difference per product with bench/paired.py's interval.

    python bench/listing_read.py dump --label NAME [--per-domain 30] [--channel amazon]
    python bench/listing_read.py sheet bench/results/listings/A.json bench/results/listings/B.json --out DIR
    python bench/listing_read.py unblind DIR [--save TABLE.json]
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections import Counter
from pathlib import Path

import numpy as np

from ecomcopy.channels import channel, channel_names, validate
from ecomcopy.keywords import product_keywords
from ecomcopy.listing import build_listing, fragment
from ecomcopy.products import read_products
from paired import paired_interval  # bench/paired.py

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUT = Path(__file__).parent / "results" / "listings"
RATINGS = ("publish", "light edit", "rewrite")
PROBLEMS = ("fragment", "invented", "repetition", "wrong order", "too long", "jargon", "other")


def dump(label: str, per_domain: int, channel_name: str) -> dict:
    profile = channel(channel_name)
    rows = []
    for domain in ("hm", "ikea"):
        for p in read_products(DATA / domain, split="test").products[:per_domain]:
            keywords = product_keywords(p)
            brand = p.name if domain == "ikea" else ""
            built = build_listing(keywords, p.description, profile, brand=brand)
            rows.append({"id": p.id, "domain": domain, "keywords": keywords, "brand": brand, "title": built.title,
                         "bullets": built.bullets, "description_html": built.description_html,
                         "blocking": {c: [v.message for v in validate(build_listing(keywords, p.description, channel(c), brand), channel(c))
                                          if v.blocking] for c in channel_names()}})
    n = len(rows)
    counts = {"listings": n, "channel": channel_name,
              "titles_with_a_fragment_keyword": round(sum(any(fragment(k) and k in r["title"] for k in r["keywords"]) for r in rows) / n, 3),
              "mean_title_characters": round(float(np.mean([len(r["title"]) for r in rows])), 1),
              "one_word_bullets": round(sum(len(b.split()) == 1 for r in rows for b in r["bullets"]) / max(1, sum(len(r["bullets"]) for r in rows)), 3),
              "listings_under_3_bullets": round(sum(len(r["bullets"]) < 3 for r in rows) / n, 3),
              "blocking_violations": {c: sum(len(r["blocking"][c]) for r in rows) for c in channel_names()}}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{label}.json").write_text(json.dumps({"label": label, "counts": counts, "listings": rows}, indent=1, ensure_ascii=False))
    return counts


def sheet(dumps: list[Path], out: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    sets = [json.loads(p.read_text()) for p in dumps]
    truth = {p.id: p for d in ("hm", "ikea") for p in read_products(DATA / d, split="test").products}
    products, key = [], {}
    for i, rows in enumerate(zip(*(s["listings"] for s in sets)), 1):
        p = truth[rows[0]["id"]]
        texts = [(s["label"], {"title": r["title"], "bullets": r["bullets"]}) for s, r in zip(sets, rows)]
        rng.shuffle(texts)
        letters = string.ascii_uppercase[: len(texts)]
        products.append({"product": i, "photo": str((DATA / rows[0]["domain"] / p.image).resolve()), "keywords": rows[0]["keywords"],
                         "shop_description": p.description, "listings": {a: t for a, (_, t) in zip(letters, texts)}})
        key[i] = {a: src for a, (src, _) in zip(letters, texts)} | {"id": p.id}
    out.mkdir(parents=True, exist_ok=True)
    (out / "sheet.json").write_text(json.dumps({"ratings": RATINGS, "problems": PROBLEMS, "products": products}, indent=1, ensure_ascii=False))
    (out / "key.json").write_text(json.dumps(key, indent=1))
    print(f"{len(products)} products -> {out}/sheet.json (key: {out}/key.json)")


def unblind(out: Path) -> dict:
    key = json.loads((out / "key.json").read_text())
    ratings = json.loads((out / "ratings.json").read_text())
    per: dict[str, dict[str, dict[int, float]]] = {}  # field -> source -> product -> usable
    publish: dict[str, Counter] = {}  # field -> source -> listings rated publish
    problems: dict[str, Counter] = {}
    for r in ratings:
        if r["title"] not in RATINGS or r["bullets"] not in RATINGS or not set(r.get("problems", [])) <= set(PROBLEMS):
            raise SystemExit(f"invalid rating {r}")
        source = key[str(r["product"])][r["text"]]
        problems.setdefault(source, Counter()).update(r.get("problems", []))
        for f in ("title", "bullets"):
            per.setdefault(f, {}).setdefault(source, {})[r["product"]] = float(r[f] != "rewrite")
            publish.setdefault(f, Counter())[source] += r[f] == "publish"
    if sum(len(v) - 1 for v in key.values()) != len(ratings):
        raise SystemExit(f"{len(ratings)} ratings for {sum(len(v) - 1 for v in key.values())} listings: rate every one first")
    table: dict = {}
    sources = sorted(per["title"])
    for f, by_source in per.items():
        table[f] = {s: {"usable": round(float(np.mean(list(v.values()))), 3), "publish": round(publish[f][s] / len(v), 3)}
                    for s, v in by_source.items()}
        if len(sources) == 2:
            a, b = sources
            diff = np.array([by_source[a][k] - by_source[b][k] for k in by_source[a]])
            low, high = paired_interval(diff) if diff.std() else (diff.mean(), diff.mean())  # every product the same: no spread
            table[f][f"{a}_minus_{b}"] = {"mean": round(float(diff.mean()), 3), "ci95": [round(low, 3), round(high, 3)]}
    table["problems"] = {s: dict(c) for s, c in problems.items()}
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--label", required=True)
    d.add_argument("--per-domain", type=int, default=30)
    d.add_argument("--channel", default="amazon")
    s = sub.add_parser("sheet")
    s.add_argument("dumps", type=Path, nargs="+")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=0)
    u = sub.add_parser("unblind")
    u.add_argument("out", type=Path)
    u.add_argument("--save", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        print(json.dumps(dump(args.label, args.per_domain, args.channel), indent=1))
    elif args.cmd == "sheet":
        sheet(args.dumps, args.out, args.seed)
    else:
        table = unblind(args.out)
        print(json.dumps(table, indent=1))
        if args.save:
            args.save.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
