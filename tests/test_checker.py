"""The draft checker on hand-written drafts whose flags are known (the failures a blind read found)."""

import pytest

from ecomcopy.checker import DraftChecker

CATALOG = [
    "Leggings in soft jersey with an elasticated waist. Contains elastane.", "Leggings in stretch jersey with elastane.",
    "Tights in 40 denier.", "Tights with a reinforced trim.", "Fitted dress in lyocell.", "Shirt in lyocell.",
]
TYPES = ["Leggings/Tights", "Underwear Tights", "Dress", "Dress", "Dress", "Mug", "Mug", "Mug", "Trousers", "Trousers", "Trousers",
         "Leggings/Tights", "Leggings/Tights"]


@pytest.fixture(scope="module")
def checker():
    return DraftChecker.from_texts(CATALOG, TYPES)


@pytest.mark.parametrize("draft, keywords, field, expected", [
    ("Trousers with a hemnet at the bottom and ribb cuffs.", ["Trousers", "Black"], "non_words", ["hemnet", "ribb"]),
    ("Jergs in jersey.", ["Leggings", "Black", "jersey"], "non_words", ["jergs"]),
    ("A white mug with 330 ml capacity.", ["Mug", "White"], "unsupported", ["330 ml"]),
    ("A ceramic mug.", ["Mug", "White"], "unsupported", ["ceramic"]),
    ("Tights in 80 denier.", ["Tights", "Black", "40 denier"], "unsupported", ["80 denier"]),
    ("A pack of 3 mugs.", ["Mug", "White"], "unsupported", ["pack of 3"]),
    ("Tights with a 40-inch tuck.", ["Tights"], "unsupported", ["40-inch"]),
    ("Blue jersey dress.", ["Dress", "Black", "jersey"], "contradictions", ["blue (keywords: black)"]),
    ("Leggings in jersey.", ["Tights", "Black", "jersey"], "contradictions", ["leggings (keywords: tights)"]),
    ("Solid denier tights. Denier tights. Legs tights.", ["tights", "Black", "Solid"], "stuffing", ["“tights” written 3 times"]),
    ("A soft jersey dress, black, solid, jersey.", ["Dress", "Black", "Solid"], "stuffing", ["a list of keywords, not a sentence"]),
    ("Tights in soft black jersey and a trim in soft black jersey.", ["Tights"], "stuffing", ["repeats “in soft black”"]),
    ("Tights with a waist and tights with a trim.", ["Tights"], "stuffing", ["“Tights” written 2 times"]),
])
def test_known_flags(checker, draft, keywords, field, expected):
    assert getattr(checker.check(draft, keywords), field) == expected


def test_a_keyword_twice_in_two_sentences_is_not_stuffing(checker):
    assert checker.check("Tights with a waist. The tights have a trim.", ["Tights"]).stuffing == []
    # a 3-word run counts within a sentence only (the hand check found "wool socks in" read across a full stop)
    assert checker.check("Soft wool socks in wool. Socks in a cotton blend.", ["Socks"]).stuffing == []


def test_truncated(checker):
    assert checker.check("Leggings in soft jersey with", ["Leggings"]).truncated
    assert not checker.check("Leggings in soft jersey.", ["Leggings", "jersey"]).truncated


@pytest.mark.parametrize("draft, keywords", [
    ("Fitted dress in black jersey with a V-neck and short sleeves.", ["Dress", "Black", "Jersey", "V-neck"]),
    ("Leggings in lyocell with elastane.", ["Leggings", "lyocell", "elastane"]),  # catalog words are words
    ("Tights in 40 denier with a reinforced trim.", ["Tights", "Black", "40 denier"]),  # a given number
    ("A button-down shirt with long sleeves.", ["Shirt", "button-down"]),  # compounds of known words
    ("Black leggings with a high waist.", ["Leggings", "Black"]),
])
def test_clean_drafts_stay_clean(checker, draft, keywords):
    result = checker.check(draft, keywords)
    assert result.clean, result.flags()


def test_flags_read_as_short_lines(checker):
    result = checker.check("Blue jersey drezz with 100g jersey", ["Dress", "Black"])
    assert result.flags() == ["not words: drezz", "contradicts keywords: blue (keywords: black)", "check: 100g, jersey", "cut off"]
    assert result.to_dict()["clean"] is False and result.to_dict()["flags"] == result.flags()


def test_review_carries_the_check_and_ranks_clean_drafts_first(checker):
    from ecomcopy.review import review_draft

    flagged = review_draft("Blue dress in black jersey.", ["Dress", "Black", "jersey"], "", checker)
    clean = review_draft("A dress.", ["Dress", "Black", "jersey"], "", checker)
    assert flagged.to_dict()["check"]["contradictions"] == ["blue (keywords: black)"] and flagged.coverage > clean.coverage
    assert max([flagged, clean], key=lambda r: r.rank()) is clean


def test_api_returns_the_flags(client):
    from conftest import ROOT, api_generate

    result = api_generate(client, ROOT / "tests" / "corpus" / "images" / "cmyk.jpg", "mug, white", max_tokens=30)
    for review in result["reviews"]:
        assert set(review["check"]) >= {"non_words", "unsupported", "contradictions", "stuffing", "truncated", "clean", "flags"}
