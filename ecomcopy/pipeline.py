"""photo + keywords -> encoders -> catalog reference -> prompt -> sampled drafts. Loaded once per process."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .catalog import DEFAULT_IMAGE_WEIGHT, Catalog, Hit
from .encoders import DEFAULT_IMAGE_ENCODER, TextEncoder, VisualFeatures, create_image_encoder
from .errors import InputError
from .generate import SamplingConfig, modict_drafts, sample_drafts
from .images import load_image
from .keywords import parse_keywords
from .lm import DEFAULT_LM, load_lm
from .model import Example, ModICT
from .paths import DEFAULT_ADAPTER, DEMO_CATALOG_DB
from .prompt import icl_prompt

log = logging.getLogger(__name__)
WRITERS = ("modict", "prompt")
SAME_PHOTO = 0.999  # image cosine above which two photos are the same picture


@dataclass
class PipelineConfig:
    catalog: Path = DEMO_CATALOG_DB
    adapter: Path | None = DEFAULT_ADAPTER  # a trained ModICT adapter; None = the plain in-context prompt
    lm: str = DEFAULT_LM  # used when there is no adapter (an adapter names its own LM)
    image_encoder: str = DEFAULT_IMAGE_ENCODER
    image_weight: float = DEFAULT_IMAGE_WEIGHT
    quantize: bool = True  # int8 dynamic quantisation of the LM for inference
    threads: int = field(default_factory=lambda: os.cpu_count() or 2)


@dataclass
class Suggestion:
    keywords: list[str]
    references: list[Hit]  # top-k similar catalog products; references[0] conditioned the drafts
    drafts: list[str]
    seconds: float
    writer: str = "prompt"  # what wrote the drafts: "modict" or "prompt"

    @property
    def reference(self) -> Hit:
        return self.references[0]

    def to_dict(self) -> dict:
        def hit(h: Hit) -> dict:
            p = h.product
            return {
                "id": p.id, "name": p.name, "keywords": p.keywords, "description": p.description,
                "score": round(h.score, 4), "image_score": h.image_score, "text_score": h.text_score,
                "image": str(p.image_path), "source": p.source,
            }

        return {
            "keywords": self.keywords,
            "reference": hit(self.reference),
            "alternatives": [hit(h) for h in self.references[1:]],
            "drafts": self.drafts,
            "writer": self.writer,
            "seconds": round(self.seconds, 3),
        }


class Pipeline:
    def __init__(self, cfg: PipelineConfig | None = None) -> None:
        self.cfg = cfg = cfg or PipelineConfig()
        torch.set_num_threads(cfg.threads)
        t0 = time.time()
        self.catalog = Catalog(cfg.catalog)
        self.image_encoder = create_image_encoder(cfg.image_encoder)
        self.text_encoder = TextEncoder()
        self.catalog.check_encoders(self.image_encoder.fingerprint, self.text_encoder.fingerprint)
        self.modict: ModICT | None = None
        adapter = Path(cfg.adapter) if cfg.adapter else None
        if adapter is not None and adapter.with_suffix(".json").is_file():
            self.lm = load_lm(ModICT.config_of(adapter).lm, quantize=cfg.quantize)
            self.modict = ModICT.load(adapter, self.lm, self.image_encoder.fingerprint)
        else:
            self.lm = load_lm(cfg.lm, quantize=cfg.quantize)
        self._ref_tokens: dict[str, torch.Tensor] = {}  # visual tokens of catalog products used as references
        self._model_lock = threading.Lock()  # torch uses all cores per call; one request at a time is fastest
        log.info("pipeline ready in %.1f s (%d catalog products, LM %s)", time.time() - t0, len(self.catalog), self.lm.name)

    def references(self, image: Image.Image | None, keywords: list[str], k: int = 3, exclude_group: str | None = None,
                   features: VisualFeatures | None = None) -> list[Hit]:
        """Top-k catalog products; a product with the very same photo is skipped, since a reference that is
        the product itself teaches the model nothing but copying (and examples come from the catalog).
        `features`: the photo's already-computed encoding, so a request encodes its photo once."""
        if image is not None and features is None:
            features = self.image_encoder.encode([image])
        ivec = features.pooled[0].numpy() if features is not None else None
        tvec = self.text_encoder.encode([", ".join(keywords)])[0] if keywords else None
        hits = self.catalog.search(ivec, tvec, k=k + 3, image_weight=self.cfg.image_weight, exclude_group=exclude_group)
        return [h for h in hits if h.image_score is None or h.image_score < SAME_PHOTO][:k]

    def visual_tokens(self, image: Image.Image) -> torch.Tensor:  # (N, D)
        return self.image_encoder.encode([image]).tokens[0]

    def reference_tokens(self, product) -> torch.Tensor | None:
        """Visual tokens of a catalog product, encoded once per process."""
        if product.id not in self._ref_tokens:
            try:
                self._ref_tokens[product.id] = self.visual_tokens(load_image(product.image_path))
            except InputError:
                return None  # its photo went missing: the reference still helps through its text
            if len(self._ref_tokens) > 4096:
                self._ref_tokens.pop(next(iter(self._ref_tokens)))
        return self._ref_tokens[product.id]

    def suggest(
        self,
        image: str | Path | bytes | Image.Image | None,
        keywords: str | list[str] | None,
        sampling: SamplingConfig | None = None,
        k: int = 3,
        exclude_group: str | None = None,
        writer: str = "modict",
    ) -> Suggestion:
        """Validate inputs, retrieve the reference, and sample drafts conditioned on it.

        writer: "modict" (the trained adapter, when one is loaded) or "prompt" (plain in-context prompt).
        """
        if writer not in WRITERS:
            raise InputError(f"Unknown writer {writer!r}; choose one of: {', '.join(WRITERS)}.")
        t0 = time.time()
        sampling = (sampling or SamplingConfig()).validate()
        kw = parse_keywords(keywords) if isinstance(keywords, (str, type(None))) else parse_keywords(", ".join(keywords))
        img = load_image(image) if image is not None else None
        if img is None and not kw:
            raise InputError("Upload a product photo or type a few keywords (or both).")
        with self._model_lock:
            feats = self.image_encoder.encode([img]) if img is not None else None
            hits = self.references(img, kw, k=k, exclude_group=exclude_group, features=feats)
            ref = hits[0].product
            if self.modict is None or writer == "prompt":
                writer = "prompt"
                drafts = sample_drafts(self.lm, icl_prompt(ref.keywords, ref.description, kw), sampling)
            else:
                example = Example(kw, feats.tokens[0] if feats is not None else None, ref.keywords, ref.description, self.reference_tokens(ref))
                drafts = modict_drafts(self.modict, example, sampling)
        return Suggestion(kw, hits, drafts, time.time() - t0, writer)
