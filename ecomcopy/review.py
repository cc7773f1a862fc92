"""What a copy editor needs to judge drafts at a glance: keyword coverage, copying, length, overlap, and the
draft checker's flags (`checker.py`).

Uses the evaluation's own definitions (`metrics.py`), so what the app shows is what we measure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import combinations

from .checker import DraftCheck, DraftChecker
from .metrics import copied_run, keyword_covered, rouge_l, words
from .text import is_fragment

NEAR_DUPLICATE = 0.8  # ROUGE-L F1 between two drafts above which the later one adds nothing


@dataclass
class DraftReview:
    text: str
    covered: list[str]  # merchant keywords the draft contains (stemmed words)
    missing: list[str]
    copied: str | None  # an 8-word run of the reference's description the draft repeats
    words: int
    chars: int
    check: DraftCheck = field(default_factory=DraftCheck)  # non-words, unsupported claims, contradictions...

    @property
    def coverage(self) -> float:
        n = len(self.covered) + len(self.missing)
        return len(self.covered) / n if n else 1.0

    def to_dict(self) -> dict:
        return asdict(self) | {"coverage": round(self.coverage, 3), "check": self.check.to_dict()}

    def rank(self, max_words: int = 0) -> tuple:
        """Higher is better: within `max_words` (0 = no limit; a longer draft is one run-on sentence), clean,
        then fewer flags. Not keyword coverage: in a blind read the drafts that covered more keywords were the
        garbled ones (keywords crammed in), so coverage picks worse drafts. Before all of it, a draft must say
        something: "1." or "L." is clean, short and probable, and was shown as a draft."""
        return (not is_fragment(self.text), not max_words or self.words <= max_words, self.check.clean, -len(self.check.flags()))

    def summary(self) -> str:
        """One line for the draft list: coverage, length, and a warning when it copies the reference."""
        parts = [f"keywords {len(self.covered)}/{len(self.covered) + len(self.missing)}", f"{self.words} words"]
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.copied:
            parts.append(f'COPIES THE REFERENCE: "{self.copied}"')
        return " · ".join(parts)


def review_draft(text: str, keywords: list[str], reference_description: str = "", checker: DraftChecker | None = None) -> DraftReview:
    scored = [k for k in keywords if words(k)]
    covered = [k for k in scored if keyword_covered(k, text)]
    return DraftReview(
        text=text,
        covered=covered,
        missing=[k for k in scored if k not in covered],
        copied=copied_run(reference_description, text) if reference_description else None,
        words=len(text.split()),
        chars=len(text),
        check=checker.check(text, keywords) if checker is not None else DraftCheck(),
    )


def overlap_matrix(drafts: list[str]) -> list[list[float]]:
    """Pairwise ROUGE-L F1 between drafts (1.0 on the diagonal): how different the choices really are."""
    m = [[1.0] * len(drafts) for _ in drafts]
    for i, j in combinations(range(len(drafts)), 2):
        m[i][j] = m[j][i] = rouge_l(drafts[i], drafts[j])
    return m


def mean_overlap(drafts: list[str]) -> float | None:
    pairs = [rouge_l(a, b) for a, b in combinations(drafts, 2)]
    return sum(pairs) / len(pairs) if pairs else None


def drop_near_duplicates(drafts: list[str], threshold: float = NEAR_DUPLICATE) -> list[str]:
    """Keep a draft only if it differs enough from every draft kept before it."""
    kept: list[str] = []
    for d in drafts:
        if d and all(rouge_l(k, d) < threshold for k in kept):
            kept.append(d)
    return kept
