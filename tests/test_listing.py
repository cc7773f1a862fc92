"""Listings: the title builder, bullets, HTML and each channel's validator, on hand-made listings and real keywords."""

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import SHARED, needs_shared
from ecomcopy.channels import ChannelProfile, channel, channel_names, title_words, validate
from ecomcopy.errors import InputError
from ecomcopy.keywords import parse_keywords, product_keywords
from ecomcopy.listing import Listing, build_listing, build_title, keyword_roles
from ecomcopy.products import read_products

CORPUS = Path(__file__).parent / "corpus" / "keywords.json"
DRAFT = "Fitted shirt in a stretch cotton blend with a turn-down collar. Buttons down the front. Long sleeves."


def listing(**fields) -> Listing:
    base = dict(title="Acme Shirt, White, stretch cotton blend", bullets=["Turn-down collar", "Long sleeves"],
                description=DRAFT, seo_title="Acme Shirt, White", meta_description=DRAFT, tags=["shirt"], channel="amazon")
    return Listing(**(base | fields))


def messages(profile_name: str, **fields) -> list[str]:
    return [v.message for v in validate(listing(**fields), channel(profile_name))]


def test_the_channels_ship_with_the_issues_limits():
    assert channel_names() == ("amazon", "ebay", "google", "shopify")
    assert (channel("amazon").title_max, channel("amazon").bullets_max, channel("amazon").description_max) == (200, 5, 2000)
    assert (channel("google").title_max, channel("google").description_max) == (150, 5000)
    assert channel("ebay").title_max == 80
    assert (channel("shopify").seo_title_max, channel("shopify").meta_description_max) == (70, 320)


def test_a_listing_within_every_rule_has_no_violation():
    for name in channel_names():
        assert messages(name) == []


@pytest.mark.parametrize("name, fields, expected", [
    ("amazon", {"title": "Shirt " + "x" * 200}, "Title is 206 characters; Amazon allows 200: cut 6."),
    ("amazon", {"title": "Shirt! Best price?"}, "The title contains ! ?, which Amazon does not allow in titles."),
    ("amazon", {"title": "Shirt, white shirt, SHIRT"}, "“shirt” is 3 times in the title; Amazon allows a word at most 2 times."),
    ("amazon", {"bullets": ["a", "b", "c", "d", "e", "f"]}, "6 bullet points; Amazon takes at most 5: merge or drop 1."),
    ("amazon", {"bullets": ["y" * 501]}, "Bullet 1 is 501 characters; Amazon allows 500: cut 1."),
    ("amazon", {"description": "z" * 2001}, "Description is 2001 characters; Amazon allows 2000: cut 1."),
    ("amazon", {"title": "  "}, "The title is empty."),
    ("amazon", {"description": ""}, "The description is empty."),
    ("google", {"title": "t" * 151}, "Title is 151 characters; Google Merchant Center allows 150: cut 1."),
    ("google", {"description": "d" * 5001}, "Description is 5001 characters; Google Merchant Center allows 5000: cut 1."),
    ("ebay", {"title": "e" * 81}, "Title is 81 characters; eBay allows 80: cut 1."),
    ("shopify", {"seo_title": "s" * 71}, "SEO title is 71 characters; Shopify allows 70: cut 1."),
    ("shopify", {"meta_description": "m" * 321}, "Meta description is 321 characters; Shopify allows 320: cut 1."),
])
def test_each_rule_is_named_in_an_editors_words(name, fields, expected):
    assert expected in messages(name, **fields)


def test_a_meta_description_search_engines_cut_is_a_warning_not_a_block():
    found = validate(listing(meta_description="m" * 200), channel("shopify"))
    assert [(v.field, v.blocking) for v in found] == [("meta_description", False)]
    assert validate(listing(title="Shirt! " * 5), channel("ebay")) == []  # eBay sets no character or repeat rule


@needs_shared
@pytest.mark.parametrize("domain", ["hm", "ikea"])
def test_titles_from_real_keywords_keep_every_channels_rules(domain):
    products = read_products(SHARED / domain, split="test").products[:150]
    for name in channel_names():
        profile = channel(name)
        for p in products:
            keywords = product_keywords(p)
            built = build_listing(keywords, p.description, profile, brand="Acme")
            assert 0 < len(built.title) <= profile.title_max
            assert max(Counter(title_words(built.title)).values()) <= 2
            assert not set(built.title) & set(profile.title_banned)
            assert [v for v in validate(built, profile) if v.blocking] == [], (name, keywords, built.title)
            assert built.title.startswith("Acme " + keyword_roles(keywords)["type"][0][:1].upper())


