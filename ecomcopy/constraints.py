"""Logit rules for the next token of a draft, and the one factory that composes them for a request.

In order: keyword emphasis (`KeywordBoost`, a nudge towards the merchant's keywords), then the hard rules: the
repetition limit (`WordRepeatGuard`, or transformers' processor on tokens) and the copy guard (`WordRunGuard`:
no 8 consecutive words of the reference; `NgramBan`: the older 8-token ban). A banned token stays banned.

Why the copy guard counts words and not tokens: the shop's rule (and the copy rate) counts lower-cased words
without punctuation, so a token-level ban both lets re-cased or re-punctuated copies through ("waist. 40 denier"
/ "waist, 40 denier") and forbids more than the rule does (8 tokens are about 6 words), which costs accuracy on
formulaic copy like H&M's, where shared 5-7 word phrases are the house style.
"""

from __future__ import annotations

import re

import torch

from .config import TOP_K, SamplingConfig
from .metrics import words
from .spelling import SpellingGuard
from .text import STOP, token_text, visible_text


class KeywordBoost:
    """A soft lexical constraint: the merchant's keywords get a logit bonus until a draft has written them.

    Merchants expect the phrases they typed ("tie belt", "satin") in the copy, and the model alone used few
    of them. Each keyword is a few token sequences (its mid-sentence spellings: as typed, lower-case,
    capitalised). From a draft's second token on (the model alone chooses how a draft opens: boosted from the
    first token, drafts tended to open with a list of the keywords), while a draft has not written a keyword,
    the first token of each spelling gets +strength, and a spelling it has begun gets +strength on its next
    token instead; once written, the keyword is left alone. A nudge, not a rule (unlike constrained beam
    search): the model still decides, and `NgramBan` wins. Stateful per `decode` call: it tracks which
    keywords each draft has written. `mode` "word": a keyword counts as written once any of its words is
    ("khaki" of "Khaki green"), so a half-written keyword is not pushed in again; "once": also pushed away after.
    """

    def __init__(self, tokenizer, keywords: list[str], strength: float, mode: str = "phrase") -> None:
        self.strength, self.mode = strength, mode
        self.spellings: list[list[tuple[int, ...]]] = []  # per keyword: its spellings' token ids
        self.word_spellings: list[list[tuple[int, ...]]] = []  # per keyword: its words' (mode "word"/"once")
        for k in keywords:
            seqs = _spellings(tokenizer, [k])
            if seqs:
                self.spellings.append(seqs)
                words = [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", k) if len(w) > 2]
                self.word_spellings.append(_spellings(tokenizer, words) or seqs)
        self._written: list[set[int]] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] == 0:  # a new decode: nothing written yet, and the opening is the model's
            self._written = [set() for _ in range(scores.shape[0])]
            return scores
        for b, seq in enumerate(input_ids.tolist()):
            written, boosted = self._written[b], set()
            for k, spellings in enumerate(self.spellings):
                if k in written:
                    continue
                done = self.word_spellings[k] if self.mode != "phrase" else spellings
                if any(tuple(seq[-len(s):]) == s for s in done if len(seq) >= len(s)):
                    written.add(k)
                    continue
                boosted.update(_next_tokens(seq, spellings))
            if boosted:
                scores[b, list(boosted)] += self.strength
            if self.mode == "once" and written:  # written: let it go, and do not write it again
                again = {s[0] for k in written for s in self.spellings[k]} - boosted
                scores[b, list(again)] -= self.strength
        return scores


def _spellings(tokenizer, phrases: list[str]) -> list[tuple[int, ...]]:
    """Each phrase's mid-sentence spellings (as typed, lower-case, capitalised) as token ids."""
    forms = {f for p in phrases for f in (p, p.lower(), p[:1].upper() + p[1:])}
    return sorted({tuple(tokenizer(" " + f, add_special_tokens=False).input_ids) for f in forms} - {()})


def _next_tokens(seq: list[int], spellings: list[tuple[int, ...]]) -> set[int]:
    """For each spelling, the token that continues its longest begun part, or its first token."""
    out = set()
    for s in spellings:
        nxt = s[0]
        for j in range(min(len(s) - 1, len(seq)), 0, -1):
            if tuple(seq[-j:]) == s[:j]:
                nxt = s[j]
                break
        out.add(nxt)
    return out


