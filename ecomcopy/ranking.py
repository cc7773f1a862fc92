"""Sample-and-rank: of the candidates sampled for a request, show the best n distinct ones.

An editor reads the drafts shown, not the ones sampled: a draft that rambles, that the checker flags or that
an editor would rewrite is replaced by a better candidate from the same batched decode, at the cost of a
wider batch rather than another request. Each candidate is first cut to its whole sentences within the word
limit (`text.first_sentences`): the model's first sentence is its best, and what follows is where it rambles.
Then the order: a draft that says something, within the limit, clean by the checker, then fewer flags or, with
`ranking="editor"`, the editor score (`editor_score.py`, fitted on blind reads' ratings: it orders rated drafts
better, yet the drafts it showed read no better; docs/EVALUATION.md, "The editor score").
"""

from __future__ import annotations

from .checker import DraftChecker
from .editor_score import shipped_editor_score
from .review import DraftReview, drop_near_duplicates, review_draft
from .sampler import Draft
from .text import first_sentences


def review_rank(review: DraftReview, max_words: int = 0, ranking: str = "rules") -> tuple:
    """Higher is better. "editor": among clean drafts (or among flagged ones) the editor score in place of the
    flag count; clean stays first, so a specific nobody gave is shown only when every candidate has one (the
    readers did not always strike those; the checker does)."""
    rules = review.rank(max_words)  # (says something, within the limit, clean, -flags)
    score = shipped_editor_score() if ranking == "editor" else None
    return rules[:3] + (score(review),) if score is not None else rules


def draft_rank(draft: Draft, keywords: list[str], checker: DraftChecker | None, max_words: int = 0,
               ranking: str = "rules") -> tuple:
    """`review_rank`, then the LM's mean log-probability."""
    return review_rank(review_draft(draft.text, keywords, "", checker), max_words, ranking) + (draft.logprob,)


def best_drafts(candidates: list[Draft], n: int, keywords: list[str], checker: DraftChecker | None,
                max_words: int = 0, ranking: str = "rules") -> list[str]:
    """The n best distinct candidates, each cut to `max_words`, best first (fewer when fewer distinct ones)."""
    cut = [Draft(first_sentences(d.text, max_words), d.logprob) for d in candidates]
    ranked = sorted(cut, key=lambda d: draft_rank(d, keywords, checker, max_words, ranking), reverse=True)
    return drop_near_duplicates([d.text for d in ranked])[:n]
