"""How likely a copy editor is to use a draft: a logistic model fitted on blind reads' ratings.

The checker's rules name what is wrong, but of two drafts of one product in a blind read, one usable and one to
rewrite, they put the usable one first in only 57-62% of pairs, and keyword coverage did worse than chance.
What the readers struck shows on the draft's surface as much as in its flags: words repeated, long sentences,
keyword phrases pasted in, capitals mid-sentence, numbers nobody gave. The model weighs those signals and the
checker's flags as the readers' ratings did (`bench/fit_editor_score.py` fits it; the weights and the record
of what they were fitted and held out on are in `assets/ranking/editor_score.json`). Cheap: no model pass.
It ranks rated drafts better than the checker's flags, yet the drafts it chose read no better in a blind read
(docs/EVALUATION.md, "The editor score"), so it is the ranking option `editor`, not the default.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .config import EDITOR_SCORE_PATH
from .metrics import words
from .text import SENTENCE_BREAK

if TYPE_CHECKING:  # review.py imports the checker; this module needs only the review's fields
    from .review import DraftReview

# the words a sentence is held together by; a keyword list has few of them
FUNCTION_WORDS = frozenset(
    "a an the and or but with without in on at of for to from by as into onto over under that which while "
    "is are be has have its it this these your you so".split()
)


def draft_features(review: "DraftReview") -> dict[str, float]:
    """The signals the model weighs, from a `review.DraftReview` (its text, keywords and checker flags)."""
    text, check = review.text.strip(), review.check
    ws = words(text)
    n = max(len(ws), 1)
    sentences = [s for s in SENTENCE_BREAK.split(text) if s]
    keyword_words = {w for k in review.covered + review.missing for w in words(k)}
    phrases = [" ".join(words(k)) for k in review.covered if len(words(k)) > 1]
    tokens = text.split()
    capitals = sum(1 for prev, t in zip(tokens, tokens[1:]) if t[:1].isupper() and not prev.endswith((".", "!", "?")))
    return {
        "words": len(ws),
        "words_squared": len(ws) ** 2 / 100,
        "sentences": len(sentences),
        "longest_sentence": max((len(words(s)) for s in sentences), default=0),
        "keyword_word_share": sum(w in keyword_words for w in ws) / n,
        "keyword_phrases_pasted": sum(p in " ".join(ws) for p in phrases),
        "function_word_share": sum(w in FUNCTION_WORDS for w in ws) / n,
        "commas_per_word": text.count(",") / n,
        "capitals_mid_sentence": capitals,
        "has_digit": float(any(ch.isdigit() for ch in text)),
        "opens_with_keyword": float(bool(ws) and ws[0] in keyword_words),
        "ends_with_stop": float(text.endswith((".", "!", "?"))),
        "repeated_word_share": 1 - len(set(ws)) / n,
        "slash": float("/" in text),
        "keyword_coverage": review.coverage,
        "clean": float(check.clean),
        "non_words": len(check.non_words),
        "unsupported": len(check.unsupported),
        "contradictions": len(check.contradictions) + len(check.conflicts),
        "stuffing": len(check.stuffing),
        "unlikely_parts": len(check.unlikely),
        "cut_off": float(check.truncated),
    }


@dataclass
class EditorScore:
    """Log-odds that an editor uses the draft (publish or light edit) rather than rewrites it."""
    weights: dict[str, float]  # per feature, on the standardised feature
    mean: dict[str, float]
    scale: dict[str, float]
    bias: float
    record: dict  # what it was fitted on and how well it ranks held-out reads

    def __call__(self, review: "DraftReview") -> float:
        x = draft_features(review)
        return self.bias + sum(w * (x[k] - self.mean[k]) / self.scale[k] for k, w in self.weights.items())

    def usable_chance(self, review: "DraftReview") -> float:
        return 1 / (1 + math.exp(-self(review)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "EditorScore":
        return cls(**json.loads(Path(path).read_text()))


@lru_cache(maxsize=1)
def shipped_editor_score() -> EditorScore | None:
    """The shipped model, or None where it is not shipped (`ranking="editor"` then falls back to the flags)."""
    return EditorScore.load(EDITOR_SCORE_PATH) if EDITOR_SCORE_PATH.exists() else None
