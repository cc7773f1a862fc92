"""Exports are opened in spreadsheets: a cell starting with =, +, -, @ or | would run as a formula (or a DDE
call) there, and spreadsheets skip leading blanks and read full-width signs as their ASCII forms."""

from __future__ import annotations

import unicodedata

_FORMULA_START = ("=", "+", "-", "@", "|")


def _first_visible(value: str) -> str:
    """The first character a spreadsheet reads: after spaces, no-break and zero-width spaces and other
    invisible characters, in its compatibility form (full-width ＋ is +)."""
    for ch in value:
        if ch.isspace() or unicodedata.category(ch) in ("Zs", "Cf", "Cc"):
            continue
        return unicodedata.normalize("NFKC", ch)[:1]
    return ""


def safe_cell(value):
    """Text that a spreadsheet would evaluate gets a leading apostrophe (shown as text, not run)."""
    if isinstance(value, str) and (value[:1] in ("\t", "\r") or _first_visible(value) in _FORMULA_START):
        return "'" + value
    return value
