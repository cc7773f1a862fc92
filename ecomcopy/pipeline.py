"""photo + keywords -> encoders -> catalog reference -> ModICT (or prompt) -> sampled drafts -> review.

Loaded once per process. The catalog it searches is a working copy (seeded from the shipped one) that
approvals write into, so approved products become references for later ones.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import wraps
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .approvals import Approval, ApprovalStore
from .catalog import DEFAULT_IMAGE_WEIGHT, Catalog, Hit
from .encoders import DEFAULT_IMAGE_ENCODER, TextEncoder, VisualFeatures, create_image_encoder
from .errors import InputError
from .generate import DraftStreamer, SamplingConfig, modict_drafts, sample_drafts, stop_ids
from .images import load_image
from .keywords import parse_keywords
from .lm import DEFAULT_LM, load_lm
from .metrics import load_scorers
from .model import Example, ModICT
from .paths import DEFAULT_ADAPTER, DEMO_CATALOG_DB
from .prompt import icl_prompt
from .review import DraftReview, drop_near_duplicates, mean_overlap, review_draft

log = logging.getLogger(__name__)
WRITERS = ("modict", "prompt")
SAME_PHOTO = 0.999  # image cosine above which two photos are the same picture


@dataclass
class PipelineConfig:
    catalog: Path = DEMO_CATALOG_DB  # the catalog searched (and written by approvals, when `photos` is set)
    seed: Path | None = None  # a catalog copied into `catalog` when it is new or this one changed (the shipped one)
    photos: Path | None = None  # where approved photos are kept; None = approvals off (read-only use, e.g. the CLI)
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
    reviews: list[DraftReview] = field(default_factory=list)  # one per draft
    chosen_reference: int = 0  # index in `references` of the one the drafts were conditioned on
    rounds: int = 1  # sampling rounds: more than 1 when near-duplicate drafts were dropped and re-sampled

    @property
    def reference(self) -> Hit:
        return self.references[self.chosen_reference]

    def to_dict(self) -> dict:
        def hit(h: Hit) -> dict:
            p = h.product
            return {
                "id": p.id, "name": p.name, "keywords": p.keywords, "description": p.description,
                "score": round(h.score, 4), "image_score": h.image_score, "text_score": h.text_score,
                "image": str(p.image_path), "source": p.source,
            }

        overlap = mean_overlap(self.drafts)
        return {
            "keywords": self.keywords,
            "reference": hit(self.reference),
            "alternatives": [hit(h) for i, h in enumerate(self.references) if i != self.chosen_reference],
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


def _torch_method(method):
    """Pipeline methods that run torch code: called from any thread, they run on the model thread."""

    @wraps(method)
    def run(self: "Pipeline", *args, **kwargs):
        return self.on_model_thread(method, self, *args, **kwargs)

    return run


class Pipeline:
    def __init__(self, cfg: PipelineConfig | None = None) -> None:
        self.cfg = cfg = cfg or PipelineConfig()
        torch.set_num_threads(cfg.threads)
        # Every torch call of the pipeline, loading included, runs on this one thread. Each OS thread that runs
        # a parallel op gets its own OpenMP team; with two teams (4 threads on 2 cores) libgomp stops letting
        # idle workers spin, and every op of both pays for waking them: a decode step of 4 drafts took 76 ms on
        # a model thread after loading on the main thread, 33 ms with everything on one thread.
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomcopy-model")
        self._model_thread_id = self._model_thread.submit(threading.get_ident).result()
        self._model_lock = threading.Lock()  # torch uses all cores per call; one request at a time is fastest
        self.on_model_thread(self._load, cfg)
        # the review's metrics import nltk (~2 s of Python): after the models (not competing with their load for
        # the GIL), before the first request needs them
        threading.Thread(target=load_scorers, name="ecomcopy-scorers", daemon=True).start()

    def _load(self, cfg: PipelineConfig) -> None:
        torch.set_num_threads(cfg.threads)
        t0 = time.time()
        self.catalog = open_catalog(cfg.catalog, cfg.seed)
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
        stop_ids(self.lm.tokenizer)  # its vocabulary scan happens now, not in the first request
        self.approvals = ApprovalStore(self.catalog, cfg.photos) if cfg.photos is not None else None
        self._ref_tokens: dict[str, torch.Tensor] = {}  # visual tokens of catalog products used as references
        log.info("pipeline ready in %.1f s (%d catalog products, LM %s)", time.time() - t0, len(self.catalog), self.lm.name)

    def on_model_thread(self, fn, *args, **kwargs):
        """Run a torch call on the pipeline's model thread (where every model call runs); inline when already there."""
        if threading.get_ident() == self._model_thread_id:
            return fn(*args, **kwargs)
        return self._model_thread.submit(fn, *args, **kwargs).result()

    @_torch_method
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

    @_torch_method
    def visual_tokens(self, image: Image.Image) -> torch.Tensor:  # (N, D)
        return self.image_encoder.encode([image]).tokens[0]

    @_torch_method
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

    def suggest(self, *args, **kwargs) -> Suggestion:
        """Validate inputs, retrieve the reference, and sample drafts conditioned on it (see `suggest_stream`)."""
        for step in self.suggest_stream(*args, **kwargs):
            pass
        return step

    def suggest_stream(
        self,
        image: str | Path | bytes | Image.Image | None,
        keywords: str | list[str] | None,
        sampling: SamplingConfig | None = None,
        k: int = 3,
        exclude_group: str | None = None,
        writer: str = "modict",
        reference_id: str | None = None,
    ):
        """Yields Progress (references, then growing drafts) and finally the Suggestion.

        writer: "modict" (the trained adapter, when one is loaded) or "prompt" (plain in-context prompt).
        reference_id: condition on this catalog product (e.g. one of the alternatives) instead of the best match.
        Near-duplicate drafts are dropped and re-sampled (two more rounds at most).
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
            feats = self.on_model_thread(self.image_encoder.encode, [img]) if img is not None else None
            hits = self.references(img, kw, k=k, exclude_group=exclude_group, features=feats)
            chosen = 0
            if reference_id:
                ids = [h.product.id for h in hits]
                if reference_id not in ids:
                    raise InputError(f"{reference_id!r} is not among this product's similar catalog products; regenerate first.")
                chosen = ids.index(reference_id)
            ref = hits[chosen].product
            yield Progress(hits, chosen, [])
            if self.modict is None or writer == "prompt":
                writer = "prompt"
                example = icl_prompt(ref.keywords, ref.description, kw)
            else:
                ref_tokens = self.reference_tokens(ref)
                example = Example(kw, feats.tokens[0] if feats is not None else None, ref.keywords, ref.description, ref_tokens)
            drafts: list[str] = []
            for rounds in range(1, 4):
                want = sampling.n - len(drafts)
                round_cfg = replace(sampling, n=want)
                streamer = DraftStreamer(self.lm.tokenizer)
                job = self._model_thread.submit(self._draft, writer, example, round_cfg, streamer, kw, ref.description)
                job.add_done_callback(lambda _: streamer.end())
                try:
                    while not streamer.finished.wait(0.2):
                        yield Progress(hits, chosen, drafts + [t for t in streamer.texts() if t])
                    new = job.result()
                finally:
                    streamer.cancel()  # if the consumer went away: stop at the next token,
                    wait([job])  # and free the model only once the worker is done
                drafts = drop_near_duplicates(drafts + new)[: sampling.n]
                if len(drafts) >= sampling.n or sampling.seed is not None:
                    break
        reviews = [review_draft(d, kw, ref.description) for d in drafts]
        yield Suggestion(kw, hits, drafts, time.time() - t0, writer, reviews, chosen, rounds)

    def _draft(self, writer: str, example, cfg: SamplingConfig, streamer: DraftStreamer, keywords: list[str],
               reference: str) -> list[str]:
        if writer == "prompt":
            return sample_drafts(self.lm, example, cfg, streamer=streamer, keywords=keywords, reference=reference)
        return modict_drafts(self.modict, example, cfg, streamer=streamer)

    @_torch_method
    def _vectors(self, img: Image.Image, kw: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ivec = self.image_encoder.encode([img]).pooled[0].numpy()
        tvec = self.text_encoder.encode([", ".join(kw)])[0] if kw else np.zeros(self.text_encoder.dim, np.float32)
        return ivec, tvec

    # -- approvals ----------------------------------------------------------------------------
    def approve(
        self,
        suggestion: dict,
        final: str,
        chosen: str = "",
        photo: str | Path | bytes | Image.Image | None = None,
        add_to_catalog: bool = True,
    ) -> Approval:
        """Store the approved text with everything that led to it; by default it also joins the catalog.

        `suggestion`: the dict of `Suggestion.to_dict()` (what the UI and the API hold).
        """
        if self.approvals is None:
            raise InputError("Approvals are off for this catalog (it was opened read-only).")
        if not isinstance(suggestion, dict) or "keywords" not in suggestion or "reference" not in suggestion:
            raise InputError("Write drafts first: an approval records the keywords, reference and drafts they came from.")
        kw = parse_keywords(", ".join(map(str, suggestion.get("keywords") or [])))
        ref = suggestion.get("reference") or {}
        reference = {k: ref.get(k) for k in ("id", "name", "keywords", "description")}
        drafts = [str(d) for d in (suggestion.get("drafts") or [])]
        img = load_image(photo) if photo is not None else None
        with self._model_lock:
            stored = self.approvals.store_photo(img) if img is not None else None
            vectors = None
            if add_to_catalog and img is not None:
                vectors = self._vectors(img, kw)
            return self.approvals.add(kw, reference, drafts, chosen, final, str(suggestion.get("writer", "")), stored, vectors)


def open_catalog(path: Path, seed: Path | None) -> Catalog:
    """Open the working catalog, (re)seeding it from `seed` when it is new or the seed file changed."""
    if seed is None:
        return Catalog(path)
    seed = Path(seed).resolve()
    st = seed.stat()
    key = f"{seed}|{st.st_size}|{st.st_mtime_ns}"
    catalog = Catalog(path, create=True)
    if catalog.get_meta("seeded_from") != key:
        n = catalog.seed_from(seed)
        catalog.set_meta("seeded_from", key)
        log.info("working catalog %s seeded with %d products from %s", path, n, seed)
    return catalog
