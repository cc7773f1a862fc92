"""Exports a shop imports: Shopify's CSV header and handles, the Google Merchant feed's XML, WooCommerce's CSV."""

import csv
import io
import xml.etree.ElementTree as ET

from ecomcopy.channels import channel
from ecomcopy.exports import (GOOGLE_NS, SHOPIFY_COLUMNS, WOOCOMMERCE_COLUMNS, ExportItem, google_feed, handle,
                              shopify_csv, unique_handles, woocommerce_csv)
from ecomcopy.listing import build_listing

DRAFT = "Fitted shirt in a stretch cotton blend with a turn-down collar. Buttons down the front."


def items() -> list[ExportItem]:
    shirt = build_listing(["Shirt", "White", "stretch cotton blend"], DRAFT, channel("shopify"), brand="Acme")
    again = build_listing(["Shirt", "White", "stretch cotton blend"], DRAFT, channel("shopify"), brand="Acme")
    odd = build_listing(["=HYPERLINK(\"http://x\") mug", "<b>cotton</b>"], "A mug & <i>more</i>.",
                        channel("shopify"))
    return [ExportItem("p1", shirt, "Shirt", "Acme", "https://shop.example/p1.jpg", "https://shop.example/p1"),
            ExportItem("p2", again, "Shirt", "Acme"), ExportItem("p3", odd, "Mug")]


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_handles_are_lowercase_hyphenated_ascii_and_unique():
    assert handle("Crème Brûlée Mug, 2-pack!") == "creme-brulee-mug-2-pack"
    assert handle("!!!") == "product"
    assert unique_handles(["Shirt", "shirt", "SHIRT!", "Mug"]) == ["shirt", "shirt-2", "shirt-3", "mug"]


def test_the_shopify_csv_has_shopifys_header_and_one_row_per_product():
    text = shopify_csv(items())
    assert next(csv.reader(io.StringIO(text))) == SHOPIFY_COLUMNS
    got = rows(text)
    assert [r["Handle"] for r in got] == ["acme-shirt-white-stretch-cotton-blend", "acme-shirt-white-stretch-cotton-blend-2",
                                          "hyperlink-http-x-mug-b-cotton-b"]
    first = got[0]
    assert first["Title"] == "Acme Shirt, White, Stretch cotton blend" and first["Status"] == "draft"
    assert first["Body (HTML)"].startswith("<p>Fitted shirt") and first["SEO Title"] == first["Title"]
    assert first["Image Src"] == "https://shop.example/p1.jpg" and first["Tags"] == "shirt, white, stretch cotton blend"
    assert got[2]["Tags"].startswith("'=hyperlink") and got[2]["Title"].startswith("'=HYPERLINK")
    assert not got[2]["Tags"].startswith("=") and "<b>" not in got[2]["Body (HTML)"] and "&lt;i&gt;" in got[2]["Body (HTML)"]
    assert all(not v.startswith("=") for r in got for v in r.values())  # no cell runs as a formula


def test_the_google_feed_parses_with_the_g_namespace_and_one_item_per_product():
    root = ET.fromstring(google_feed(items(), shop="Acme", link="https://shop.example"))
    assert root.tag == "rss" and root.get("version") == "2.0"
    products = root.findall("channel/item")
    assert len(products) == 3
    g = {"g": GOOGLE_NS}
    assert [p.findtext("g:id", namespaces=g) for p in products] == ["p1", "p2", "p3"]
    assert products[0].findtext("g:title", namespaces=g) == "Acme Shirt, White, Stretch cotton blend"
    assert products[0].findtext("g:image_link", namespaces=g) == "https://shop.example/p1.jpg"
    assert products[1].find("g:image_link", g) is None  # nothing empty is written
    assert products[2].findtext("g:description", namespaces=g) == "A mug & <i>more</i>."  # text, escaped by the writer
    odd = ExportItem("p\x01", build_listing(["Mug\x08"], "A mug.\x0b", channel("google")), "Mug", "Acme\x01")
    got = ET.fromstring(google_feed([odd])).find("channel/item")  # control characters XML cannot hold are left out
    assert [got.findtext(f"g:{k}", namespaces=g) for k in ("id", "brand", "description")] == ["p", "Acme", "A mug."]


def test_the_woocommerce_csv_uses_its_importers_column_names():
    text = woocommerce_csv(items())
    assert next(csv.reader(io.StringIO(text))) == WOOCOMMERCE_COLUMNS
    got = rows(text)
    assert [r["SKU"] for r in got] == ["p1", "p2", "p3"] and {r["Type"] for r in got} == {"simple"}
    assert got[0]["Short description"].startswith("<ul><li>") and got[0]["Published"] == "0"


def test_approvals_export_with_their_listing_or_a_shopify_one_built_from_their_text():
    from ecomcopy.approvals import Approval
    from ecomcopy.exports import items_from_approvals

    with_listing = Approval(1, 0.0, "", ["Mug", "White"], {}, [], "", "A mug.", "prompt", "approved-1",
                            {"title": "Acme Mug, White", "bullets": ["Colour: White"], "description": "A mug.", "seo_title": "Acme Mug",
                             "meta_description": "A mug.", "tags": ["mug"], "channel": "amazon", "machine_written": [], "brand": "Acme"})
    before = Approval(2, 0.0, "", ["Basket", "Green", "pink", "20 cm"], {}, [], "", "A soft basket.", "prompt", None)
    first, second = items_from_approvals([with_listing, before])
    assert (first.id, first.listing.title, first.vendor, first.product_type) == ("approved-1", "Acme Mug, White", "Acme", "Mug")
    assert (second.id, second.listing.title, second.listing.channel) == ("approval-2", "Basket, Green/Pink", "shopify")  # size is a variant in Shopify
    got = rows(shopify_csv([first, second]))
    assert [r["Handle"] for r in got] == ["acme-mug-white", "basket-green-pink"]
