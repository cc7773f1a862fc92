"""Sample-and-rank: of the candidates sampled for a request, show the best n distinct ones.

An editor reads the drafts shown, not the ones sampled: a draft the checker flags, that misses the merchant's
keywords or that the LM itself finds unlikely (garbled wording scores low) is replaced by a better candidate
from the same batched decode, at the cost of a wider batch rather than another request.
"""

from __future__ import annotations

from .checker import DraftChecker
from .review import drop_near_duplicates, review_draft
from .sampler import Draft


def draft_rank(draft: Draft, keywords: list[str], checker: DraftChecker | None) -> tuple:
    """Higher is better: clean by the checker, fewer flags, keyword coverage, then the LM's mean log-probability."""
    return review_draft(draft.text, keywords, "", checker).rank() + (draft.logprob,)


def best_drafts(candidates: list[Draft], n: int, keywords: list[str], checker: DraftChecker | None) -> list[str]:
    """The n best distinct candidates, best first (fewer when fewer distinct ones were sampled)."""
    ranked = sorted(candidates, key=lambda d: draft_rank(d, keywords, checker), reverse=True)
    return drop_near_duplicates([d.text for d in ranked])[:n]
