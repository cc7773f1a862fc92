"""The Write tab's listing: its fields for the chosen channel, each with a live character count and the channel's
messages beside it, rebuilt field by field without touching what the editor changed.

The page keeps the values it last built (`built`, a gr.State): a field still equal to them follows a new draft,
channel or brand; a field the editor changed is kept and only checked again. "Rebuild" on one field replaces
that field alone.
"""

from __future__ import annotations

import gradio as gr

from .channels import FIELD_NAMES, channel, validate
from .config import DEFAULT_CHANNEL
from .errors import EcomcopyError
from .listing import EDITABLE, Listing, build_listing, listing_from_fields

CHECKED = ("description", *EDITABLE)  # the fields with a check line under them, in the order of `checks`
LABELS = FIELD_NAMES | {"bullets": "Bullet points", "tags": "Tags"}


def as_page(listing: Listing) -> dict[str, str]:
    """A listing's editable fields as the page's text boxes hold them (a bullet per line, tags comma-separated)."""
    return {"title": listing.title, "bullets": "\n".join(listing.bullets), "seo_title": listing.seo_title,
            "meta_description": listing.meta_description, "tags": ", ".join(listing.tags)}


def from_page(channel_name: str, brand: str, values: list[str]) -> dict:
    """The page's fields as `listing.listing_from_fields` takes them (what Approve sends)."""
    return {"channel": channel_name or DEFAULT_CHANNEL, "brand": brand or ""} | dict(zip(EDITABLE, [v or "" for v in values]))


def checks(channel_name: str, description: str, keywords: list[str], values: list[str]) -> list[str]:
    """One line per field: its length against the channel's limit, then each rule it breaks (or a tick)."""
    try:
        listing = listing_from_fields(from_page(channel_name, "", values), description or "", keywords)
    except EcomcopyError as e:
        return [f"⚠ {e}"] * len(CHECKED)
    profile = channel(listing.channel)
    found = validate(listing, profile)
    limits = {"description": profile.description_max, "title": profile.title_max, "seo_title": profile.seo_title_max,
              "meta_description": profile.meta_description_max or profile.meta_description_shown}
    lines = []
    for name in CHECKED:
        value = getattr(listing, name)
        if name == "bullets":
            size = f"{len(value)} bullet point(s)" + (f" of at most {profile.bullets_max}" if profile.bullets_max else
                                                      f" ({profile.label} has no bullet field: they go into the description)")
        elif name == "tags":
            size = f"{len(value)} tag(s)"
        else:
            size = f"{len(value)} characters" + (f" of {limits[name]}" if limits.get(name) else "")
        said = [("⛔ " if v.blocking else "⚠ ") + v.message for v in found if v.field == name]
        lines.append(f"{LABELS[name]}: {size}. " + (" ".join(said) if said else "✓ within " + profile.label + "'s rules."))
    return lines


def refresh(state, description: str, channel_name: str, brand: str, built, *values: str, force: str = ""):
    """The listing's fields for the current draft, channel and brand: a field the editor left as last built (or
    `force`; every field when `built` is None: a new product, whose listing keeps no edit made for the last one)
    takes the new value, an edited one is kept; then every check line, and the new `built`."""
    result = (state or {}).get("result") or {}
    keywords = result.get("keywords") or []
    if not result:
        return (*[gr.skip()] * len(EDITABLE), *checks(channel_name, description, keywords, list(values)), built)
    fresh = as_page(build_listing(keywords, description or "", channel(channel_name or DEFAULT_CHANNEL), brand or ""))
    old = built if isinstance(built, dict) else {}  # a page value: anything else is "nothing built yet"
    new = [fresh[f] if force == f or f not in old or (v or "") == old[f] else v for f, v in zip(EDITABLE, values)]
    return (*new, *checks(channel_name, description, keywords, new), fresh)


def following(state, description: str, channel_name: str, brand: str, built, values: list[str]) -> list[str]:
    """The fields as Approve stores them: those the editor did not change follow the final description (the page
    updates them when the description box is left, which may come after the click that approves it)."""
    new = refresh(state, description, channel_name, brand, built, *values)[: len(EDITABLE)]
    return [v if isinstance(n, dict) else n for v, n in zip(values, new)]  # no result: as sent (gr.skip() is a dict)


def rebuild(field_name: str):
    """A handler that rebuilds one field alone (`refresh` with `force`)."""
    def handler(state, description, channel_name, brand, built, *values):
        return refresh(state, description, channel_name, brand, built, *values, force=field_name)
    return handler


def recheck(state, description: str, channel_name: str, *values: str) -> list[str]:
    """The check lines only, as the editor types (no field changes)."""
    keywords = ((state or {}).get("result") or {}).get("keywords") or []
    return checks(channel_name, description, keywords, list(values))
