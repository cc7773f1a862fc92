"""Where does an edit of a draft end and a text written afresh begin? Checks `text.EDITED_FROM`, the `kept_share`
under which an approval records no draft as the one its text was edited from (`text.closest`).

Real dev descriptions of each shop stand in for drafts (one per group, so no two are colour variants of one text):
- unrelated: the description of one product against that of another product of the same shop; these are
  written afresh, so they should fall under the threshold;
- cut and added to: the first half of a description's words followed by the first sentence of another
  product's description, against the whole description; these are edits, so they should reach it.

    python bench/edited_from.py [--pairs 300] [--seed 0]   -> bench/results/ux/edited_from.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

from ecomcopy.products import read_products
from ecomcopy.text import EDITED_FROM, SENTENCE_BREAK, kept_share

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def descriptions(shop: str) -> list[str]:
    seen, out = set(), []
    for p in read_products(DATA / shop, "dev").products:
        if p.group not in seen and p.description:
            seen.add(p.group)
            out.append(p.description)
    return out


def cut_and_added(text: str, other: str) -> str:
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)]) + " " + SENTENCE_BREAK.split(other)[0]


def spread(shares: list[float]) -> dict:
    deciles = statistics.quantiles(shares, n=10)
    return {"median": round(statistics.median(shares), 3), "p10": round(deciles[0], 3), "p90": round(deciles[-1], 3),
            "at_or_over_threshold": round(sum(s >= EDITED_FROM for s in shares) / len(shares), 3)}


def measure(shop: str, pairs: int, rng: random.Random) -> dict:
    texts = descriptions(shop)
    unrelated, edited = [], []
    for _ in range(pairs):
        a, b = rng.sample(texts, 2)
        unrelated.append(kept_share(a, b))
        edited.append(kept_share(cut_and_added(a, b), a))
    return {"descriptions": len(texts), "pairs": pairs, "unrelated": spread(unrelated), "cut_and_added": spread(edited)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ux" / "edited_from.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    result = {"threshold": EDITED_FROM, "seed": args.seed, **{shop: measure(shop, args.pairs, rng) for shop in ("hm", "ikea")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
