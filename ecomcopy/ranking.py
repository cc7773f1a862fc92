"""Sample-and-rank: of the candidates sampled for a request, show the best n distinct ones.

An editor reads the drafts shown, not the ones sampled: a draft that rambles, that the checker flags or that
the LM itself finds unlikely is replaced by a better candidate from the same batched decode, at the cost of a
wider batch rather than another request. Each candidate is first cut to its whole sentences within the word
limit (`text.first_sentences`): the model's first sentence is its best, and what follows is where it rambles.
"""

from __future__ import annotations

from .checker import DraftChecker
from .review import drop_near_duplicates, review_draft
from .sampler import Draft
from .text import first_sentences


def draft_rank(draft: Draft, keywords: list[str], checker: DraftChecker | None, max_words: int = 0) -> tuple:
    """Higher is better: within the word limit (a longer one is a single run-on sentence), clean by the checker,
    fewer flags, then the LM's mean log-probability."""
    review = review_draft(draft.text, keywords, "", checker)
    return review.rank(max_words) + (draft.logprob,)


def best_drafts(candidates: list[Draft], n: int, keywords: list[str], checker: DraftChecker | None,
                max_words: int = 0) -> list[str]:
    """The n best distinct candidates, each cut to `max_words`, best first (fewer when fewer distinct ones)."""
    cut = [Draft(first_sentences(d.text, max_words), d.logprob) for d in candidates]
    ranked = sorted(cut, key=lambda d: draft_rank(d, keywords, checker, max_words), reverse=True)
    return drop_near_duplicates([d.text for d in ranked])[:n]
