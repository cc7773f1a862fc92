"""The app's request handlers: page inputs -> the pipeline -> page updates, and package errors -> plain messages.

`app.py` lays the page out and wires these to its components; everything a handler decides lives in the
package. The pipeline loads once per process, on its own thread, while the page is built and served.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr

from .bulk import PhotoArchive, read_rows, run_bulk, write_results
from .config import DEMO_CATALOG_DB, OUTPUTS_MAX_AGE_S, SAMPLING, AppConfig, SamplingConfig
from .errors import EcomcopyError
from .pipeline import Pipeline, PipelineConfig
from .products import read_products
from .request import Progress, Suggestion
from .search import Hit
from .server_log import log_failure

log = logging.getLogger("ecomcopy.app")


@lru_cache(maxsize=1)
def pipeline_loading() -> Future:
    """Models load once per process, on their own thread, and are shared by every request; a request sent before
    they are ready waits for them. The catalog searched is a working copy in the data folder, seeded from the
    shipped one, so approvals (which join it) never touch the repo."""
    app = AppConfig.from_env()
    cfg = PipelineConfig(catalog=app.catalog, seed=app.seed, photos=app.photos, lm=app.lm, image_weight=app.image_weight)
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecomcopy-load").submit(Pipeline, cfg)


def get_pipeline() -> Pipeline:
    return pipeline_loading().result()


@contextmanager
def user_errors(what: str):
    """Package errors become their own message; anything else a plain sentence (the details go to the log)."""
    try:
        yield
    except (gr.Error, GeneratorExit):
        raise
    except EcomcopyError as e:
        raise gr.Error(str(e), print_exception=False) from None
    except Exception as e:  # noqa: BLE001 - log for us, a plain sentence for the user
        log_failure(what, e)
        raise gr.Error(f"Something went wrong while {what}; please try again. The details are in the server log.",
                       print_exception=False) from None


def sampling(n, temperature, top_p, max_tokens, keyword_boost=SAMPLING.keyword_boost) -> SamplingConfig:
    try:
        return SamplingConfig(int(n), float(temperature), float(top_p), int(max_tokens), keyword_boost=float(keyword_boost))
    except (TypeError, ValueError):
        raise EcomcopyError("Number of drafts, creativity, top-p, length and keyword emphasis must be numbers.") from None


# -- API endpoints (stable signatures, JSON out) -----------------------------------------------------
def api_generate(image_path, keywords, n=SAMPLING.n, temperature=SAMPLING.temperature, top_p=SAMPLING.top_p,
                 max_tokens=SAMPLING.max_new_tokens, writer="modict", reference_id="", exclude_group="",
                 keyword_boost=SAMPLING.keyword_boost):
    """Reference + drafts for a photo and keywords; the result as JSON (see the README). A generator that shows
    nothing until the end: between its steps Gradio notices a client that has gone and closes it, which stops
    the decoding at the next token instead of keeping the model busy for nobody."""
    with user_errors("writing drafts"):
        stream = get_pipeline().suggest_stream(image_path, keywords, sampling(n, temperature, top_p, max_tokens, keyword_boost),
                                               exclude_group=exclude_group or None, writer=writer or "modict",
                                               reference_id=reference_id or None)
        for step in stream:
            yield step.to_dict() if isinstance(step, Suggestion) else gr.skip()


def api_approve(result, final, chosen="", image_path=None, add_to_catalog=True):
    """Approve a final text for a result of `generate`; returns the stored approval as JSON."""
    with user_errors("saving the approval"):
        return get_pipeline().approve(result, final, chosen or "", image_path, add_to_catalog).to_dict()


# -- Write tab -----------------------------------------------------------------------------------------
KEEP = object()  # a WriteView field left as it is on the page (gr.skip())
REVIEW_HEADERS = ["#", "keywords covered", "missing keywords", "words", "copies the reference?", "to check before publishing"]


@dataclass
class WriteView:
    """What one step of writing shows, field by field in the order of `app.py`'s write outputs."""

    status: str
    ref_choice: Any = KEEP
    ref_photo: Any = KEEP
    ref_title: Any = KEEP
    ref_keywords: Any = KEEP
    ref_description: Any = KEEP
    drafts: Any = KEEP
    review: Any = KEEP
    chosen: Any = KEEP
    result: Any = KEEP
    state: Any = KEEP
    approve_status: Any = KEEP

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updates(self) -> tuple:
        return tuple(gr.skip() if (v := getattr(self, name)) is KEEP else v for name in self.names())

    @staticmethod
    def reference_panel(refs: list[Hit], chosen: int) -> dict:
        p, score = refs[chosen].product, refs[chosen].score
        return {
            "ref_choice": gr.update(choices=[(f"{h.product.name} ({h.product.id}) · similarity {h.score:.2f}", h.product.id) for h in refs], value=p.id),
            "ref_photo": str(p.image_path) if p.image_path and Path(p.image_path).is_file() else None,
            "ref_title": f"{p.name} ({p.id}): similarity {score:.2f}",
            "ref_keywords": ", ".join(p.keywords),
            "ref_description": p.description,
        }


