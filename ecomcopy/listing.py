"""A listing, not a paragraph: title, bullet points, description (text and HTML), SEO title, meta description
and tags, built for one channel from the merchant's keywords and the chosen draft.

The title and bullets are deterministic from the keywords (a model-written title would have to measure better
first), so nothing in them is invented: the title is the product's attributes among the keywords (brand, product
type, colour, material, size, pattern) in the order the channel's guide asks for, within its length and its
word-repeat rule; the keywords' marketing phrases stay out of it, as phrases cut from a sentence ("frames and
tinted") made titles no shop would publish. Each bullet is one labelled attribute or one sentence of the draft. The HTML is built from escaped text, so markup typed into the
keywords or the draft stays inert.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from .channels import ChannelProfile, channel, title_words, validate
from .checker import COLOURS, MATERIALS
from .errors import InputError
from .keywords import once_each
from .text import whole_sentences

SIZE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:x\s*\d+(?:[.,]\d+)?\s*)*(?:cm|mm|m|ml|l|g|kg|in|inch(?:es)?)\b"
                  r"|^(?:size\s+)?(?:xxs|xs|s|m|l|xl|xxl|xxxl|\d{2})$", re.IGNORECASE)
TITLE_WORD_REPEATS = 2  # no word more than twice in any channel's title (Amazon's rule; the others read better for it)
BULLETS = (3, 5)  # fewest and most bullets a listing aims for, within the channel's own limit
SEO_TITLE = 70  # where a channel sets no limit: what search engines show
META_DESCRIPTION = 160
MAX_FIELD_CHARS = 5000  # what a caller may send for one field (the channels' own limits are the validator's)
MAX_ITEMS = 50  # bullets or tags a caller may send
EDITABLE = ("title", "bullets", "seo_title", "meta_description", "tags")


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
    brand: str = ""  # the vendor, as the merchant typed it ('' = none)

    @property
    def bullets_html(self) -> str:
        return _list_html(self.bullets)

    @property
    def description_html(self) -> str:
        """A shop's body: `<p>` for the description, then `<ul><li>` for the bullets it does not already say (the
        bullets taken from its sentences are said once), every text escaped."""
        said = set(whole_sentences(self.description))
        return (f"<p>{html.escape(self.description)}</p>" if self.description else "") + _list_html([b for b in self.bullets if b not in said])

    def to_dict(self) -> dict:
        return asdict(self) | {"description_html": self.description_html}

    def violations(self) -> list[dict]:
        """The channel's rules this listing breaks, as the API returns them."""
        return [asdict(v) for v in validate(self, channel(self.channel))]

    def blocking(self) -> list[str]:
        """What the channel would refuse, in words: a listing with any is neither approved nor "passes"."""
        return [v.message for v in validate(self, channel(self.channel)) if v.blocking]


COLOUR_WORDS = frozenset("""light dark off pale bright deep greenish yellowish greyish reddish bluish pinkish multicolour
multicoloured multi assorted colour colours natural clear transparent high gloss""".split())
PATTERN_WORDS = frozenset("""stripe striped stripes check checked checks dot dots dotted spotted floral print printed pattern
patterned melange jacquard embroidery embroidered sequin sequins glittering metallic mesh chambray slub blocking""".split())
PRAISE = frozenset("soft lovely beautiful cosy cozy comfortable premium luxurious quality fine".split())
PHRASE_ENDS = frozenset("and or of to with for in on the a an by".split())


def fragment(keyword: str) -> bool:
    """A phrase cut out of a sentence, not a fact ("frames and tinted", "pieces to make"): it ends on a function word
    or pairs two words with "and"/"or"."""
    ws = keyword.lower().split()
    return bool(ws) and (ws[-1] in PHRASE_ENDS or (len(ws) == 3 and ws[1] in ("and", "or")))


def _list_html(items: list[str]) -> str:
    return f"<ul>{''.join(f'<li>{html.escape(i)}</li>' for i in items)}</ul>" if items else ""


def keyword_roles(keywords: list[str], brand: str = "") -> dict[str, list[str]]:
    """Each keyword's part in a listing: the colours, sizes and product type (the first keyword that is neither, as
    merchants type it first), patterns ("details": "Stripe", not "Solid"), materials ("stretch cotton blend", a finish
    such as "white stained pine"), and the rest ("other": marketing
    phrases, which go into the tags and reach the bullets only through the draft's sentences)."""
    roles: dict[str, list[str]] = {"brand": [brand.strip()] if brand.strip() else [], "type": [], "colour": [],
                                   "material": [], "size": [], "details": [], "other": []}
    for k in once_each([" ".join(k.replace(",", ", ").split()) for k in keywords]):
        ws = [w.lower() for w in re.findall(r"[A-Za-z]+", k)]
        if SIZE.search(k):
            roles["size"].append(k)
        elif ws and all(w in COLOURS or w in COLOUR_WORDS for w in ws) and any(w in COLOURS for w in ws):
            roles["colour"].append(k)
        elif not roles["type"]:  # merchants name the product first, and "Glass" is a product as well as a material
            roles["type"].append(k)
        elif ws and len(ws) <= 3 and set(ws) & PATTERN_WORDS and not fragment(k):
            roles["details"].append(k)
        elif ws and len(ws) <= 4 and set(ws) & MATERIALS and not fragment(k):
            roles["material"].append(_plain(k))
        else:
            roles["other"].append(k)
    return roles