def reference_ngram_ban(tokenizer, reference: str, n: int = 8) -> list[list[int]]:
    """Token n-grams of the reference description, for `NgramBan`: a draft may not reproduce any run of n
    tokens of it (both the sentence-initial and the mid-sentence tokenisation are banned)."""
    banned: set[tuple[int, ...]] = set()
    for text in (reference, " " + reference):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        banned.update(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    return [list(g) for g in sorted(banned)]


class NgramBan:
    """Bans n-grams at O(1) a step: a dict from the last n-1 tokens to the banned next tokens.

    transformers' NoBadWordsLogitsProcessor compares every banned sequence at every step (about 1 s of a
    4-draft request for a 60-word reference)."""

    def __init__(self, ngrams: list[list[int]]) -> None:
        self.n = len(ngrams[0]) if ngrams else 0
        self.next: dict[tuple[int, ...], list[int]] = {}
        for g in ngrams:
            self.next.setdefault(tuple(g[:-1]), []).append(g[-1])

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.next or input_ids.shape[1] < self.n - 1:
            return scores
        for b, tail in enumerate(input_ids[:, input_ids.shape[1] - (self.n - 1) :].tolist()):
            banned = self.next.get(tuple(tail))
            if banned:
                scores[b, banned] = -float("inf")
        return scores


COPY_RUN = 8  # words: the copy rate's run length (metrics.copies)
_ENDS_IN_WORD = re.compile(r"[a-z0-9]$")  # the characters metrics.words counts
_CHECKED = TOP_K  # candidates checked per round: those the sampler could pick
_ROUNDS = 8  # rounds of checking before a guard gives up on a draft (400 candidates all breaking its rule)


def _split(text: str) -> tuple[list[str], str]:
    """(complete words, the word still being written or "") of a draft so far."""
    ws = words(text)
    return (ws[:-1], ws[-1]) if ws and _ENDS_IN_WORD.search(text.lower()) else (ws, "")


class _WordGuard:
    """What both word-level guards share: banning the candidates sampling could pick
    (the top `_CHECKED`, re-checked after each ban) whose text would break the guard's rule."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    def _near(self, done: list[str]) -> bool:
        """Could a token from here break the rule? False lets a draft skip the candidate checks."""
        raise NotImplementedError

    def breaks(self, text: str) -> bool:
        """Would a draft whose shown text is `text` break the rule?"""
        raise NotImplementedError

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for b, seq in enumerate(input_ids.tolist()):
            text = self.tokenizer.decode(seq, skip_special_tokens=True)
            if STOP in text:  # the draft has ended
                continue
            done, partial = _split(visible_text(text))  # what the copy rate will read
            if not self._near(done) and not (partial and self._near(done + [partial])):
                continue
            checked: set[int] = set()
            for _ in range(_ROUNDS):
                top = [t for t in scores[b].topk(min(_CHECKED, scores.shape[-1])).indices.tolist() if t not in checked]
                checked.update(top)
                bad = [t for t in top if self.breaks(visible_text(text + token_text(self.tokenizer, t)))]
                if not bad:
                    break
                scores[b, bad] = -float("inf")
            else:  # every likely token breaks the rule (e.g. inside markup the reader never sees): no token is left,
                scores[b] = -float("inf")  # and the sampler ends the draft here
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


class LogitRules:
    """The rules of one decode, applied in order to (drafts so far (B, t), logits (B, V)) -> logits."""

    def __init__(self, boost: KeywordBoost | None, hard: list) -> None:
        self.boost = boost
        self.hard = hard  # processors called like transformers' LogitsProcessor: (ids, scores) -> scores

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()  # the logits may be the model's own output buffer
        if self.boost is not None:
            scores = self.boost(input_ids, scores)
        for rule in self.hard:
            scores = rule(input_ids, scores)
        return scores


def logit_rules(tokenizer, cfg: SamplingConfig, keywords: list[str] = (), reference: str | None = None,
                checker=None) -> LogitRules | None:
    """The rules for one request (None when there are none): `cfg.keyword_boost` towards `keywords`, the
    repetition limit `cfg.no_repeat`, `cfg.copy_guard` against `reference` (None: no reference to guard), and
    `cfg.spelling` with the words `checker` (a `checker.DraftChecker`; None: no guard) knows."""
    boost = KeywordBoost(tokenizer, list(keywords), cfg.keyword_boost, cfg.keyword_mode) if keywords and cfg.keyword_boost > 0 else None
    hard = []
    if cfg.no_repeat:
        if cfg.no_repeat_unit == "words":
            hard.append(WordRepeatGuard(tokenizer, cfg.no_repeat))
        else:
            from transformers import NoRepeatNGramLogitsProcessor  # tokens: transformers' own

            hard.append(NoRepeatNGramLogitsProcessor(cfg.no_repeat))
    guard = reference_guard(tokenizer, reference, cfg.copy_guard)
    hard += [guard] if guard is not None else []
    if cfg.spelling and checker is not None:
        hard.append(SpellingGuard(tokenizer, checker, list(keywords)))
    return LogitRules(boost, hard) if boost is not None or hard else None


def reference_guard(tokenizer, reference: str | None, kind: str):
    """The rule that keeps drafts from copying `reference` (None when there is no reference)."""
    if not reference:
        return None
    if kind == "words":
        return WordRunGuard(tokenizer, reference)
    ngrams = reference_ngram_ban(tokenizer, reference)
    return NgramBan(ngrams) if ngrams else None
