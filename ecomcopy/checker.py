"""The draft checker: what a copy editor would strike or fix before a draft can go on a product page.

Per draft: words that are not words, specifics nobody gave (numbers with units, materials, colours, product
types), contradictions of the keywords, keyword stuffing and repeated phrases, and a cut-off end. It reads the
text only: what it knows of the product is what the merchant typed, so anything more specific is a claim the
editor must confirm or strike.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Iterable

COLOURS = frozenset("""
black white grey gray silver gold red pink purple lilac lavender violet blue navy turquoise teal green khaki olive
mint yellow mustard orange beige cream ivory brown tan camel burgundy coral nude anthracite
""".split())
MATERIALS = frozenset("""
cotton linen wool cashmere mohair alpaca silk nylon polyester polyamide elastane spandex lycra viscose lyocell modal
rayon acrylic satin velvet corduroy denim jersey fleece leather suede lace chiffon tulle chenille felt rattan bamboo
oak pine birch beech walnut acacia teak softwood hardwood plywood particleboard fibreboard steel aluminium aluminum
metal glass ceramic stoneware porcelain earthenware plastic polypropylene polyethylene polycarbonate silicone rubber
latex cork marble stone concrete jute
""".split())
# heads of type names that are parts, places or qualities, not what a product is ("Chair with armrests",
# "Wall shelf", "Charging station"): a draft naming them claims a detail, not another product
GENERIC_TYPES = frozenset("""
set other accessories accessory wear item items unit units part parts piece pieces air armrests band base body bottom
braided brim castors ceiling charging coffee compartments double-sided fabric floor flatwoven front hair handle leg
lighting longue outdoor pad pair peaked pile sections storage string wall wedge flop file knob lid ledge module holder
frame board stand door doors drawers shelf shelves hood top
""".split())  # "top": any upper-body garment (a T-shirt's description may open "Top in...")
# parts a product has or lacks: a draft giving socks sleeves or a lamp a drawer invents one
PARTS = frozenset("""
sleeve sleeves cuff cuffs collar hood pocket pockets button buttons zip zipper hem waistband waist leg legs shoulder
shoulders neckline neck lining strap straps buckle heel heels sole soles toe toecap laces drawstring belt gusset cups
underwire brim lapels yoke placket drawer drawers door doors shelf shelves handle handles lid cushion cushions armrest
armrests backrest castor castors wheel wheels bulb cord cable plug switch spout blade blades hinge hinges mattress
""".split())
PART_MIN_PRODUCTS = 10  # a product type's parts are known from this many catalog products of it
PART_RARE = 0.02  # a part named in under 2% of a type's catalog descriptions is one that type does not have
UNITS = (r"(?:%|cm|mm|m|km|ml|cl|l|litres?|liters?|g|kg|oz|lbs?|w|kw|kwh|wh|v|mah|hz|khz|mhz|ghz|kb|mb|gb|tb|denier|den"
         r"|inch(?:es)?|in|ft|°\s*[cf]|degrees?|h|hours?|min|minutes?|days?|weeks?|months?|years?|x\s*\d+(?:[.,]\d+)?(?!\d))")
NUMBER_CLAIM = re.compile(rf"\b\d+(?:[.,]\d+)?\s*-?\s*{UNITS}(?![a-z])", re.IGNORECASE)
COUNT_CLAIM = re.compile(r"\b(?:pack|set) of (?:\d+|two|three|four|five|six|seven|eight|ten|twelve)\b|\b\d+-pack\b", re.IGNORECASE)
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
SENTENCE_END = ('.', '!', '?', '…', '"', '”', ')')
STOP = frozenset("a an the and or with in on of for to at by from its it is are has have this that your you as".split())
VOCABULARY_MIN_COUNT = 2  # a catalog word seen once may be a typo of its own
OPENING_WORDS = 3  # a product draft names what it is at its start ("Leggings in soft jersey...")
TYPE_MIN_PRODUCTS = 3  # a product type names at least this many catalog products (one-off names are descriptions)
REPEAT_WINDOW = 3  # a keyword's word again within this many words is a stammer ("a tummy and thighs tummy tight")
GLUED = re.compile(r"\b[A-Za-z]{3,}\d+\b")  # a word run into a number ("four0 denier")
# a part can have one of these at a time: a draft giving both ("short sleeves ... long sleeves") contradicts itself
EXCLUSIVE = {
    "sleeves": ("short", "long", "sleeveless", "3/4-length", "three-quarter-length", "cap"),
    "waist": ("high", "low", "mid", "regular"),
    "dress": ("short", "mini", "midi", "maxi", "long", "knee-length", "calf-length", "ankle-length"),
    "skirt": ("short", "mini", "midi", "maxi", "long", "knee-length", "calf-length", "ankle-length"),
}


@lru_cache(maxsize=1)
def dictionary():
    from spellchecker import SpellChecker  # pure Python, its English word list ships in the wheel

    return SpellChecker(language="en")


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'").strip("'-") for w in WORD.findall(text)]


def said_words(support: str) -> set[str]:
    """The words (and their singulars) that the keywords give: a draft may use them whatever the dictionary says."""
    return {f for w in _words(support) for f in _forms(w)}


def _forms(word: str) -> set[str]:
    """A word, its plain singular and its owner, so 'sleeves' finds 'sleeve', 'boxes' 'box', 'women's' 'women'."""
    out = {word}
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("'s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            out.add(word[: -len(suffix)] + repl)
    return out


@dataclass
class DraftCheck:
    non_words: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # specific claims neither the keywords nor the user gave
    contradictions: list[str] = field(default_factory=list)  # "blue (keywords: black)"
    stuffing: list[str] = field(default_factory=list)  # repeated keywords or phrases, keyword lists
    truncated: bool = False
    unlikely: list[str] = field(default_factory=list)  # parts the catalog's products of this type never have
    conflicts: list[str] = field(default_factory=list)  # the draft contradicts itself: "short sleeves / long sleeves"
    product_type: str = ""  # the type the keywords name, when `unlikely` was checked against it

    @property
    def clean(self) -> bool:
        return not (self.non_words or self.unsupported or self.contradictions or self.stuffing or self.truncated
                    or self.unlikely or self.conflicts)

    def flags(self) -> list[str]:
        """Short lines an editor reads at a glance."""
        out = []
        if self.non_words:
            out.append("not words: " + ", ".join(self.non_words))
        if self.contradictions:
            out.append("contradicts keywords: " + ", ".join(self.contradictions))
        if self.conflicts:
            out.append("says both: " + ", ".join(self.conflicts))
        if self.unsupported:
            out.append("check: " + ", ".join(self.unsupported))
        if self.unlikely:
            out.append(f"unusual on {self.product_type}: " + ", ".join(self.unlikely))
        out += self.stuffing
        if self.truncated:
            out.append("cut off")
        return out

    def claims(self) -> list[tuple[str, str]]:
        """(label, claim) of each specific an editor must confirm or strike from the text."""
        said = [(c.split(" (keywords: ")[0], c.split(" (keywords: ")[-1].rstrip(")")) for c in self.contradictions]
        return ([(f"{c}: your keywords say {k}", c) for c, k in said] + [(f"{c}: not in your keywords", c) for c in self.unsupported]
                + [(f"{c}: unusual on {self.product_type}", c) for c in self.unlikely])

    def to_dict(self) -> dict:
        return asdict(self) | {"clean": self.clean, "flags": self.flags()}


class DraftChecker:
    """Built once per catalog: its words count as words (brand names, 'elastane', 'lyocell'), its product
    types as product types."""

    def __init__(self, vocabulary: Iterable[str] = (), product_types: Iterable[str] = (),
                 parts: dict[str, dict[str, float]] | None = None) -> None:
        self.vocabulary = frozenset(w.lower() for w in vocabulary)
        self.product_types = frozenset(t.lower() for t in product_types if t and len(t) > 2) - COLOURS - MATERIALS
        self.parts = parts or {}  # product type -> part -> share of its catalog descriptions naming the part

    @classmethod
    def from_texts(cls, texts: Iterable[str], types: Iterable[str] = ()) -> "DraftChecker":
        """`types`: the catalog's product type names; each one's head noun ('Underwear Tights' -> tights,
        'Quilt cover and pillowcase' -> cover, pillowcase) is a product type."""
        counts = Counter(w for t in texts for w in _words(t))
        heads = Counter(h for t in types for h in _heads(t))
        common = {h for h, c in heads.items() if c >= TYPE_MIN_PRODUCTS}
        return cls([w for w, c in counts.items() if c >= VOCABULARY_MIN_COUNT], common - GENERIC_TYPES)

    @classmethod
    def from_products(cls, products: Iterable) -> "DraftChecker":
        """From catalog products (anything with keywords, description, name and attributes)."""
        products = list(products)
        texts = [t for p in products for t in (p.description, p.name, *p.keywords)]
        types = [str((p.attributes or {}).get("product_type") or (p.attributes or {}).get("type") or "") for p in products]
        checker = cls.from_texts(texts, types)
        shares = _part_shares((_heads(t), f"{p.name} {p.description}") for p, t in zip(products, types))
        checker.parts = {t: s for t, s in shares.items() if t in checker.product_types}
        return checker

    def check(self, draft: str, keywords: list[str], given: str = "") -> DraftCheck:
        """`given`: anything else the user typed about the product (counts as support for a claim)."""
        support = " ".join(keywords) + " " + given
        said = said_words(support)
        words = _words(draft)
        contradictions = self._contradictions(words, said)
        contradicted = {c.split(" (")[0] for c in contradictions}
        return DraftCheck(
            non_words=self._non_words(words, said) + [g.lower() for g in GLUED.findall(draft)],
            unsupported=[c for c in self._unsupported(draft, words, said, support) if c not in contradicted],
            contradictions=contradictions,
            stuffing=_stuffing(draft, keywords),
            truncated=bool(draft.strip()) and not draft.rstrip().endswith(SENTENCE_END),
            conflicts=_conflicts(draft),
            **self._unlikely(words, said),
        )

    def _unlikely(self, words: list[str], said: set[str]) -> dict:
        """Parts that the catalog's products of the keywords' type (every one of them, if several) never name."""
        types = sorted(t for t in self.parts if t in said)
        if not types:
            return {}
        rare = [w for w in dict.fromkeys(words) if (_forms(w) & PARTS) and not (_forms(w) & said)
                and all(max(self.parts[t].get(f, 0.0) for f in _forms(w)) < PART_RARE for t in types)]
        return {"unlikely": rare, "product_type": "/".join(types)} if rare else {}

    def _non_words(self, words: list[str], said: set[str]) -> list[str]:
        return sorted({w for w in words if len(w) > 2 and not all(self.is_word(part, said) for part in w.split("-") if part)})

    def is_word(self, word: str, said: set[str]) -> bool:
        forms = _forms(word)
        return len(word) < 3 or bool(forms & self.vocabulary or forms & said) or bool(dictionary().known(forms))

    def _unsupported(self, draft: str, words: list[str], said: set[str], support: str) -> list[str]:
        claims = [m.group(0) for m in NUMBER_CLAIM.finditer(draft) if not _number_given(m.group(0), support)]
        claims += [m.group(0) for m in COUNT_CLAIM.finditer(draft) if m.group(0).lower() not in support.lower()]
        for lexicon in (MATERIALS, COLOURS):
            claims += [w for w in dict.fromkeys(words) if (_forms(w) & lexicon) and not (_forms(w) & said)]
        return list(dict.fromkeys(claims))

    def _contradictions(self, words: list[str], said: set[str]) -> list[str]:
        """A colour other than the keywords', and a product named first that is not the keywords' product.
        Materials mix (a cotton blend holds modal, leather boots have a satin lining): one the keywords do not
        give is a claim to check, not a contradiction."""
        out = []
        colours = sorted({w for w in said if w in COLOURS})
        if colours:
            out += [f"{w} (keywords: {', '.join(colours)})" for w in dict.fromkeys(words)
                    if (_forms(w) & COLOURS) and not (_forms(w) & said)]
        given_types = sorted({w for w in said if w in self.product_types})
        first = next((w for w in words[:OPENING_WORDS] if _forms(w) & self.product_types), None)  # what it says it is
        if given_types and first and not (_forms(first) & said):
            out.append(f"{first} (keywords: {', '.join(given_types)})")
        return out


def _heads(product_type: str) -> list[str]:
    """The head nouns of a type name: 'Underwear Tights' -> tights; 'Quilt cover and pillowcase' -> cover, pillowcase."""
    return [_words(part)[-1] for part in re.split(r"/|,| and ", product_type) if _words(part)]


def _part_shares(typed: Iterable[tuple[list[str], str]]) -> dict[str, dict[str, float]]:
    """Per product type with enough catalog products: the share of their descriptions naming each part."""
    products, named = Counter(), {}
    for heads, text in typed:
        parts = {f for w in _words(text) for f in _forms(w)} & PARTS
        for h in heads:
            products[h] += 1
            named.setdefault(h, Counter()).update(parts)
    return {h: {p: c / n for p, c in named[h].items()} for h, n in products.items() if n >= PART_MIN_PRODUCTS}


def _number_given(claim: str, support: str) -> bool:
    """Every number of the claim is one the user gave (whole numbers: '40' is not given by '4400')."""
    return all(re.search(rf"(?<![\d.,]){re.escape(n)}(?![\d])", support) for n in re.findall(r"\d+(?:[.,]\d+)?", claim))


def _stuffing(draft: str, keywords: list[str]) -> list[str]:
    out, sentences = [], [x for x in re.split(r"(?<=[.!?])\s+", draft.lower()) if x]
    for k in keywords:
        pattern = rf"(?<![a-z]){re.escape(k.lower())}(?![a-z])" if k.strip() else None
        n = len(re.findall(pattern, draft.lower())) if pattern else 0
        if n >= 3 or (n == 2 and any(len(re.findall(pattern, x)) > 1 for x in sentences)):
            out.append(f"“{k}” written {n} times")
    keyword_words = {w for k in keywords for w in _words(k) if len(w) > 2} - STOP  # not the "x" of "60x50 cm"
    for w in (_words(x) for x in re.split(r"[,;:.!?()–]", draft.lower())):  # between punctuation: lists may repeat
        stammer = next((x for i, x in enumerate(w) if x in keyword_words and x in w[i + 1:i + 1 + REPEAT_WINDOW]), None)
        if stammer:
            out.append(f"repeats “{stammer}”")
            break
    runs = Counter(tuple(w[i:i + 3]) for w in map(_words, sentences) for i in range(len(w) - 2))  # within a sentence
    repeated = [" ".join(r) for r, c in runs.items() if c > 1 and sum(w not in STOP and len(w) > 2 for w in r) >= 2]
    if repeated:
        out.append("repeats “" + repeated[0] + "”")
    # two keyword phrases back to back, not even a comma between: pasted, not written (the product's type
    # is left out: "storage box fits in trofast frames" is a sentence)
    phrases = "|".join(re.escape(" ".join(_words(k))) for k in keywords[1:] if len(_words(k)) >= 2)
    joined = re.search(rf"(?<![\w-])({phrases}) ({phrases})(?![\w-])", draft.lower()) if phrases else None
    if joined and joined.group(1) != joined.group(2):
        out.append(f"keywords run together: “{joined.group(1)} {joined.group(2)}”")
    given = {" ".join(_words(k)) for k in keywords}
    for sentence in sentences:
        segments = [" ".join(_words(x)) for x in sentence.split(",")]
        listed = len(segments) >= 3 and sum(seg in given for seg in segments) >= 2 and all(len(seg.split()) <= 4 for seg in segments[1:])
        if listed or (len(segments) >= 3 and segments[0] in given and segments[1] in given):  # "Tights, Black, Solid waist..."
            out.append("a list of keywords, not a sentence")
            break
    return out


def _conflicts(draft: str) -> list[str]:
    """Parts given two exclusive forms in one draft ("short sleeves / long sleeves")."""
    out = []
    for part, forms in EXCLUSIVE.items():
        alternatives = "|".join(re.escape(f) for f in forms)
        found = {m.lower() for m in re.findall(rf"\b({alternatives})(?:,? [a-z-]+)? {part}\b", draft, re.IGNORECASE)}
        if part == "sleeves" and re.search(r"\bsleeveless\b", draft, re.IGNORECASE):
            found.add("sleeveless")
        if len(found) > 1:
            out.append(" / ".join(f"{f} {part}" if f != "sleeveless" else f for f in sorted(found)))
    return out


def check_metrics(checks: list[list[DraftCheck]]) -> dict:
    """A row's checker metrics over its products (each a list of its drafts' checks)."""
    flat = [c for per_product in checks for c in per_product]
    n = max(len(flat), 1)
    return {
        "non_words_per_100": 100 * sum(len(c.non_words) for c in flat) / n,
        "unsupported_per_draft": sum(len(c.unsupported) + len(c.unlikely) for c in flat) / n,
        "contradiction_rate": sum(bool(c.contradictions or c.conflicts) for c in flat) / n,
        "stuffing_rate": sum(bool(c.stuffing) for c in flat) / n,
        "truncation_rate": sum(c.truncated for c in flat) / n,
        "clean": sum(c.clean for c in flat) / n,
        "best_of_n_clean": sum(any(c.clean for c in per_product) for per_product in checks) / max(len(checks), 1),
    }
