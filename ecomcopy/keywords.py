"""The merchant's keywords: parsed from free text, validated, and turned into prompt text."""

from __future__ import annotations

import re
import unicodedata

from .errors import InputError

MAX_KEYWORDS_CHARS = 500
MAX_KEYWORDS = 20


def parse_keywords(text: str | None) -> list[str]:
    """'black, denim ; slim fit' -> ['black', 'denim', 'slim fit']; empty input gives []."""
    text = (text or "").strip()
    if len(text) > MAX_KEYWORDS_CHARS:
        raise InputError(f"Keywords are {len(text)} characters long; keep them under {MAX_KEYWORDS_CHARS} (a few short phrases, comma-separated).")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")  # drop control characters
    out: list[str] = []
    for part in re.split(r"[,;\n\t]+", text):
        part = " ".join(part.split())
        if not any(ch.isalnum() for ch in part):  # only punctuation or symbols: nothing a model can use
            continue
        if part.lower() not in (k.lower() for k in out):
            out.append(part)
    if len(out) > MAX_KEYWORDS:
        raise InputError(f"{len(out)} keywords given; use at most {MAX_KEYWORDS}.")
    return out