def test_absurd_keywords_still_give_a_title_within_the_limit():
    keywords = ["dress"] * 3 + ["Dress dress dress", "red!!! $$$ dress", "x" * 300, "very long detail " * 4]
    for name in channel_names():
        title = build_title(keywords, channel(name))
        assert len(title) <= channel(name).title_max and title.lower().count("dress") <= 2


def test_the_title_is_the_attributes_in_the_channels_order_and_bullets_hold_only_given_facts():
    keywords = ["Shirt", "White", "soft stretch cotton blend", "turn-down collar", "42 cm", "Stripe", "Solid"]
    assert build_title(keywords, channel("amazon"), "Acme") == "Acme Shirt, Stretch cotton blend, White, Stripe, 42 cm"
    assert build_title(keywords, channel("ebay"), "Acme") == "Acme Shirt, White, Stretch cotton blend, 42 cm, Stripe"
    built = build_listing(keywords, DRAFT, channel("amazon"))
    assert built.bullets == ["Colour: White", "Pattern: Stripe", "Material: Stretch cotton blend", "Size: 42 cm",
                             "Buttons down the front."]  # at most 5; the first sentence opens the description
    assert built.tags == ["shirt", "white", "soft stretch cotton blend", "turn-down collar", "42 cm", "stripe", "solid"]
    assert built.seo_title == built.title  # within Shopify's and search engines' 70
    few = build_listing(["Shirt", "White"], DRAFT, channel("amazon"))
    assert few.bullets == ["Colour: White", "Buttons down the front.", "Long sleeves."]  # the draft's later sentences, not invented
    assert few.machine_written == ["description", "meta_description", "bullets"]
    bare = build_listing(["Shirt"], "Fitted shirt. Long sleeves.", channel("amazon"))
    assert bare.bullets == ["Fitted shirt.", "Long sleeves."]  # too few facts for 3: every sentence, and no more
    assert build_listing(["Shirt", "Red"], "", channel("amazon")).machine_written == ["description", "meta_description"]
    chatty = build_listing(["Shirt", "White", "cotton"], DRAFT + " Slim fit. Machine wash. Made in Portugal.", channel("ebay"))
    assert chatty.bullets == ["Colour: White", "Material: Cotton", "Buttons down the front.", "Long sleeves.", "Slim fit."]
    long_one = build_listing(["Shirt with a turn-down collar and long sleeves for office days"] + keywords[1:], DRAFT, channel("shopify"))
    assert len(long_one.seo_title) <= 70 and long_one.title.startswith(long_one.seo_title) and not long_one.seo_title.endswith(",")
    assert len(built.meta_description) <= 160 and DRAFT.startswith(built.meta_description.rstrip("."))


def test_phrases_cut_from_a_sentence_stay_out_of_the_title_and_bullets():
    keywords = ["Toy car", "Red", "develops fine motor and", "frames and tinted", "pieces to make", "logical thinking"]
    built = build_listing(keywords, "A wooden toy car. Rolls on four wheels. Painted red.", channel("amazon"))
    assert built.title == "Toy car, Red"
    assert built.bullets == ["Colour: Red", "Rolls on four wheels.", "Painted red."]
    assert keyword_roles(keywords)["other"] == keywords[2:]
    assert built.tags[2:] == [k.lower() for k in keywords[2:]]  # kept as the merchant typed them, for search


def test_two_colours_make_one_part_and_the_body_says_each_sentence_once():
    built = build_listing(["Basket, set of 2", "Turquoise", "lilac", "20 cm"], "A soft basket. Keeps toys tidy.", channel("google"))
    assert built.title == "Basket, set of 2, Turquoise/Lilac, 20 cm"
    assert built.bullets == ["Colour: Turquoise/Lilac", "Size: 20 cm", "Keeps toys tidy."]
    assert built.description_html == "<p>A soft basket. Keeps toys tidy.</p><ul><li>Colour: Turquoise/Lilac</li><li>Size: 20 cm</li></ul>"


def test_markup_in_keywords_and_drafts_stays_inert_in_the_html():
    keywords = parse_keywords(json.loads(CORPUS.read_text())["html_and_script"]) + ["<b>cotton</b>"]  # a material: a bullet
    built = build_listing(keywords, "A <b>dress</b> & <script>alert(1)</script> more.", channel("shopify"))
    page = built.description_html
    assert page.startswith("<p>") and "<ul><li>" in page
    for tag in ("<script", "<b>", "<img", "onerror=alert(1)>"):
        assert tag not in page
    assert "&lt;script&gt;" in page and "&amp;" in page and "<li>Material: &lt;b&gt;cotton&lt;/b&gt;</li>" in page


