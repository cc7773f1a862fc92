"""Files a shop imports: a Shopify product CSV, a Google Merchant Center feed (RSS 2.0, `g:` namespace) and a
WooCommerce product CSV, from approved listings.

Each uses the channel's own column or element names, so the file goes into the shop's importer as it is; the
merchant adds what ecomcopy does not know (price, stock, a product link) there. Products go in as drafts where the
format has a status: copy is approved, the product is not priced yet. Written with `csv` and ElementTree, never by
joining strings.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, fields
from pathlib import Path

from .channels import channel
from .config import DEFAULT_CHANNEL
from .listing import Listing, build_listing, keyword_roles
from .spreadsheet import safe_cell

SHOPIFY_COLUMNS = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published", "Image Src",
                   "Image Alt Text", "SEO Title", "SEO Description", "Status"]
WOOCOMMERCE_COLUMNS = ["Type", "SKU", "Name", "Published", "Short description", "Description", "Categories", "Tags", "Images"]
GOOGLE_NS = "http://base.google.com/ns/1.0"
LISTING_KEYS = {f.name for f in fields(Listing)}
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold
ET.register_namespace("g", GOOGLE_NS)  # written as g:title, as Merchant Center's examples are


@dataclass
class ExportItem:
    id: str  # the product's id in ecomcopy (its SKU in the shop)
    listing: Listing
    product_type: str = ""
    vendor: str = ""
    image_url: str = ""  # a public address of the photo, where the merchant has one
    link: str = ""  # the product page, for the Google feed


def export_item(item_id: str, keywords: list[str], text: str, listing: dict) -> ExportItem:
    """One product to export: its stored listing (`Listing.to_dict()`), or the Shopify listing of its text where it
    has none (approved before listings existed); the product type is its first keyword's (`keyword_roles`)."""
    fields = {k: v for k, v in listing.items() if k in LISTING_KEYS}
    built = Listing(**fields) if fields else build_listing(keywords, text, channel(DEFAULT_CHANNEL))
    return ExportItem(item_id, built, (keyword_roles(keywords)["type"] or [""])[0], built.brand)


def items_from_approvals(approvals: list) -> list[ExportItem]:
    """Export rows of approvals (`approvals.Approval`), under the catalog product's id where one became one."""
    return [export_item(a.product_id or f"approval-{a.id}", a.keywords, a.final, a.listing) for a in approvals]


def handle(title: str) -> str:
    """Shopify's product handle: lower case, ASCII letters and digits joined by hyphens."""
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-") or "product"


def unique_handles(titles: list[str]) -> list[str]:
    """One handle per product, the second of a name getting "-2" and so on (Shopify merges rows of one handle)."""
    seen: set[str] = set()
    out = []
    for title in titles:
        base = candidate = handle(title)
        n = 1
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def shopify_csv(items: list[ExportItem]) -> str:
    rows = []
    for item, h in zip(items, unique_handles([i.listing.title for i in items])):
        L = item.listing
        rows.append([h, L.title, L.description_html, item.vendor, item.product_type, ", ".join(L.tags), "FALSE",
                     item.image_url, L.title if item.image_url else "", L.seo_title, L.meta_description, "draft"])
    return _csv(SHOPIFY_COLUMNS, rows)


def woocommerce_csv(items: list[ExportItem]) -> str:
    rows = []
    for item in items:
        L = item.listing
        rows.append(["simple", item.id, L.title, "0", L.bullets_html, L.description_html,
                     item.product_type, ", ".join(L.tags), item.image_url])
    return _csv(WOOCOMMERCE_COLUMNS, rows)


def google_feed(items: list[ExportItem], shop: str = "ecomcopy export", link: str = "") -> bytes:
    """RSS 2.0 with one `<item>` per product; `g:` elements as Merchant Center names them."""
    rss = ET.Element("rss", {"version": "2.0"})
    feed = ET.SubElement(rss, "channel")
    ET.SubElement(feed, "title").text = shop
    ET.SubElement(feed, "link").text = link
    ET.SubElement(feed, "description").text = "Product listings approved in ecomcopy"
    for item in items:
        node = ET.SubElement(feed, "item")
        values = {"id": item.id, "title": item.listing.title, "description": item.listing.description,
                  "image_link": item.image_url, "link": item.link, "brand": item.vendor,
                  "product_type": item.product_type, "condition": "new"}
        for name, value in values.items():
            if value:
                ET.SubElement(node, f"{{{GOOGLE_NS}}}{name}").text = XML_ILLEGAL.sub("", value)  # else the feed would not parse
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def write_shop_file(kind: str, items: list[ExportItem], path: Path) -> Path:
    """`kind`: shopify, woocommerce (CSV, UTF-8) or google (the feed's XML)."""
    if kind == "google":
        path.write_bytes(google_feed(items))
    else:
        path.write_text({"shopify": shopify_csv, "woocommerce": woocommerce_csv}[kind](items), encoding="utf-8", newline="")
    return path


def _csv(header: list[str], rows: list[list[str]]) -> str:
    """Cells a spreadsheet would run as formulas are made inert (`spreadsheet.safe_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[safe_cell(str(v)) for v in row] for row in rows])
    return out.getvalue()

