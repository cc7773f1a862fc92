"""Where a listing goes: each shop or marketplace's limits, as a data file, and a validator that names every
violation in an editor's words.

A channel rejects or silently rewrites a listing that breaks its rules (an Amazon title with "!" or a word three
times, an eBay title over 80 characters), so the editor sees each broken rule next to its field before exporting.
The profiles are `assets/channels/<name>.json`; a limit a channel does not set is absent (no limit).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING

from .config import CHANNELS_DIR
from .errors import InputError

if TYPE_CHECKING:
    from .listing import Listing

TITLE_PARTS = ("brand", "type", "colour", "material", "size", "details")  # what a title is built from (`listing.py`)
FIELD_NAMES = {"title": "Title", "description": "Description", "seo_title": "SEO title", "meta_description": "Meta description"}
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


@dataclass(frozen=True)
class ChannelProfile:
    name: str
    label: str  # as the channel calls itself
    title_max: int
    title_order: tuple[str, ...] = TITLE_PARTS  # the order the channel's guide asks for
    title_banned: str = ""  # characters the channel refuses in titles
    title_word_repeats_max: int | None = None  # no word more often than this in the title
    bullets_max: int | None = None  # None: the channel has no bullet field (they go into the description)
    bullet_max: int | None = None  # characters per bullet
    description_max: int | None = None
    seo_title_max: int | None = None
    meta_description_max: int | None = None
    meta_description_shown: int | None = None  # what search engines show; longer is allowed, and cut when shown

    @classmethod
    def from_dict(cls, data: dict) -> "ChannelProfile":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown or not {"name", "label", "title_max"} <= set(data):
            raise InputError(f"channel profile {data.get('name', '?')}: unknown fields {unknown} or missing name/label/title_max")
        order = tuple(data.get("title_order", TITLE_PARTS))
        if not set(order) <= set(TITLE_PARTS):
            raise InputError(f"channel profile {data['name']}: title_order may only name {', '.join(TITLE_PARTS)}")
        return cls(**(data | {"title_order": order}))


@dataclass(frozen=True)
class Violation:
    field: str  # "title", "bullets", "description", "seo_title", "meta_description"
    message: str  # what is wrong and what to do, in an editor's words
    blocking: bool = True  # False: allowed, but worse (a meta description search engines will cut)


@lru_cache(maxsize=None)
def channel(name: str) -> ChannelProfile:
    """The profile of `name` (see `channel_names`); a clear error for an unknown one or a broken file."""
    path = CHANNELS_DIR / f"{name}.json"
    if name not in channel_names():
        raise InputError(f"Unknown channel “{name}”; choose one of: {', '.join(channel_names())}.")
    try:
        return ChannelProfile.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise InputError(f"The channel profile {path.name} is malformed: {e}") from e


@lru_cache(maxsize=1)
def channel_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in CHANNELS_DIR.glob("*.json")))


def validate(listing: "Listing", profile: ChannelProfile) -> list[Violation]:
    """Every rule of `profile` the listing breaks, field by field."""
    out = _title_violations(listing.title, profile)
    if profile.bullets_max is not None and len(listing.bullets) > profile.bullets_max:
        out.append(Violation("bullets", f"{len(listing.bullets)} bullet points; {profile.label} takes at most "
                                        f"{profile.bullets_max}: merge or drop {len(listing.bullets) - profile.bullets_max}."))
    for i, bullet in enumerate(listing.bullets, 1):
        if profile.bullet_max is not None and len(bullet) > profile.bullet_max:
            out.append(_too_long("bullets", f"Bullet {i}", len(bullet), profile.bullet_max, profile.label))
    if not listing.description.strip():
        out.append(Violation("description", "The description is empty."))
    for name, limit in (("description", profile.description_max), ("seo_title", profile.seo_title_max),
                        ("meta_description", profile.meta_description_max)):
        value = getattr(listing, name)
        if limit is not None and len(value) > limit:
            out.append(_too_long(name, FIELD_NAMES[name], len(value), limit, profile.label))
    shown = profile.meta_description_shown
    if shown is not None and len(listing.meta_description) > shown:
        out.append(Violation("meta_description", f"Meta description is {len(listing.meta_description)} characters; "
                                                 f"search engines show about {shown}, so the end will be cut.", blocking=False))
    return out


def _title_violations(title: str, profile: ChannelProfile) -> list[Violation]:
    out = []
    if not title.strip():
        return [Violation("title", "The title is empty.")]
    if len(title) > profile.title_max:
        out.append(_too_long("title", FIELD_NAMES["title"], len(title), profile.title_max, profile.label))
    banned = sorted({ch for ch in title if ch in profile.title_banned})
    if banned:
        out.append(Violation("title", f"The title contains {' '.join(banned)}, which {profile.label} does not allow in titles."))
    if profile.title_word_repeats_max is not None:
        counts = Counter(title_words(title))
        for word, n in counts.items():
            if n > profile.title_word_repeats_max:
                out.append(Violation("title", f"“{word}” is {n} times in the title; {profile.label} allows a word at most "
                                              f"{profile.title_word_repeats_max} times."))
    return out


def _too_long(field_: str, what: str, n: int, limit: int, label: str) -> Violation:
    return Violation(field_, f"{what} is {n} characters; {label} allows {limit}: cut {n - limit}.")


def title_words(title: str) -> list[str]:
    """The title's words as the repeat rule counts them (lower-cased)."""
    return [w.lower() for w in _WORD.findall(title)]