def test_an_unknown_channel_or_a_broken_profile_is_a_clear_error():
    with pytest.raises(InputError, match="Unknown channel “etsy”; choose one of: amazon, ebay, google, shopify"):
        channel("etsy")
    with pytest.raises(InputError, match="unknown fields"):
        ChannelProfile.from_dict({"name": "x", "label": "X", "title_max": 10, "title_colour": "red"})
    with pytest.raises(InputError, match="title_order"):
        ChannelProfile.from_dict({"name": "x", "label": "X", "title_max": 10, "title_order": ["price"]})


RESULT = {"keywords": ["Shirt", "White", "cotton"], "reference": {"id": "hm-1"}, "drafts": [DRAFT, "Another draft."], "writer": "modict"}


def test_an_approval_carries_its_listing_and_is_refused_while_the_channel_would_reject_it():
    from ecomcopy.request import ApprovalRequest

    long_title = {"channel": "ebay", "title": "Shirt " * 20}
    with pytest.raises(InputError, match=r"The listing breaks eBay's rules: Title is 119 characters; eBay allows 80: cut 39\. Fix it"):
        ApprovalRequest.from_result(RESULT, DRAFT, DRAFT, True, long_title)
    req = ApprovalRequest.from_result(RESULT, DRAFT, DRAFT, True, {"channel": "ebay", "title": "Acme Shirt, White", "brand": "Acme"})
    assert req.listing.title == "Acme Shirt, White" and req.listing.brand == "Acme"
    assert req.listing.bullets == ["Colour: White", "Material: Cotton", "Buttons down the front.", "Long sleeves."]  # built
    assert req.listing.machine_written == ["description", "meta_description", "bullets"]  # the draft as the model wrote it
    edited = ApprovalRequest.from_result(RESULT, DRAFT + " Machine wash.", DRAFT, True,
                                         {"channel": "amazon", "bullets": "Colour: White\n\nMachine wash at 30°C", "tags": "shirt, , white"})
    assert edited.listing.bullets == ["Colour: White", "Machine wash at 30°C"] and edited.listing.tags == ["shirt", "white"]
    assert edited.listing.machine_written == ["meta_description"]  # the editor changed the text and wrote the bullets
    assert ApprovalRequest.from_result(RESULT, DRAFT).listing is None  # no listing sent: none stored


@pytest.mark.parametrize("fields, says", [
    ("shopify", "must be an object"), ({"title": "x"}, "must name its channel"), ({"channel": "etsy"}, "Unknown channel"),
    ({"channel": "amazon", "title": 5}, "title must be a text"), ({"channel": "amazon", "bullets": [1, 2]}, "bullets must be a list"),
    ({"channel": "amazon", "tags": ["t"] * 51}, "at most 50"), ({"channel": "amazon", "seo_title": "s" * 5001}, "at most 5,000"),
])
def test_a_malformed_listing_gets_a_clear_error(fields, says):
    from ecomcopy.listing import listing_from_fields

    with pytest.raises(InputError, match=says):
        listing_from_fields(fields, DRAFT, ["Shirt"])


def test_the_pages_listing_keeps_what_the_editor_changed_and_rebuilds_one_field_alone():
    from ecomcopy.listing_view import rebuild, recheck, refresh

    state = {"result": RESULT}
    title, bullets, seo, meta, tags, *checks, built = refresh(state, DRAFT, "ebay", "Acme", None, "", "", "", "", "")
    assert (title, tags) == ("Acme Shirt, White, Cotton", "shirt, white, cotton") and bullets.startswith("Colour: White\n")
    assert checks[1] == "Title: 25 characters of 80. ✓ within eBay's rules."
    mine = "Acme Shirt, White, Cotton, for the office and for every weekend and evening out in town"
    again = refresh(state, "Another draft. It is short.", "amazon", "Acme", built, mine, bullets, seo, meta, tags)
    assert again[0] == mine and again[1] == "Colour: White\nMaterial: Cotton\nIt is short."  # edited kept, the rest follows
    lines = recheck(state, DRAFT, "ebay", mine, *again[1:5])
    assert lines[1].startswith("Title: 87 characters of 80. ⛔ Title is 87 characters; eBay allows 80: cut 7.")
    fixed = rebuild("title")(state, DRAFT, "ebay", "Acme", again[-1], mine, "my own bullet", seo, meta, tags)
    assert fixed[:2] == ("Acme Shirt, White, Cotton", "my own bullet")  # that field alone
    fresh = refresh({"result": RESULT | {"keywords": ["Mug"]}}, "A mug.", "ebay", "", None, mine, "my own bullet", seo, meta, tags)
    assert fresh[:2] == ("Mug", "A mug.")  # a new product (its round resets `built`) keeps no edit made for the last one
