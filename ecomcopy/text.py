"""Draft cleaning: what of a model's continuation becomes a draft (its first line, no markup, no cut-off sentence)."""

from __future__ import annotations

import re

STOP = "\n"  # the prompt puts each description on one line
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_MARKUP = re.compile(r"<[^<>]{0,200}(?:>|$)")  # HTML/XML tags (or one cut off at the end): product copy is plain text


def visible_text(text: str) -> str:
    """What of a draft will be shown: its first line, without markup tags (spacing kept)."""
    return _MARKUP.sub(" ", text.split(STOP, 1)[0])


def clean_partial(text: str) -> str:
    """A draft still being written: its first line only, without markup tags."""
    return " ".join(visible_text(text).split())


def clean_draft(text: str) -> str:
    """Keep the first line; if the length limit cut a sentence, drop the unfinished tail."""
    text = clean_partial(text)
    text = re.split(r"\s*(?:Keywords|Description):", text, maxsplit=1)[0].strip()
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
