"""Count the drafts that read badly in ways ROUGE-L does not see, in `evaluate --json` results.

- list opening: the draft opens with a list of keywords (its first comma within 25 characters and two or more
  commas in all), e.g. "Leggings/Tights, wide lace trim, top and silicone, semi shiny stay-ups.";
- respelt or doubled word: capitals inside a lower-case word ("trIMS") or a word written twice in a row
  ("jersey jersey"), what token-level bans can push a model into;
- loop: the draft writes some run of 4 words twice ("rounded hem and a zip down the middle, rounded hem and a zip
  down the middle"), what a repetition limit is for;
- fragment: no two words of two letters or more ("1.", "L.", "4/5.0."; `ecomcopy.text.is_fragment`), what the
  sentence cut made of a numbered first line before ranking demoted such drafts.

    python bench/draft_oddities.py bench/results/dev-variants/dev_hm_60_words.json [more.json ...] [--method modict]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from ecomcopy.metrics import distinct_n
from ecomcopy.text import is_fragment

_ODD_WORD = re.compile(r"\b[a-z]+[A-Z]+\w*|\b(\w+) \1\b")


def list_opening(draft: str) -> bool:
    return draft.count(",") >= 2 and draft.index(",") < 25


def odd_word(draft: str) -> bool:
    return bool(_ODD_WORD.search(draft))


def loops(draft: str, n: int = 4) -> bool:
    return distinct_n([draft], n) < 1.0  # some n-word run occurs twice


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+")
    ap.add_argument("--method", default="modict")
    args = ap.parse_args()
    print("| result | greedy drafts | list openings | respelt or doubled words | loops | sampled drafts | list openings | respelt or doubled words | loops | fragments |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in args.results:
        products = json.loads(Path(f).read_text())["products"]
        greedy = [p["drafts"][args.method]["greedy"] for p in products]
        sampled = [d for p in products for d in p["drafts"][args.method]["sampled"]]
        counts = [len(greedy), sum(map(list_opening, greedy)), sum(map(odd_word, greedy)), sum(map(loops, greedy)),
                  len(sampled), sum(map(list_opening, sampled)), sum(map(odd_word, sampled)), sum(map(loops, sampled)),
                  sum(map(is_fragment, sampled))]
        print(f"| {Path(f).stem} | " + " | ".join(map(str, counts)) + " |")


if __name__ == "__main__":
    main()