def _finished(step: Suggestion, image_path) -> WriteView:
    result = step.to_dict()
    rows = [[i + 1, f"{len(r.covered)}/{len(r.covered) + len(r.missing)}", ", ".join(r.missing), r.words,
             f"yes: “{r.copied}”" if r.copied else "no", "; ".join(r.check.flags()) or "nothing found"]
            for i, r in enumerate(step.reviews)]
    overlap = result["mean_overlap"]
    status = (f"{len(step.drafts)} draft(s) in {step.seconds:.1f} s, written by "
              f"{'ModICT' if step.writer == 'modict' else 'the plain prompt'} with the reference above. "
              + (f"How alike they are (mean pairwise ROUGE-L, lower = more varied): {overlap:.2f}." if overlap is not None else ""))
    first = step.drafts[0] if step.drafts else ""
    return WriteView(status, **WriteView.reference_panel(step.references, step.chosen_reference),
                     drafts=gr.update(choices=step.drafts, value=first or None), review=rows, chosen=first, result=result,
                     state={"result": result, "photo": image_path}, approve_status="")


def write(image_path, keywords, n, temperature, top_p, max_tokens, writer="modict", keyword_boost=SAMPLING.keyword_boost,
          reference_id="", exclude_group=""):
    """Streams: the reference panel first, then the drafts as they are written, then their review."""
    t0 = time.time()
    loading = not pipeline_loading().done()
    yield WriteView("The models are still loading (a few seconds after a start); your drafts follow…" if loading
                    else "Finding the most similar catalog products…").updates()
    with user_errors("writing drafts"):
        stream = get_pipeline().suggest_stream(image_path, keywords, sampling(n, temperature, top_p, max_tokens, keyword_boost),
                                               exclude_group=exclude_group or None, writer=writer or "modict",
                                               reference_id=reference_id or None)
        for step in stream:
            if isinstance(step, Progress):
                words = sum(len(d.split()) for d in step.partial)
                status = f"Writing {int(n)} draft(s)… {words} words so far ({time.time() - t0:.1f} s)"
                yield WriteView(status, **WriteView.reference_panel(step.references, step.chosen_reference),
                                drafts=gr.update(choices=[d for d in step.partial if d], value=None)).updates()
            else:
                yield _finished(step, image_path).updates()


def pick(draft: str) -> str:
    return draft or ""


def regenerate_with(reference_id, image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, exclude_group):
    yield from write(image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, reference_id, exclude_group)


def approve(state, final, keep_out, query="", picked=""):
    """Store the edited text; returns a confirmation and the refreshed history."""
    if not state or not state.get("result"):
        raise gr.Error("Write drafts first: an approval records the photo, keywords, reference and drafts.", print_exception=False)
    with user_errors("saving the approval"):
        result = state["result"]
        chosen = picked if picked in result.get("drafts", []) else ""  # the draft picked before editing
        a = get_pipeline().approve(result, final, chosen, state.get("photo"), add_to_catalog=not keep_out)
    where = f"added to the catalog as {a.product_id}" if a.product_id else "kept out of the catalog"
    gr.Info(f"Approved #{a.id}")
    return f"Approved as #{a.id} ({where}).", history_rows(query)


# -- History tab ---------------------------------------------------------------------------------------
HISTORY_HEADERS = ["#", "approved (UTC)", "keywords", "final description", "reference", "in catalog"]


