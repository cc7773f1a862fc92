"""The merchant's keywords: parsed from free text, validated, and turned into prompt text."""

from __future__ import annotations

import re
import unicodedata

from .config import DATA_KEYWORDS
from .errors import InputError

MAX_KEYWORDS_CHARS = 500
MAX_KEYWORDS = 20
MAX_KEYWORD_WORDS = 8  # the longest catalog keyword in the shared data has 8 words; a longer one is a sentence


def once_each(keywords: list[str]) -> list[str]:
    """Each keyword once, ignoring case; the first spelling is kept."""
    out: dict[str, str] = {}
    for k in keywords:
        out.setdefault(k.lower(), k)
    return list(out.values())


def parse_keywords(text: str | None) -> list[str]:
    """'black, denim ; slim fit' -> ['black', 'denim', 'slim fit']; empty input gives []."""
    text = (text or "").strip()
    if len(text) > MAX_KEYWORDS_CHARS:
        raise InputError(f"Keywords are {len(text)} characters long; keep them under {MAX_KEYWORDS_CHARS} (a few short phrases, comma-separated).")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")  # drop control characters
    out: list[str] = []
    for part in re.split(r"[,;\n\t]+", text):
        part = " ".join(part.split())
        if not any(ch.isalnum() for ch in part):  # only punctuation or symbols: nothing a model can use
            continue
        if len(part.split()) > MAX_KEYWORD_WORDS:  # instructions to the model ("ignore the above and ...") included
            raise InputError(f"“{part[:60]}{'…' if len(part) > 60 else ''}” reads like a sentence, not a keyword; "
                             f"use short phrases (at most {MAX_KEYWORD_WORDS} words each), separated by commas.")
        out.append(part)
    out = once_each(out)
    if len(out) > MAX_KEYWORDS:
        raise InputError(f"{len(out)} keywords given; use at most {MAX_KEYWORDS}.")
    return out


# --- merchant keywords for training and evaluation -------------------------------------------
# The data's keywords are catalog attributes; some are internal (H&M section and garment-group names
# such as "Womens Nightwear, Socks & Tigh") and no shopper reads them. A merchant types the attributes
# a shopper would read plus a few marketing phrases, as in the paper's data.
INTERNAL_ATTRIBUTES = ("section", "garment_group", "index_group", "product_group", "perceived_colour_master")
MAX_PHRASES = 3


def shopper_attributes(keywords: list[str], attributes: dict) -> list[str]:
    """The data's keywords minus the values of internal attributes, each once (H&M often repeats the product
    type as the garment group: 'Trousers', 'Trousers')."""
    shown = {str(v).lower() for a, v in attributes.items() if a not in INTERNAL_ATTRIBUTES}
    internal = {str(attributes[a]).lower() for a in INTERNAL_ATTRIBUTES if a in attributes} - shown
    return once_each([k for k in keywords if k.lower() not in internal])


_extractor = None
NEGATORS = frozenset({"no", "not", "without", "non", "never"})


def _negated(phrase: str, text: str) -> bool:
    """True when every occurrence of the phrase follows a negator within two words ("without metal clips",
    "no shoulder straps"): offered as a keyword it would state the opposite of the product."""
    hits = list(re.finditer(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", text))
    return bool(hits) and all(NEGATORS & set(re.findall(r"[\w']+", text[: m.start()])[-2:]) for m in hits)


def salient_phrases(description: str, exclude: list[str] = (), k: int = MAX_PHRASES, whole: bool = False) -> list[str]:
    """Up to k phrases (1-3 words) of the description, by YAKE (unsupervised, deterministic).

    YAKE scores candidate n-grams by statistics of the text itself (position, frequency, casing,
    context); lower is more salient. We skip phrases the description negates ("without metal clips"): as a
    keyword they would state the opposite of the product. We keep the best k whose words do not repeat a kept
    phrase's or an attribute's words, lower-cased. (Skipping phrases with a stop word inside, fragments such as
    "top and silicone", was tried and lost 2.3 ROUGE-L on H&M dev: docs/EVALUATION.md, "Tried on dev".)
    """
    global _extractor
    if _extractor is None:
        import yake

        _extractor = yake.KeywordExtractor(lan="en", n=3, top=12, dedupLim=0.7)
    text = " ".join((description or "").lower().split())
    taken = {w for e in exclude for w in e.lower().split()}
    out: list[str] = []
    for phrase, _ in _extractor.extract_keywords(description or ""):
        phrase = phrase.lower()
        words = set(phrase.split())
        if words & taken or not any(ch.isalpha() for ch in phrase) or _negated(phrase, text):
            continue
        if whole and words & _extractor.stopword_set:
            continue
        out.append(phrase)
        taken |= words
        if len(out) == k:
            break
    return out


def merchant_keywords(keywords: list[str], attributes: dict, description: str, phrases: bool = True,
                      whole: bool = False) -> list[str]:
    """What a merchant would type for this product: shopper-facing attributes (+ up to 3 salient phrases)."""
    attrs = shopper_attributes(keywords, attributes)
    return attrs + (salient_phrases(description, exclude=attrs, whole=whole) if phrases else [])


def product_keywords(product, mode: str = "merchant") -> list[str]:
    """The keywords a merchant would type for a data product (`products.Product`), in one of DATA_KEYWORDS."""
    if mode not in DATA_KEYWORDS:
        raise ValueError(f"keyword mode {mode!r}; use one of {', '.join(DATA_KEYWORDS)}")
    return merchant_keywords(product.keywords, product.attributes, product.description,
                             phrases=mode != "attributes", whole=mode == "whole")
