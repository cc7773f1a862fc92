"""photo + keywords -> encoders -> catalog reference -> ModICT (or prompt) -> sampled drafts -> review.

Loaded once per process. The one draft path, which the app, API, CLI, bulk, evaluate and benches all take: `retrieve`
(encode the photo once, search the catalog, choose the reference), `draft` (the writer's input, then the sampler) and
`suggest_stream` (both, streamed, then the review). Approvals join the working catalog: later products retrieve them."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from functools import wraps
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .approvals import Approval, ApprovalStore
from .catalog import Catalog, open_catalog
from .checker import DraftChecker
from .config import (shipped_adapter, writer_lm, DEFAULT_ADAPTER, DEFAULT_IMAGE_ENCODER, DEFAULT_IMAGE_WEIGHT, DEFAULT_LM, DEMO_CATALOG_DB, MIN_REFERENCE_SCORE,
                     WRITERS, SamplingConfig)
from .encoders import TextEncoder, VisualFeatures, create_image_encoder
from .errors import InputError
from .images import load_image
from .keywords import parse_keywords
from .lm import load_lm
from .lora import weights_of as lora_weights_of
from .metrics import load_scorers
from .model import ModICT
from .prompt import Example, icl_prompt
from .ranking import best_drafts
from .request import ApprovalRequest, DraftInput, Progress, Retrieval, Suggestion
from .review import drop_near_duplicates, review_draft
from .scheduler import Scheduler
from .sampler import DraftStreamer, modict_drafts, prompt_drafts, stop_ids
from .spelling import word_starts
from .search import Hit
from .text import first_sentences

log = logging.getLogger(__name__)
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
    min_reference_score: float = MIN_REFERENCE_SCORE  # a best match under this fused score is no reference (0 = always one)
    quantize: bool = True  # int8 dynamic quantisation of the LM for inference
    threads: int = field(default_factory=lambda: os.cpu_count() or 2)
    follow_catalog: bool = False  # another process (the app, for a Ray replica) writes the catalog: see its commits
    batch_rows: int = 0  # drafts of concurrent requests decoded in one batch (`scheduler.py`); 0: one request at a time

    @classmethod
    def of_writer(cls, lm: str | None = None, **kwargs) -> "PipelineConfig":
        """The writer of `lm` (default: ECOMCOPY_LM's): its shipped adapter, else the plain prompt (benches measure it)."""
        lm = lm or writer_lm()
        return cls(adapter=shipped_adapter(lm), lm=lm, **kwargs)


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
        self._requests = ThreadPoolExecutor(max_workers=64, thread_name_prefix="ecomcopy-request")  # they wait here
        self.on_model_thread(self._load, cfg)
        # the review's metrics import nltk (~2 s of Python): after the models (not competing with their load for
        # the GIL), before the first request needs them
        threading.Thread(target=load_scorers, name="ecomcopy-scorers", daemon=True).start()

    def _load(self, cfg: PipelineConfig) -> None:
        torch.set_num_threads(cfg.threads)
        t0 = time.time()
        self.catalog = open_catalog(cfg.catalog, cfg.seed)
        self.catalog.index.following = cfg.follow_catalog
        self.image_encoder = create_image_encoder(cfg.image_encoder)
        self.text_encoder = TextEncoder()
        self.catalog.check_encoders(self.image_encoder.fingerprint, self.text_encoder.fingerprint)
        self.modict: ModICT | None = None
        adapter = Path(cfg.adapter) if cfg.adapter else None
        if adapter is not None and adapter.with_suffix(".json").is_file():
            self.lm = load_lm(ModICT.config_of(adapter).lm, quantize=cfg.quantize, lora=lora_weights_of(adapter))
            self.modict = ModICT.load(adapter, self.lm, self.image_encoder.fingerprint)
        else:
            self.lm = load_lm(cfg.lm, quantize=cfg.quantize)
        stop_ids(self.lm.tokenizer)  # its vocabulary scan happens now, not in the first request
        self.scheduler = Scheduler(self.lm.model, self._model_thread, self._model_thread_id, cfg.batch_rows)
        self.approvals = ApprovalStore(self.catalog, cfg.photos) if cfg.photos is not None else None
        self.checker = DraftChecker.from_products(self.catalog.products())  # the catalog's words are words
        word_starts(self.checker.vocabulary)  # the spelling guard's table (about 1 s) is built now, not in a request
        self._ref_tokens: dict[str, torch.Tensor] = {}  # visual tokens of catalog products used as references
        log.info("pipeline ready in %.1f s (%d catalog products, LM %s)", time.time() - t0, len(self.catalog), self.lm.name)

    def on_model_thread(self, fn, *args, **kwargs):
        """Run a torch call on the pipeline's model thread (where every model call runs); inline when already there."""
        if threading.get_ident() == self._model_thread_id:
            return fn(*args, **kwargs)
        return self._model_thread.submit(fn, *args, **kwargs).result()

    def writer_for(self, writer: str) -> str:
        """The writer that will write: "modict" when asked for and an adapter is loaded, else "prompt"."""
        if writer not in WRITERS:
            raise InputError(f"Unknown writer {writer!r}; choose one of: {', '.join(WRITERS)}.")
        if writer == "prompt" and self.lm.lora:
            raise InputError("The plain prompt needs the untrained LM, and this writer's LM carries its LoRA: start the app "
                             "with ECOMCOPY_LM=qwen2.5-0.5b (whose LM stays frozen), or the CLI with --adapter none, "
                             "to write with the plain prompt.")
        return "modict" if writer == "modict" and self.modict is not None else "prompt"

    @_torch_method
    def retrieve(self, image: Image.Image | None, keywords: list[str], k: int = 3, exclude_group: str | None = None,
                 reference_id: str | None = None, overlay: Catalog | None = None) -> Retrieval:
        """Encode the photo once, find the top-k similar catalog products, and choose the reference: the best
        match, or `reference_id` (one of them). When the best match scores under `cfg.min_reference_score`
        (nothing alike: a laptop battery against a fashion catalog) and no reference was asked for, the drafts
        are written without one: an unrelated reference lends them its details (a belt's buckle)."""
        features = self.image_encoder.encode([image]) if image is not None else None
        hits = self.references(image, keywords, k=k, exclude_group=exclude_group, features=features, overlay=overlay)
        chosen = 0
        if reference_id:
            ids = [h.product.id for h in hits]
            if reference_id not in ids:
                raise InputError(f"{reference_id!r} is not among this product's similar catalog products; regenerate first.")
            chosen = ids.index(reference_id)
        alike = bool(reference_id) or hits[0].score >= self.cfg.min_reference_score
        return Retrieval(keywords, features, hits, chosen, use_reference=alike)

    @_torch_method
    def references(self, image: Image.Image | None, keywords: list[str], k: int = 3, exclude_group: str | None = None,
                   features: VisualFeatures | None = None, overlay: Catalog | None = None) -> list[Hit]:
        """Top-k catalog products (and of `overlay`, a demo visitor's own approved products); one with the very same
        photo is skipped: a reference that is the product itself teaches nothing but copying. `features`: the
        photo's already-computed encoding, so a request encodes its photo once."""
        if image is not None and features is None:
            features = self.image_encoder.encode([image])
        ivec = features.pooled[0].numpy() if features is not None else None
        tvec = self.text_encoder.encode([", ".join(keywords)])[0] if keywords else None
        hits = self.catalog.search(ivec, tvec, k=k + 3, image_weight=self.cfg.image_weight, exclude_group=exclude_group)
        if overlay is not None and len(overlay):
            more = overlay.search(ivec, tvec, k=k + 3, image_weight=self.cfg.image_weight, exclude_group=exclude_group)
            hits = sorted(hits + more, key=lambda h: -h.score)
        return [h for h in hits if h.image_score is None or h.image_score < SAME_PHOTO][:k]

    @_torch_method
    def visual_tokens(self, image: Image.Image) -> torch.Tensor:  # (N, D)
        return self.image_encoder.encode([image]).tokens[0]

    @_torch_method
    def reference_tokens(self, product) -> torch.Tensor | None:
        """Visual tokens of a catalog product, encoded once per process."""
        key = str(product.image_path)  # by photo: a demo session's product ids are its own
        if key not in self._ref_tokens:
            try:
                self._ref_tokens[key] = self.visual_tokens(load_image(product.image_path))
            except InputError:
                return None  # its photo went missing: the reference still helps through its text
            if len(self._ref_tokens) > 4096:
                self._ref_tokens.pop(next(iter(self._ref_tokens)))
        return self._ref_tokens[key]

    def draft(self, inp: DraftInput, cfg: SamplingConfig, writer: str = "modict", greedy: bool = False,
              streamer: DraftStreamer | None = None) -> list[str]:
        """Drafts for one product by `writer` ("modict" or "prompt"): the best n of n x `cfg.candidates` sampled
        (`ranking.best_drafts`), each cut to `cfg.max_words`, or 1 greedy (whole); the decoding joins the scheduler's batch."""
        ref = inp.reference
        guarded = ref.description if ref is not None and inp.guard_reference else None
        rows = 1 if greedy else cfg.n * cfg.candidates
        if self.writer_for(writer) == "prompt":
            prompt = icl_prompt(ref.keywords if ref else None, ref.description if ref else None, inp.keywords)
            drafts = prompt_drafts(self.lm, prompt, cfg, greedy, streamer, inp.keywords, guarded, rows, self.checker, self.scheduler.decode)
        else:
            ref_visual = self.reference_tokens(ref) if ref is not None and inp.reference_visual else None
            example = Example(inp.keywords, inp.visual, ref.keywords if ref else None, ref.description if ref else None, ref_visual)
            drafts = modict_drafts(self.modict, example, cfg, inp.guard_reference, greedy, streamer, rows, self.checker, self.scheduler.decode)
        if greedy:  # what evaluate scores with ROUGE-L: the LM's own draft, whole
            return [d.text for d in drafts]
        if cfg.candidates == 1:
            return [first_sentences(d.text, cfg.max_words) for d in drafts]
        return best_drafts(drafts, cfg.n, inp.keywords, self.checker, cfg.max_words, cfg.ranking)

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
        overlay: Catalog | None = None,
    ):
        """Yields Progress (references, then growing drafts) and finally the Suggestion. writer: "modict" (the
        trained adapter, when loaded) or "prompt" (plain in-context prompt). reference_id: condition on this catalog
        product (one of the alternatives) instead of the best match. overlay: a demo visitor's own approved products."""
        t0 = time.time()
        writer = self.writer_for(writer)
        sampling = (sampling or SamplingConfig()).validate()
        kw = parse_keywords(keywords) if isinstance(keywords, (str, type(None))) else parse_keywords(", ".join(keywords))
        img = load_image(image) if image is not None else None
        if img is None and not kw:
            raise InputError("Upload a product photo or type a few keywords (or both).")
        found = self.retrieve(img, kw, k=k, exclude_group=exclude_group, reference_id=reference_id, overlay=overlay)
        yield Progress(found.references, found.chosen, [], found.use_reference)
        drafts, rounds, first_at = yield from self._rounds(found, sampling, writer)
        ref = found.reference.product
        reviews = [review_draft(d, kw, ref.description if found.use_reference else "", self.checker) for d in drafts]
        yield Suggestion(kw, found.references, drafts, time.time() - t0, writer, reviews, found.chosen, rounds, found.use_reference,
                         first_at - t0 if first_at is not None else None)

    def _rounds(self, found: Retrieval, sampling: SamplingConfig, writer: str):
        """Sample on the model thread while streaming Progress; near-duplicate drafts are dropped and re-sampled
        (two more rounds at most, none when seeded). Returns (drafts, rounds, time of the first words)."""
        drafts: list[str] = []
        first_at = None
        for rounds in range(1, 4):
            cfg = replace(sampling, n=sampling.n - len(drafts))
            streamer = DraftStreamer(self.lm.tokenizer, shown=cfg.n)
            job = self._requests.submit(self.draft, found.draft_input(), cfg, writer, False, streamer)
            job.add_done_callback(lambda _: streamer.end())
            try:
                while not streamer.finished.wait(0.2):
                    yield Progress(found.references, found.chosen, drafts + [t for t in streamer.texts() if t], found.use_reference,
                                   streamer.place)
                new = job.result()
            finally:
                streamer.cancel()  # if the consumer went away: stop at the next token,
                wait([job])  # and free the model only once the worker is done
            drafts = drop_near_duplicates(drafts + new)[: sampling.n]
            first_at = first_at or streamer.first_at
            if len(drafts) >= sampling.n or sampling.seed is not None:
                break
        return drafts, rounds, first_at

    @_torch_method
    def vectors(self, img: Image.Image, kw: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """A product's search vectors (its photo's and its keywords'), as the catalog stores them."""
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
        listing: dict | None = None,
        user: str | None = None,  # who approves: recorded in the audit trail with the approval
        store: ApprovalStore | None = None,  # a demo visitor's own (`workspace.py`); default: the working catalog's
        submit: bool = False,  # a writer's text: it waits for an editor (`review_queue.py`), in no catalog yet
    ) -> Approval:
        """Store the approved text with all that led to it; it joins the store's catalog by default. `suggestion`: what
        the UI and the API hold (`Suggestion.to_dict()`), checked field by field; the reference comes from the catalogs."""
        store = self.approvals if store is None else store  # (an empty store is falsy)
        if store is None:
            raise InputError("Approvals are off for this catalog (it was opened read-only).")
        req = ApprovalRequest.from_result(suggestion, final, chosen, add_to_catalog, listing)
        has = "SELECT 1 FROM products WHERE id = ?"
        ref = next((c.get(req.reference_id) for c in (self.catalog, store.catalog) if c.query(has, (req.reference_id,))), None)
        if ref is None:
            raise InputError("The reference of these drafts is no longer in the catalog; write the drafts again.")
        img = load_image(photo) if photo is not None else None
        vectors = self.vectors(img, req.keywords) if req.add_to_catalog and img is not None and not submit else None
        return store.add(req.keywords, {"id": ref.id, "name": ref.name, "keywords": ref.keywords, "description": ref.description},
                         req.drafts, req.chosen, req.final, req.writer, img, vectors, asdict(req.listing) if req.listing else None, user,
                         status="submitted" if submit else "approved", to_catalog=req.add_to_catalog)