def history_rows(query: str = "") -> list[list]:
    try:
        store = get_pipeline().approvals
        items = store.list(query or "") if store is not None else []
    except EcomcopyError as e:
        raise gr.Error(str(e), print_exception=False) from None
    return [[a.id, time.strftime("%Y-%m-%d %H:%M", time.gmtime(a.created_at)), ", ".join(a.keywords), a.final,
             a.reference.get("id") or "", "yes" if a.product_id else "no"] for a in items]


def _approval_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise gr.Error("Type the number (#) of an approval from the table.", print_exception=False) from None


def reopen(approval_id):
    """Back to the Write tab with the approval's photo, keywords and text."""
    with user_errors("opening the approval"):
        a = get_pipeline().approvals.get(_approval_id(approval_id))
    photo = a.photo if a.photo and Path(a.photo).is_file() else None
    return gr.Tabs(selected="write"), photo, ", ".join(a.keywords), a.final, f"Re-opened approval #{a.id}: write new drafts or edit the text."


def delete(approval_id, query=""):
    with user_errors("deleting the approval"):
        aid = _approval_id(approval_id)
        if not get_pipeline().approvals.delete(aid):
            raise gr.Error(f"There is no approval #{aid}.", print_exception=False)
    return f"Deleted approval #{aid} (and its catalog product).", history_rows(query)


def output_folder() -> Path:
    """A new folder for one export or bulk result, in a folder of ours whose entries older than a day are
    deleted each time (Gradio's clean-up only deletes the copies it served)."""
    root = Path(tempfile.gettempdir()) / "ecomcopy-outputs"
    root.mkdir(mode=0o700, exist_ok=True)
    cutoff = time.time() - OUTPUTS_MAX_AGE_S
    for old in root.iterdir():
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def export(kind: str, query: str = "") -> str:
    with user_errors("exporting"):
        folder = output_folder()
        store = get_pipeline().approvals
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if kind == "csv":
            return str(store.export_csv(folder / f"approvals-{stamp}.csv", query or ""))
        return str(store.export_json(folder / f"approvals-{stamp}.json", query or ""))


# -- Bulk tab ------------------------------------------------------------------------------------------
BULK_HEADERS = ["id", "status", "message", "reference", "best draft (clean, most keywords)", "its keyword coverage", "to check",
                "all drafts"]


def bulk(csv_path, zip_path, n=SAMPLING.n, progress=gr.Progress()):
    """CSV (id, keywords, image) + ZIP of photos -> a results table and a results CSV; bad rows are reported, not fatal."""
    with user_errors("running the bulk job"):
        rows = read_rows(csv_path)
        with PhotoArchive(zip_path) as archive:
            cfg = sampling(n, SAMPLING.temperature, SAMPLING.top_p, SAMPLING.max_new_tokens)
            results = list(progress.tqdm(run_bulk(get_pipeline(), rows, archive, cfg), total=len(rows), desc="Writing drafts"))
        out = write_results(results, output_folder() / "ecomcopy-bulk-results.csv")
    ok = sum(r.status == "ok" for r in results)
    table = [[r.id, r.status, r.message, r.reference_id, r.best_draft, "" if r.best_coverage is None else f"{r.best_coverage:.2f}",
              r.best_flags, " || ".join(r.drafts)] for r in results]
    return table, str(out), f"{ok} of {len(results)} product(s) drafted; {len(results) - ok} with errors (see their rows)."


def examples(k: int = 4) -> list[list[str]]:
    """A few products of the shipped catalog: k - 1 of its largest domain and one of the next (the pipeline
    skips a reference with the very same photo)."""
    folder = DEMO_CATALOG_DB.parent
    try:  # the shipped catalog's product file: the page is built while the models (and the working catalog) load
        products = read_products(folder).products
    except EcomcopyError:
        return []
    by_domain: dict[str, list] = {}
    for p in products:
        by_domain.setdefault(p.domain, []).append(p)
    domains = sorted(by_domain.values(), key=len, reverse=True)
    rng = random.Random(7)
    picks = rng.sample(domains[0], min(k - 1, len(domains[0]))) if domains else []
    picks += rng.sample(domains[1], 1) if len(domains) > 1 else []
    return [[str(folder / p.image), ", ".join(p.keywords)] for p in picks]
