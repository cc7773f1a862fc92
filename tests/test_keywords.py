import pytest

from ecomcopy.errors import InputError
from ecomcopy.keywords import MAX_KEYWORDS_CHARS, parse_keywords


def test_split_strip_dedupe():
    assert parse_keywords(" black, Denim ;slim   fit\nblack ") == ["black", "Denim", "slim fit"]


def test_empty_and_punctuation_only():
    assert parse_keywords("") == []
    assert parse_keywords(None) == []
    assert parse_keywords(",,, ;; !!! ...") == []


def test_too_long():
    with pytest.raises(InputError, match=str(MAX_KEYWORDS_CHARS)):
        parse_keywords("a" * (MAX_KEYWORDS_CHARS + 1))


def test_unicode_kept():
    assert parse_keywords("robe, 赤, ✨ sparkle") == ["robe", "赤", "✨ sparkle"]
