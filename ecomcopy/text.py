"""Draft cleaning: what of a model's continuation becomes a draft (its first line, no markup, no cut-off sentence)."""

from __future__ import annotations

import difflib
import re

STOP = "\n"  # the prompt puts each description on one line
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_MARKUP = re.compile(r"<[^<>]{0,200}(?:>|$)")  # HTML/XML tags (or one cut off at the end): product copy is plain text


def token_text(tokenizer, token: int) -> str:
    """One token's text, decoded once per tokenizer: the word guards ask for the same few thousand tokens at
    every step of every draft."""
    table = tokenizer.__dict__.setdefault("_ecomcopy_token_texts", {})
    if token not in table:
        table[token] = tokenizer.decode([token])
    return table[token]


def visible_text(text: str) -> str:
    """What of a draft will be shown: its first line, without markup tags (spacing kept)."""
    return _MARKUP.sub(" ", text.split(STOP, 1)[0])


def clean_partial(text: str) -> str:
    """A draft still being written: its first line only, without markup tags."""
    return " ".join(visible_text(text).split())


_LABEL = re.compile(r"\s*(?:Keywords|Description):")  # the model began the next example: the draft ended before it


def clean_draft(text: str) -> str:
    """Keep the first line; if the length limit cut a sentence, drop the unfinished tail."""
    text = clean_partial(text)
    text = _LABEL.split(text, maxsplit=1)[0].strip()
    if text.count('"') % 2:  # a quote the model opened (or closed) and never matched
        text = text[1:].lstrip() if text.startswith('"') else text[:-1].rstrip() if text.endswith('"') else text
    if text and text[-1] not in ".!?":
        ends = list(_SENTENCE_END.finditer(text))
        if ends:
            text = text[: ends[-1].end()]
    return text


def dedupe(drafts: list[str]) -> list[str]:
    """Drop empty drafts and exact duplicates (ignoring case and spacing), keeping the first."""
    seen, out = set(), []
    for d in drafts:
        key = " ".join(d.lower().split())
        if key and key not in seen:
            seen.add(key)
            out.append(d)
    return out


SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")  # a word of two letters or more


def is_fragment(text: str) -> bool:
    """No two words of two letters or more: a list number ("1."), a size ("L."), a figure ("4/5.0."), not copy."""
    return len(_LETTER_WORD.findall(text)) < 2


