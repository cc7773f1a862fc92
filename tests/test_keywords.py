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


def test_whole_phrases_leave_out_fragments_with_a_stop_word_inside():
    from ecomcopy.keywords import product_keywords
    from ecomcopy.products import Product

    p = Product(id="hm-1", group="hm-1", domain="fashion", name="Stay-ups", keywords=["Leggings/Tights", "Black"],
                attributes={"product_type": "Leggings/Tights", "colour_group": "Black"}, image="x.jpg", split="dev",
                description="Semi shiny stay-ups with a wide lace trim at the top and silicone at the top to keep them in place.")
    merchant, whole = product_keywords(p, "merchant"), product_keywords(p, "whole")
    assert merchant[:2] == whole[:2] == ["Leggings/Tights", "Black"]
    assert "top and silicone" in merchant  # what YAKE cuts, and a writer pastes in as it stands
    stop = {"a", "and", "at", "the", "to", "in", "with", "them"}
    assert whole[2:] and all(not set(k.split()) & stop for k in whole[2:])  # "top and silicone" is no keyword
    assert all(k in p.description.lower() for k in whole[2:])
    assert product_keywords(p, "attributes") == ["Leggings/Tights", "Black"]
    with pytest.raises(ValueError, match="keyword mode"):
        product_keywords(p, "fragments")
