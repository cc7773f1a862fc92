"""What one request is and what it returns: the writer's input, the retrieval, the streamed progress and the
final suggestion (with the JSON the API and `generate --json` return)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import WRITERS
from .errors import InputError
from .keywords import parse_keywords
from .channels import channel
from .listing import Listing, listing_from_fields
from .review import DraftReview, mean_overlap
from .search import Hit

if TYPE_CHECKING:
    import torch

    from .catalog import CatalogProduct
    from .encoders import VisualFeatures


@dataclass
class DraftInput:
    """What a writer needs for one product's drafts, whichever writer it is."""

    keywords: list[str]
    visual: torch.Tensor | None  # (N, D) the product photo's visual tokens; None = no photo
    reference: CatalogProduct | None  # the in-context reference; None = write without one
    reference_visual: bool = True  # give ModICT the reference's photo too
    guard_reference: bool = True  # keep drafts from copying the reference's description (the copy guard)


@dataclass
class Retrieval:
    """A product's similar catalog products, and the one chosen as its reference."""

    keywords: list[str]
    features: VisualFeatures | None  # the photo's encoding (None without a photo)
    references: list[Hit]  # top-k similar catalog products
    chosen: int = 0  # index in `references` of the reference
    use_reference: bool = True  # False: nothing in the catalog is alike enough; write from the photo and keywords only

    @property
    def reference(self) -> Hit:
        return self.references[self.chosen]

    def draft_input(self) -> DraftInput:
        visual = self.features.tokens[0] if self.features is not None else None
        return DraftInput(self.keywords, visual, self.reference.product if self.use_reference else None)


@dataclass
class Suggestion:
    keywords: list[str]
    references: list[Hit]  # top-k similar catalog products; references[chosen_reference] conditioned the drafts
    drafts: list[str]
    seconds: float
    writer: str = "prompt"  # what wrote the drafts: "modict" or "prompt"
    reviews: list[DraftReview] = field(default_factory=list)  # one per draft
    chosen_reference: int = 0  # index in `references` of the one the drafts were conditioned on
    rounds: int = 1  # sampling rounds: more than 1 when near-duplicate drafts were dropped and re-sampled
    reference_used: bool = True  # False: no catalog product was alike enough; the drafts had no reference
    first_words_seconds: float | None = None  # from the request to the drafts' first words (queueing for the model included)

    @property
    def reference(self) -> Hit:
        return self.references[self.chosen_reference]

    def to_dict(self) -> dict:
        """The JSON of the API and of `generate --json`."""
        overlap = mean_overlap(self.drafts)
        return {
            "keywords": self.keywords,
            "reference": self.reference.to_dict(),
            "alternatives": [h.to_dict() for i, h in enumerate(self.references) if i != self.chosen_reference],
            "reference_used": self.reference_used,  # false: "reference" is only the most similar product
            "drafts": self.drafts,
            "reviews": [r.to_dict() for r in self.reviews],
            "mean_overlap": round(overlap, 3) if overlap is not None else None,
            "writer": self.writer,
            "seconds": round(self.seconds, 3),
            "first_words_seconds": round(self.first_words_seconds, 3) if self.first_words_seconds is not None else None,
        }


@dataclass
class Progress:
    """A step of a streamed suggestion: the references first, then the drafts as they grow."""

    references: list[Hit]
    chosen_reference: int
    partial: list[str]  # drafts so far (empty until the first token)
    reference_used: bool = True
    place: int = 0  # place in line for the model while other requests' drafts fill it (0: being written)


MAX_DRAFTS = 8  # SamplingConfig's most drafts a request
MAX_DRAFT_CHARS = 2_000  # a draft of 200 tokens (the longest allowed) is under 1,500 characters
MAX_FINAL_CHARS = 5_000  # Google Merchant Center's description limit, the most generous channel's
MAX_ID_CHARS = 200


@dataclass
class ApprovalRequest:
    """An approval as a caller sends it, checked field by field before anything is written: the API takes
    the result of `generate` back from the client, so every field is untrusted."""

    keywords: list[str]
    reference_id: str  # a catalog product; its snapshot is taken from the catalog, not from the caller
    drafts: list[str]
    chosen: str  # the draft picked before editing ('' = none)
    final: str
    writer: str
    add_to_catalog: bool
    listing: Listing | None = None  # the listing approved with the text (`listing.listing_from_fields`)

    @classmethod
    def from_result(cls, result: object, final: object, chosen: object = "", add_to_catalog: object = True,
                    listing: object = None) -> "ApprovalRequest":
        if not isinstance(result, dict) or not isinstance(result.get("reference"), dict):
            raise InputError("Write drafts first: an approval records the keywords, reference and drafts they came from.")
        if not isinstance(add_to_catalog, bool):
            raise InputError("add_to_catalog must be true or false.")
        keywords, drafts = result.get("keywords") or [], result.get("drafts") or []
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise InputError("The result's keywords must be a list of texts.")
        if not isinstance(drafts, list) or len(drafts) > MAX_DRAFTS or not all(isinstance(d, str) and len(d) <= MAX_DRAFT_CHARS for d in drafts):
            raise InputError(f"The result's drafts must be at most {MAX_DRAFTS} texts of at most {MAX_DRAFT_CHARS:,} characters.")
        ref_id, writer = result["reference"].get("id"), result.get("writer", "")
        if not isinstance(ref_id, str) or not 0 < len(ref_id) <= MAX_ID_CHARS:
            raise InputError("The result's reference must be a catalog product's id.")
        if writer not in WRITERS:
            raise InputError(f"The result's writer must be one of: {', '.join(WRITERS)}.")
        final = final.strip() if isinstance(final, str) else ""
        if not final:
            raise InputError("There is no text to approve: pick a draft or write the description first.")
        if len(final) > MAX_FINAL_CHARS:
            raise InputError(f"The description is {len(final):,} characters; approvals are limited to {MAX_FINAL_CHARS:,}.")
        chosen = chosen if isinstance(chosen, str) and chosen in drafts else ""
        keywords = parse_keywords(", ".join(keywords))
        fields = approvable_listing(listing, final, keywords, drafts) if listing else None
        return cls(keywords, ref_id, drafts, chosen, final, writer, add_to_catalog, fields)


def approvable_listing(fields: object, final: str, keywords: list[str], drafts: list[str]) -> Listing:
    """The listing sent with a text (`listing_from_fields`), refused while it breaks a blocking rule of its channel:
    the channel would refuse it on import, so the editor fixes it first."""
    listing = listing_from_fields(fields, final, keywords, drafts)
    if broken := listing.blocking():
        raise InputError(f"The listing breaks {channel(listing.channel).label}'s rules: {' '.join(broken)} Fix it before approving.")
    return listing
