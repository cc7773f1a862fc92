"""Exports are opened in spreadsheets: a cell starting with =, +, -, @ would run as a formula there."""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Text that a spreadsheet would evaluate gets a leading apostrophe (shown as text, not run)."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
