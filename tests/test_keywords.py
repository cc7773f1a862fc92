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


def test_merchant_keywords_drop_internal_attributes_and_add_phrases():
    from ecomcopy.keywords import merchant_keywords

    attrs = {"product_type": "Underwear Tights", "colour_group": "Black", "graphical_appearance": "Solid",
             "garment_group": "Socks and Tights", "section": "Womens Nightwear, Socks & Tigh", "perceived_colour_master": "Black"}
    kw = ["Underwear Tights", "Black", "Solid", "Socks and Tights", "Womens Nightwear, Socks & Tigh"]
    desc = "Semi shiny nylon stockings with a wide, reinforced trim at the top. Use with a suspender belt. 20 denier."
    out = merchant_keywords(kw, attrs, desc)
    assert out[:3] == ["Underwear Tights", "Black", "Solid"]  # colour kept although it repeats an internal field
    phrases = out[3:]
    assert 1 <= len(phrases) <= 3 and all(p in desc.lower() for p in phrases)
    assert merchant_keywords(kw, attrs, desc) == out  # deterministic
    assert merchant_keywords(kw, attrs, desc, phrases=False) == out[:3]


def test_shopper_attributes_keep_each_keyword_once():
    from ecomcopy.keywords import shopper_attributes

    attrs = {"product_type": "Trousers", "colour_group": "Light Blue", "garment_group": "Trousers", "section": "Denim"}
    assert shopper_attributes(["Trousers", "Light Blue", "trousers", "Denim"], attrs) == ["Trousers", "Light Blue"]


def test_salient_phrases_skip_negated_phrases():
    from ecomcopy.keywords import salient_phrases

    # before: "metal clips", which the keyword emphasis then wrote as "with metal clips"
    assert "metal clips" not in salient_phrases("Hair elastics without metal clips.")
    assert "shoulder straps" not in salient_phrases("Bra with self-adhesive cups and no shoulder straps.")
    # a phrase negated in one place and stated in another is kept
    assert "hood" in salient_phrases("Jacket with a hood. Wear it with or without the hood.", k=5)
