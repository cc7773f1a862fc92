"""What one request is and what it returns: the writer's input, the retrieval, the streamed progress and the
final suggestion (with the JSON the API and `generate --json` return)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

    @property
    def reference(self) -> Hit:
        return self.references[self.chosen]

    def draft_input(self) -> DraftInput:
        visual = self.features.tokens[0] if self.features is not None else None
        return DraftInput(self.keywords, visual, self.reference.product)


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
            "drafts": self.drafts,
            "reviews": [r.to_dict() for r in self.reviews],
            "mean_overlap": round(overlap, 3) if overlap is not None else None,
            "writer": self.writer,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Progress:
    """A step of a streamed suggestion: the references first, then the drafts as they grow."""

    references: list[Hit]
    chosen_reference: int
    partial: list[str]  # drafts so far (empty until the first token)