def _plain(keyword: str) -> str:
    """A material as a fact: "soft organic cotton" -> "organic cotton" (praise belongs in the description)."""
    words = keyword.split()
    while len(words) > 1 and words[0].lower() in PRAISE:
        words = words[1:]
    return " ".join(words)


def build_title(keywords: list[str], profile: ChannelProfile, brand: str = "") -> str:
    """The keywords in the channel's order, each added only if the title stays within its length and no word
    appears more than twice; characters the channel refuses are dropped."""
    return _title(keyword_roles(keywords, brand), profile)


def _title(roles: dict[str, list[str]], profile: ChannelProfile) -> str:
    parts: list[tuple[str, str]] = []  # (role, text)
    counts: Counter = Counter()
    for role in profile.title_order:
        for value in _title_values(roles, role):
            value = " ".join("".join(" " if ch in profile.title_banned else ch for ch in value).split())
            candidate = _join_title(parts + [(role, value)])
            new_counts = counts + Counter(title_words(value))
            if value and len(candidate) <= profile.title_max and max(new_counts.values(), default=0) <= TITLE_WORD_REPEATS:
                parts.append((role, value))
                counts = new_counts
    title = _join_title(parts)
    return title[:1].upper() + title[1:]


def _title_values(roles: dict[str, list[str]], role: str) -> list[str]:
    """A title's part per role: the colours as one ("Turquoise/Lilac", as shops write a two-colour product)."""
    if role == "colour":
        return ["/".join(_capital(c) for c in roles["colour"])] if roles["colour"] else []
    return [_capital(v) if role != "brand" else v for v in roles[role]]


def _join_title(parts: list[tuple[str, str]]) -> str:
    """"Brand Type, detail, detail": the brand and the type make the head, the rest follow it."""
    out = ""
    for i, (role, text) in enumerate(parts):
        head = i and role == "type" and parts[i - 1][0] == "brand"
        out += (" " if head else ", " if out else "") + text
    return out


def build_bullets(roles: dict[str, list[str]], draft: str, limit: int | None) -> list[str]:
    """One fact per bullet: the keywords' colour, pattern, material and size, labelled, then the draft's sentences
    after the first (which opens the description; it joins them where there would be fewer than 3), up to 5 or the
    channel's limit. Fewer facts make fewer bullets: none is invented."""
    most = min(BULLETS[1], limit) if limit else BULLETS[1]
    labelled = [("Colour", _title_values(roles, "colour")), ("Pattern", roles["details"]), ("Material", roles["material"]),
                ("Size", roles["size"])]
    facts = [f"{label}: {_capital(v)}" for label, values in labelled for v in values]
    sentences = [s for s in whole_sentences(draft) if s.strip()]
    later = sentences[1:] if len(facts) + len(sentences) - 1 >= BULLETS[0] else sentences  # too few facts: every sentence
    return (facts + later)[:most]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


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
        brand=brand.strip(),
    )


def listing_for_result(result: dict, channel_name: str, brand: str = "") -> dict:
    """The listing of a suggestion's first (best-ranked) draft, with the channel's violations: what `/generate`
    and `generate --json` return beside the drafts."""
    drafts = result.get("drafts") or [""]
    built = build_listing(result.get("keywords") or [], drafts[0], channel(channel_name), brand)
    return built.to_dict() | {"violations": built.violations()}


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word, without a dangling comma."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut[:limit].rstrip(" ,;:-–")


def listing_from_fields(fields: object, description: str, keywords: list[str], drafts: list[str] = ()) -> Listing:
    """A listing as the page or an API caller sends it, checked (every field untrusted): `channel` names one of
    `channel_names()`; `title`, `seo_title`, `meta_description` are texts, `bullets` and `tags` lists of texts
    (or one text: a bullet per line, tags comma-separated); a field not sent is built from the keywords, the
    description and `brand` (optional). The description is kept whole: the validator says if it is too long. A field stays machine-written only while it is what the model's draft made it."""
    if not isinstance(fields, dict):
        raise InputError("The listing must be an object of fields (channel, title, bullets, seo_title, meta_description, tags).")
    name = fields.get("channel")
    if not isinstance(name, str):
        raise InputError("The listing must name its channel.")
    brand = fields.get("brand") if isinstance(fields.get("brand"), str) else ""
    built = build_listing(keywords, description, channel(name), brand[:MAX_FIELD_CHARS])
    values = {f: _field(f, fields[f]) if fields.get(f) is not None else getattr(built, f) for f in EDITABLE}
    listing = Listing(description=" ".join(description.split()), channel=name, brand=built.brand, **values)
    machine = [f for f in built.machine_written if getattr(listing, f) == getattr(built, f)]
    listing.machine_written = [f for f in machine if f != "description" or description in drafts]
    return listing


def _field(name: str, value: object) -> str | list[str]:
    if name in ("bullets", "tags"):
        if isinstance(value, str):
            value = value.splitlines() if name == "bullets" else value.split(",")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_ITEMS:
            raise InputError(f"The listing's {name} must be a list of at most {MAX_ITEMS} texts.")
        value = [" ".join(v.split()) for v in value if v.strip()]
        if any(len(v) > MAX_FIELD_CHARS for v in value):
            raise InputError(f"Each of the listing's {name} may have at most {MAX_FIELD_CHARS:,} characters.")
        return value
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
        raise InputError(f"The listing's {name.replace('_', ' ')} must be a text of at most {MAX_FIELD_CHARS:,} characters.")
    return " ".join(value.split())
