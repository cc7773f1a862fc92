"""The spelling guard: a draft may only write words that the draft checker knows.

Ranking can only demote a draft with a non-word ("ribb cuffs", "a hemnet at the bottom"), and of the four shown
out of twelve candidates some still had one; a copy editor reads such a draft as garbled whatever else it says.
While sampling, each candidate token is checked against the word it would finish or begin: a finished word must
be one `DraftChecker.is_word` accepts (pyspellchecker's English list, the catalog's words, the keywords'), a word
still being written must be the start of one. The model is then steered to a word it knows how to end
("ribb" -> "ribbed") instead of being flagged after the fact.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

import torch

from .checker import DraftChecker, dictionary, said_words
from .config import TOP_K
from .text import token_text

_TAIL = re.compile(r".?[A-Za-z'’]*$")  # a draft's unfinished word, with the character before it
_RUN = re.compile(r"[A-Za-z][A-Za-z'’]*")  # a word as the checker reads it ("isn't", "women's"); a hyphen splits
_ROUNDS = 4  # rounds of checking the top candidates before the guard looks for a word's ending instead
_ENDINGS = 20  # words a fragment can become, tried when no likely token spells a word
_TAIL_TOKENS = 16  # tokens decoded to find the unfinished word


@lru_cache(maxsize=4)
def known_words(vocabulary: frozenset[str]) -> tuple[str, ...]:
    """The dictionary's words and the catalog's, sorted: the words a fragment can still become are a range."""
    return tuple(sorted(set(dictionary().word_frequency.keys()) | vocabulary))


@lru_cache(maxsize=4)
def word_starts(vocabulary: frozenset[str]) -> frozenset[str]:
    """Every start of every known word (380k for the dictionary alone; built once per catalog, about 1 s)."""
    return frozenset(w[:i] for w in known_words(vocabulary) for i in range(3, len(w) + 1))


class SpellingGuard:
    """A logits processor ((ids (B, t), scores (B, V)) -> scores) that bans the likely tokens which would
    write a non-word. Where every likely token would, the draft may only finish the word it began; where
    nothing finishes it, the step is left as it was (the checker then flags the draft and ranking demotes it)."""

    def __init__(self, tokenizer, checker: DraftChecker, keywords: list[str]) -> None:
        self.tokenizer, self.checker = tokenizer, checker
        self.said = said_words(" ".join(keywords))
        self.starts = word_starts(checker.vocabulary)
        self.said_starts = {w[:i] for w in self.said for i in range(3, len(w) + 1)}

    def allows(self, tail: str, piece: str) -> bool:
        """Whether a draft ending in `tail` (its unfinished word, see `_TAIL`) may go on with `piece`."""
        text = tail + piece
        for run in _RUN.finditer(text):
            word, start, end = run.group(0).lower().replace("’", "'"), run.start(), run.end()
            bare = word.rstrip("'")  # a closing quote or a possessive's apostrophe is not part of the word
            after_number, before_number = start > 0 and text[start - 1].isdigit(), end < len(text) and text[end].isdigit()
            if len(bare) >= 3 and before_number and not after_number:
                return False  # a word run into a number ("four0"), `checker.GLUED`
            if len(bare) < 3 or after_number or before_number:  # "3D", "A4": numbers are other rules' business
                continue
            if end == len(text):  # still being written: the start of a known word, or one with its apostrophe
                known = word in self.starts or word in self.said_starts or self.checker.is_word(word, self.said)
                if not known and not (word.count("'") == 1 and word.endswith("'") and self.checker.is_word(bare, self.said)):
                    return False
            elif word.endswith("''") or not self.checker.is_word(bare, self.said):
                return False
        return True

    def _endings(self, tail: str) -> list[int]:
        """The first token of each way to finish the word being written ("hemn" -> "es" of HEMNES), for a draft
        whose likely tokens all misspell: it ends the word it began instead of writing "hemnament"."""
        fragment = re.search(r"[A-Za-z][A-Za-z']*$", tail.replace("’", "'"))
        if fragment is None:
            return []
        start, words = fragment.group(0).lower(), known_words(self.checker.vocabulary)
        i, rests = bisect.bisect_left(words, start), []
        while i < len(words) and words[i].startswith(start) and len(rests) < _ENDINGS:
            rests += [words[i][len(start):]] if len(words[i]) > len(start) else []
            i += 1
        rests += [w[len(start):] for w in self.said if w.startswith(start) and len(w) > len(start)]
        firsts = {ids[0] for r in rests if (ids := self.tokenizer.encode(r, add_special_tokens=False))}
        return sorted(t for t in firsts if self.allows(tail, token_text(self.tokenizer, t)))

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        live = torch.isfinite(scores).any(-1).tolist()  # rows of drafts that have ended are all -inf
        for b, seq in enumerate(input_ids.tolist()):
            if not live[b]:
                continue
            tail = _TAIL.search(self.tokenizer.decode(seq[-_TAIL_TOKENS:], skip_special_tokens=True)).group(0)
            before, checked, good = scores[b].clone(), set(), []
            for _ in range(_ROUNDS):
                vals, idx = scores[b].topk(min(TOP_K, scores.shape[-1]))
                top = [t for v, t in zip(vals.tolist(), idx.tolist()) if v > -float("inf") and t not in checked]
                checked.update(top)
                bad = [t for t in top if not self.allows(tail, token_text(self.tokenizer, t))]
                good += [t for t in top if t not in bad]
                if not bad:
                    break
                scores[b, bad] = -float("inf")
            else:  # the likely tokens are mostly misspellings: sample among the ones checked good, or an ending
                keep = good or self._endings(tail)
                scores[b] = torch.full_like(before, -float("inf")).index_copy_(0, torch.tensor(keep), before[keep]) if keep else before
            if not bool(torch.isfinite(scores[b]).any()):
                scores[b] = before  # every token it could write misspells: the step is the model's
        return scores