def whole_sentences(text: str) -> list[str]:
    """The text's sentences, a fragment ending in a full stop joined to the sentence after it ("1. Jersey top…",
    "Size L. Soft…" are one sentence each, not "1." and "L." on their own)."""
    out: list[str] = []
    for piece in SENTENCE_BREAK.split(text):
        if out and is_fragment(out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def first_sentences(text: str, max_words: int) -> str:
    """The draft's whole sentences while they fit in `max_words` (the first always kept; 0 = all). The model
    writes its best sentence first and rambles after: in a blind read, drafts of 20 words or more were garbled."""
    if not max_words:
        return text
    kept, words = [], 0
    for sentence in whole_sentences(text):
        words += len(sentence.split())
        if kept and words > max_words:
            break
        kept.append(sentence)
    return " ".join(kept)


def settled(text: str, max_words: int) -> bool:
    """Whether more tokens can no longer change what of this unfinished draft is shown (`clean_draft`, then
    `first_sentences`): it began a label, or a whole sentence is kept and the words run past `max_words`, so
    the sentence being written will be cut. Sampling it further would cost decode steps for nothing."""
    text = clean_partial(text)
    if _LABEL.search(text):
        return True
    words = 0
    for i, sentence in enumerate(whole_sentences(text.lstrip('"'))) if max_words else ():
        words += len(sentence.split())
        if i and words > max_words:
            return True
    return False


def strike(text: str, claims: list[str]) -> str:
    """The text without the claims an editor struck. A word (a colour, a material) goes alone, with the 'and'
    that joined it; a specific ("330 ml", "pack of 3") takes the comma-separated part of its sentence that
    says it, or the whole sentence when nothing else is in it (or only the words, if nothing would be left)."""
    for claim in claims:
        found = re.compile(rf"(?<![\w-]){re.escape(claim)}(?![\w-])", re.IGNORECASE)
        if not claim.strip() or not found.search(text):
            continue
        if " " not in claim.strip():
            w = found.pattern  # "blue and white" / "white, blue and black" / "white and blue" / "blue"
            joined = rf"{w}\s+(?:and|or)\s+|,\s*{w}(?=\s+(?:and|or)\b)|\s+(?:and|or)\s+{w}|{w}\s*"
            text = re.sub(joined, "", text, flags=re.IGNORECASE)
        else:
            kept = [s for s in (_without(s, found) for s in SENTENCE_BREAK.split(text)) if s]
            text = " ".join(kept) if kept else found.sub("", text)
    return _tidy(text)


def _without(sentence: str, found: re.Pattern) -> str:
    """A sentence without its comma-separated parts that match (empty when none is left)."""
    if not found.search(sentence):
        return sentence
    end = sentence[-1] if sentence[-1] in ".!?" else ""
    parts = [p for p in sentence.rstrip(".!?").split(",") if p.strip() and not found.search(p)]
    if not parts:
        return ""
    out = ",".join(parts).strip()
    return out[0].upper() + out[1:] + end


def _tidy(text: str) -> str:
    """Spacing and punctuation after a cut, each sentence starting with a capital."""
    text = re.sub(r",\s*([.!?])", r"\1", re.sub(r"\s+([,.!?])", r"\1", " ".join(text.split()))).strip()
    return " ".join(s[:1].upper() + s[1:] for s in SENTENCE_BREAK.split(text))


EDITED_FROM = 0.45  # `closest`: the share of a text's words kept below which it counts as written afresh
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _size(tokens: list[str]) -> int:
    return sum(len(t) for t in tokens)


def _kept(words: list[str], tokens: list[str]) -> int:
    """The characters of `words` found, in order and as whole tokens, in `tokens`."""
    blocks = difflib.SequenceMatcher(None, words, tokens, autojunk=False).get_matching_blocks()
    return sum(_size(words[b.a:b.a + b.size]) for b in blocks)


def _share(kept: int, a: int, b: int) -> float:
    """`kept` characters as a share of the shorter of two texts of `a` and `b` characters (1.0 when either is empty)."""
    shorter = min(a, b)
    return kept / shorter if shorter else 1.0


def kept_share(text: str, draft: str) -> float:
    """How much an edit kept of `draft`: the characters of whole words kept in order, as a share of the shorter of
    `text` and `draft` (1.0 when either is empty). `bench/edited_from.py` measures it on edits and on unrelated texts."""
    words, tokens = _TOKEN.findall(text or ""), _TOKEN.findall(draft or "")
    return _share(_kept(words, tokens), _size(words), _size(tokens))


def closest(text: str, candidates: list[str]) -> str:
    """The candidate `text` was most likely edited from: the most of its words kept (in order, weighted by their
    length) less those the edit deleted. Words, not characters: letters shared by chance with what the edit added
    made a longer draft win (a text grown from "…stoneware." chose "…stoneware in the bottom."), as difflib's
    ratio did. '' for none, or for a text written afresh: `kept_share` under `EDITED_FROM` (`bench/edited_from.py`)."""
    words = _TOKEN.findall(text or "")
    scored = []
    for c in filter(None, candidates):
        tokens = _TOKEN.findall(c)
        k = _kept(words, tokens)
        scored.append((2 * k - _size(tokens), k, _size(tokens), c))
    if not scored or not words:
        return ""
    _, kept, size, best = max(scored)
    return best if _share(kept, _size(words), size) >= EDITED_FROM else ""  # `kept_share` of the best, from its own count
