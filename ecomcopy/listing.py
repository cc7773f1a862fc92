"""A listing, not a paragraph: title, bullet points, description (text and HTML), SEO title, meta description
and tags, built for one channel from the merchant's keywords and the chosen draft.

The title and bullets are deterministic from the keywords (a model-written title would have to measure better
first), so nothing in them is invented: the title puts the keywords in the order the channel's guide asks for
(brand, product type, colour, material, size, details), within its length and its word-repeat rule; each bullet
is one keyword fact or one sentence of the draft. The HTML is built from escaped text, so markup typed into the
keywords or the draft stays inert.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from .channels import ChannelProfile, title_words
from .checker import COLOURS, MATERIALS
from .keywords import once_each
from .text import whole_sentences

SIZE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:x\s*\d+(?:[.,]\d+)?\s*)*(?:cm|mm|m|ml|l|g|kg|in|inch(?:es)?)\b"
                  r"|^(?:size\s+)?(?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{2})$", re.IGNORECASE)
TITLE_WORD_REPEATS = 2  # no word more than twice in any channel's title (Amazon's rule; the others read better for it)
BULLETS = (3, 5)  # fewest and most bullets a listing aims for, within the channel's own limit
SEO_TITLE = 70  # where a channel sets no limit: what search engines show
META_DESCRIPTION = 160


@dataclass
class Listing:
    title: str
    bullets: list[str]
    description: str  # the chosen (edited) draft, plain text
    seo_title: str
    meta_description: str
    tags: list[str]
    channel: str
    machine_written: list[str] = field(default_factory=list)  # the fields a model wrote (the rest: the merchant's keywords)

    @property
    def bullets_html(self) -> str:
        items = "".join(f"<li>{html.escape(b)}</li>" for b in self.bullets)
        return f"<ul>{items}</ul>" if items else ""

    @property
    def description_html(self) -> str:
        """`<p>` for the description and `<ul><li>` for the bullets, every text escaped."""
        return (f"<p>{html.escape(self.description)}</p>" if self.description else "") + self.bullets_html

    def to_dict(self) -> dict:
        return asdict(self) | {"description_html": self.description_html}


def keyword_roles(keywords: list[str], brand: str = "") -> dict[str, list[str]]:
    """Each keyword's part in a title: the colours, the sizes, the product type (the first keyword that is neither,
    as merchants type it first), the materials and the details (the rest)."""
    roles: dict[str, list[str]] = {"brand": [brand.strip()] if brand.strip() else [], "type": [], "colour": [],
                                   "material": [], "size": [], "details": []}
    for k in once_each(keywords):
        ws = [w.lower() for w in re.findall(r"[A-Za-z]+", k)]
        if SIZE.search(k):
            roles["size"].append(k)
        elif ws and all(w in COLOURS or w in ("light", "dark") for w in ws):
            roles["colour"].append(k)
        elif not roles["type"]:  # merchants name the product first, and "Glass" is a product as well as a material
            roles["type"].append(k)
        elif ws and len(ws) <= 3 and any(w in MATERIALS for w in ws):
            roles["material"].append(k)
        else:
            roles["details"].append(k)
    return roles


def build_title(keywords: list[str], profile: ChannelProfile, brand: str = "") -> str:
    """The keywords in the channel's order, each added only if the title stays within its length and no word
    appears more than twice; characters the channel refuses are dropped."""
    return _title(keyword_roles(keywords, brand), profile)


def _title(roles: dict[str, list[str]], profile: ChannelProfile) -> str:
    parts: list[tuple[str, str]] = []  # (role, text)
    counts: Counter = Counter()
    for role in profile.title_order:
        for value in roles[role]:
            value = " ".join("".join(" " if ch in profile.title_banned else ch for ch in value).split())
            candidate = _join_title(parts + [(role, value)])
            new_counts = counts + Counter(title_words(value))
            if value and len(candidate) <= profile.title_max and max(new_counts.values(), default=0) <= TITLE_WORD_REPEATS:
                parts.append((role, value))
                counts = new_counts
    title = _join_title(parts)
    return title[:1].upper() + title[1:]


def _join_title(parts: list[tuple[str, str]]) -> str:
    """"Brand Type, detail, detail": the brand and the type make the head, the rest follow it."""
    out = ""
    for i, (role, text) in enumerate(parts):
        head = i and role == "type" and parts[i - 1][0] == "brand"
        out += (" " if head else ", " if out else "") + text
    return out


def build_bullets(roles: dict[str, list[str]], draft: str, limit: int | None) -> list[str]:
    """One fact per bullet: the keywords' material, size and details (`keyword_roles`), then the draft's later
    sentences."""
    most = min(BULLETS[1], limit) if limit else BULLETS[1]
    facts = [f"Material: {m}" for m in roles["material"]] + [f"Size: {s}" for s in roles["size"]]
    facts += [d[:1].upper() + d[1:] for d in roles["details"]]
    for sentence in whole_sentences(draft)[1:]:  # the first sentence opens the description
        if len(facts) >= BULLETS[0]:
            break
        facts.append(sentence)
    return facts[:most]


def build_listing(keywords: list[str], draft: str, profile: ChannelProfile, brand: str = "") -> Listing:
    """The listing of one product for one channel (`validate` says what still breaks its rules)."""
    roles = keyword_roles(keywords, brand)
    title = _title(roles, profile)
    description = " ".join(draft.split())
    if profile.description_max:
        description = _cut(description, profile.description_max)
    bullets = build_bullets(roles, description, profile.bullets_max)
    from_draft = bool(set(bullets) & set(whole_sentences(description)))  # a sentence of the draft serves as a bullet
    return Listing(
        title=title,
        bullets=bullets,
        description=description,
        seo_title=_cut(title, profile.seo_title_max or SEO_TITLE),
        meta_description=_cut(description, min(profile.meta_description_shown or META_DESCRIPTION, META_DESCRIPTION)),
        tags=once_each([" ".join(k.lower().split()) for k in keywords]),
        channel=profile.name,
        machine_written=["description", "meta_description"] + (["bullets"] if from_draft else []),
    )


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word, without a dangling comma."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut[:limit].rstrip(" ,;:-–")
