"""The copy guard: a draft may not repeat 8 consecutive words of its reference's description.

Why words and not tokens: the shop's rule (and the copy rate) counts lower-cased words without
punctuation, so a token-level n-gram ban (`generate.NgramBan`) both lets re-cased or re-punctuated copies
through ("waist. 40 denier" / "waist, 40 denier") and forbids more than the rule does (8 tokens are about 6
words), which costs accuracy on formulaic copy like H&M's, where shared 5-7 word phrases are the house style.
"""

from __future__ import annotations

import re

import torch

from .generate import visible_text
from .metrics import words

COPY_RUN = 8  # words: the copy rate's run length (metrics.copies)
_ENDS_IN_WORD = re.compile(r"[a-z0-9]$")  # the characters metrics.words counts
_CHECKED = 50  # candidates checked per round: the sampler's top-k (generate.TOP_K)


def _split(text: str) -> tuple[list[str], str]:
    """(complete words, the word still being written or "") of a draft so far."""
    ws = words(text)
    return (ws[:-1], ws[-1]) if ws and _ENDS_IN_WORD.search(text.lower()) else (ws, "")


class _WordGuard:
    """What both word-level guards share: the token texts, and banning the candidates sampling could pick
    (the top `_CHECKED`, re-checked after each ban) whose text would break the guard's rule."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._pieces: dict[int, str] = {}

    def _piece(self, token: int) -> str:
        if token not in self._pieces:
            self._pieces[token] = self.tokenizer.decode([token])
        return self._pieces[token]

    def _near(self, done: list[str]) -> bool:
        """Could a token from here break the rule? False lets a draft skip the candidate checks."""
        raise NotImplementedError

    def breaks(self, text: str) -> bool:
        """Would a draft whose shown text is `text` break the rule?"""
        raise NotImplementedError

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for b, seq in enumerate(input_ids.tolist()):
            text = self.tokenizer.decode(seq, skip_special_tokens=True)
            if "\n" in text:  # the draft has ended
                continue
            done, partial = _split(visible_text(text))  # what the copy rate will read
            if not self._near(done) and not (partial and self._near(done + [partial])):
                continue
            checked: set[int] = set()
            while True:
                top = [t for t in scores[b].topk(min(_CHECKED, scores.shape[-1])).indices.tolist() if t not in checked]
                checked.update(top)
                bad = [t for t in top if self.breaks(visible_text(text + self._piece(t)))]
                if not bad:
                    break
                scores[b, bad] = -float("inf")
        return scores


class WordRunGuard(_WordGuard):
    """Bans, at each step, the candidate tokens that would begin the n-th word of a run of the reference.

    A draft whose last n-1 words are a run of the reference may not start writing that run's next word (any
    prefix of it, in any case), so no draft ever holds n reference words in a row. Checks only drafts whose
    last words already follow the reference for n-3 words or more (a token adds at most two word
    boundaries), and only the candidates that sampling could pick, so it costs nothing on most steps. Call it
    like a logits processor: (ids, scores) -> scores.
    """

    def __init__(self, tokenizer, reference: str, n: int = COPY_RUN) -> None:
        super().__init__(tokenizer)
        self.n = n
        ref = words(reference)
        self.runs = {tuple(ref[i : i + n]) for i in range(len(ref) - n + 1)}
        self.next_word: dict[tuple[str, ...], set[str]] = {}  # n-1 words -> the words that would complete a run
        for r in self.runs:
            self.next_word.setdefault(r[:-1], set()).add(r[-1])
        self.grams = {tuple(ref[i : i + k]) for k in range(1, n) for i in range(len(ref) - k + 1)}

    def _near(self, done: list[str]) -> bool:
        """True when the draft's last n-3 or more complete words are a run of the reference."""
        k = self.n - 3
        return len(done) >= k and tuple(done[-k:]) in self.grams

    def breaks(self, text: str) -> bool:
        return self.copies(text)

    def copies(self, text: str) -> bool:
        """Would a draft ending in `text` hold n reference words in a row, or be writing the n-th?"""
        done, partial = _split(text)
        tail = done[-(self.n + 2) :]
        if any(tuple(tail[i : i + self.n]) in self.runs for i in range(len(tail) - self.n + 1)):
            return True
        return bool(partial) and any(w.startswith(partial) for w in self.next_word.get(tuple(done[-(self.n - 1) :]), ()))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return super().__call__(input_ids, scores) if self.runs else scores


def _earlier(done: list[str], k: int) -> set[tuple[str, ...]]:
    """The k-word runs of `done` that end before its last word."""
    return {tuple(done[i : i + k]) for i in range(len(done) - k)}


class WordRepeatGuard(_WordGuard):
    """A draft may not repeat a run of n of its own words (a word-level `no_repeat`): it may not begin a word
    that would make its last n words a run it has already written. Unlike transformers'
    `NoRepeatNGramLogitsProcessor` it counts words, so it does not push the model into another spelling of a
    token it may not repeat ("trIMS")."""

    def __init__(self, tokenizer, n: int) -> None:
        super().__init__(tokenizer)
        self.n = n

    def _near(self, done: list[str]) -> bool:
        """True when the draft's last n-2 words (at least one) already occur earlier in it."""
        k = max(1, self.n - 2)
        return len(done) > k and tuple(done[-k:]) in _earlier(done, k)

    def breaks(self, text: str) -> bool:
        """Would a draft ending in `text` hold a run of n words twice, or be writing that run's n-th word?"""
        done, partial = _split(text)
        n = self.n
        if len(done) > n and tuple(done[-n:]) in _earlier(done, n):
            return True
        if not partial or len(done) < n - 1:
            return False
        key = tuple(done[len(done) - (n - 1) :])
        followers = {done[i + n - 1] for i in range(len(done) - n + 1) if tuple(done[i : i + n - 1]) == key}
        return any(w.startswith(partial) for w in followers)
