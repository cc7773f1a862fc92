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
    ("Childrens belongings organised space-saving baskets.", ["Basket", "childrens belongings organised", "space-saving baskets"],
     "stuffing", ["keywords run together: “childrens belongings organised space-saving baskets”"]),
    ("Underwear Tights, Black, Solid elasticated waist with extra space.", ["Underwear Tights", "Black", "Solid"], "stuffing",
     ["a list of keywords, not a sentence"]),
    ("A tummy and thighs tummy tight.", ["Tights", "tummy and thighs"], "stuffing", ["repeats “tummy”"]),
    ("Tights in four0 denier.", ["Tights", "Black"], "non_words", ["four0"]),
    ("Dress with short sleeves and a bow. Long sleeves.", ["Dress"], "conflicts", ["long sleeves / short sleeves"]),
    ("Bikini bottoms with a mid waist and a low waist.", ["Bikini bottoms"], "conflicts", ["low waist / mid waist"]),
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
    ("Trousers with fake front pockets, real back pockets and a high waist.", ["Trousers", "front pockets"]),  # a list may repeat
    ("Dress with short sleeves and a long skirt.", ["Dress", "short sleeves"]),  # different parts, no conflict
    ("This storage box fits in the frames.", ["Storage box", "fits in the frames"]),  # the type then its verb: a sentence
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
    clean = review_draft("A black dress.", ["Dress", "Black", "jersey"], "", checker)
    assert flagged.to_dict()["check"]["contradictions"] == ["blue (keywords: black)"] and flagged.coverage > clean.coverage
    assert max([flagged, clean], key=lambda r: r.rank()) is clean


def test_api_returns_the_flags(client):
    from conftest import ROOT, api_generate

    result = api_generate(client, ROOT / "tests" / "corpus" / "images" / "cmyk.jpg", "mug, white", max_tokens=30)
    for review in result["reviews"]:
        assert set(review["check"]) >= {"non_words", "unsupported", "contradictions", "stuffing", "truncated", "clean", "flags"}


def test_claims_can_be_struck_from_the_text(checker):
    """Each unsupported specific and contradiction is a claim the editor confirms or strikes; a struck claim
    leaves the text with the part of the sentence that said it (a word alone, with the 'and' that joined it)."""
    from ecomcopy.write_view import claims_of, strike_claims
    from ecomcopy.review import review_draft
    from ecomcopy.text import strike

    draft = "Dress in blue and black jersey with a V-neck. Holds 330 ml of tea."
    review = review_draft(draft, ["Dress", "Black", "jersey"], "", checker)
    assert review.check.claims() == [("blue: your keywords say black", "blue"), ("330 ml: not in your keywords", "330 ml")]
    assert strike(draft, ["blue"]) == "Dress in black jersey with a V-neck. Holds 330 ml of tea."
    assert strike(draft, ["blue", "330 ml"]) == "Dress in black jersey with a V-neck."
    assert strike("Tights in soft jersey, 80 denier, with a wide waist.", ["80 denier"]) == "Tights in soft jersey, with a wide waist."
    assert strike("A mug with 330 ml capacity.", ["330 ml"]) == "A mug with capacity."  # nothing else to keep: the words go
    # the page: unticking a claim strikes it from the edited text (the editor's own edits stay) and drops it from the list
    state = {"rounds": [{"result": {"drafts": [draft], "reviews": [review.to_dict()]}, "reference": "", "lines": [""]}]}
    assert [c for _, c in claims_of(state, draft)] == ["blue", "330 ml"] and claims_of(state, "another text") == []
    text, listed = strike_claims(["blue"], draft.replace("V-neck", "deep V-neck"), draft, state)
    assert text == "Dress in blue and black jersey with a deep V-neck." and listed["choices"] == [("blue: your keywords say black", "blue")]


def test_parts_a_product_type_never_has():
    """Learnt from the catalog: no sock there names a sleeve, so socks with sleeves are invented (the blind
    read's "buttons on socks"); a top's sleeves are not; a type with too few catalog products is not judged."""
    from types import SimpleNamespace

    def product(kind, text):
        return SimpleNamespace(name=kind, description=text, keywords=[kind], attributes={"product_type": kind})

    catalog = ([product("Socks", "Socks in a soft knit with a ribbed top.")] * 10
               + [product("Top", "Top in jersey with long sleeves and a round neckline.")] * 10 + [product("Lamp", "Lamp with a cord.")] * 3)
    checker = DraftChecker.from_products(catalog)
    socks = checker.check("Socks in a soft knit with long sleeves.", ["Socks", "Black"])
    assert socks.unlikely == ["sleeves"] and "unusual on socks: sleeves" in socks.flags() and not socks.clean
    assert ("sleeves: unusual on socks", "sleeves") in socks.claims()
    assert checker.check("Top in jersey with long sleeves.", ["Top"]).unlikely == []
    assert checker.check("Socks with sleeves.", ["Socks", "sleeves"]).unlikely == []  # the merchant said so
    assert checker.check("Lamp with a drawer.", ["Lamp"]).unlikely == []  # 3 lamps: their parts are not known


@pytest.mark.parametrize("draft, claims", [
    ("It offers 16, 32, 64 and 128 GB of storage.", ["128 GB"]),
    ("Full warranty: 36 weeks on the battery.", ["36 weeks"]),
    ("Machine wash at 40°C.", ["40°C"]),  # '40' is not given by '4400 mAh'
    ("A 4400 mAh battery, 60x49x13 cm.", []),  # given, dimensions included
    ("A rug of 100x200 cm.", ["100x200"]),
])
def test_numbers_with_units_are_claims_unless_given(checker, draft, claims):
    assert checker.check(draft, ["Laptop battery", "4400 mAh", "60x49x13 cm"]).unsupported == claims


def test_the_chosen_draft_is_the_one_the_final_text_was_edited_from():
    from ecomcopy.text import closest

    drafts = ["Mug in white stoneware with a large handle.", "Vase in glazed white ceramic.", "Mug in black glass."]
    assert closest("Mug in white stoneware with a large, easy-grip handle. Dishwasher safe.", drafts) == drafts[0]
    assert closest("A vase in white glazed ceramic, 20 cm.", drafts) == drafts[1]  # whichever draft was clicked last
    # a text grown from a short draft: not the longer draft that shares more characters by chance (difflib's ratio chose it)
    grown = ["Sticky mug with white stoneware and round necker.", "Stuck mug with white stoneware.", "Stomach mug."]
    assert closest("Stuck mug with white stoneware. Picked from the first round.", grown) == grown[1]
    # letters the edit added, shared by chance with a longer draft of a later round, do not make it the chosen one
    later = ["Stun, white mug with stoneware in the bottom.", "Stun, white mug with stoneware."]
    assert closest("Stun, white mug with stoneware. Picked from the first round.", later) == later[1]
    assert closest("Anything", []) == ""
    assert closest("Zebra-striped yak wool rug, hand-knotted in Nepal.", drafts) == ""  # written afresh: edited from none
