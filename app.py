"""ecomcopy web app (Gradio): photo + keywords -> similar catalog products -> streamed drafts -> review, edit, approve.

Thin on purpose: every decision lives in the `ecomcopy` package; this file only lays out the page
and turns package errors into messages. Run `python app.py` (127.0.0.1:7860) or as a Hugging Face Space.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import gradio as gr
import PIL.Image

from ecomcopy.bulk import PhotoArchive, read_rows, run_bulk, write_results
from ecomcopy.catalog import DEFAULT_IMAGE_WEIGHT
from ecomcopy.errors import EcomcopyError
from ecomcopy.generate import KEYWORD_BOOST, SamplingConfig
from ecomcopy.images import MAX_FILE_BYTES, MAX_PIXELS, load_image
from ecomcopy.keywords import MAX_KEYWORDS_CHARS
from ecomcopy.lm import DEFAULT_LM
from ecomcopy.paths import ASSETS_DIR, DEFAULT_ADAPTER, DEMO_CATALOG_DB, data_dir
from ecomcopy.pipeline import Pipeline, PipelineConfig, Progress
from ecomcopy.products import read_products

log = logging.getLogger("ecomcopy.app")
warnings.filterwarnings("ignore", category=DeprecationWarning)


class PhotoInput(gr.Image):
    """gr.Image whose upload errors become a plain message (gr.Image raises PIL's errors as they are)."""

    is_template = True  # render with the ordinary Image front end

    def preprocess(self, payload):  # type: ignore[override]
        try:
            return super().preprocess(payload)  # with type="filepath": reads the header only, no decoding
        except Exception as e:  # noqa: BLE001 - any unreadable upload gets a clear answer
            path = getattr(payload, "path", None)
            if path:  # the pipeline's own checks name the reason (empty, truncated, too large...)
                try:
                    load_image(path)
                except EcomcopyError as reason:
                    raise gr.Error(str(reason)) from None
            if isinstance(e, PIL.Image.DecompressionBombError):
                raise gr.Error(f"That photo is over {MAX_PIXELS // 1_000_000} megapixels; resize it first.") from None
            raise gr.Error("That file is not an image we can read; upload a JPEG, PNG or WebP photo.") from None


@lru_cache(maxsize=1)
def pipeline_loading() -> Future:
    """Models load once per process, on their own thread, and are shared by every request; meanwhile the page
    is built and served (a request sent before they are ready waits for them).

    The catalog searched is a working copy in the data folder, seeded from the shipped one, so that
    approvals (which join it) never touch the repo; `ECOMCOPY_CATALOG` points at another catalog file.
    """
    data = data_dir()
    custom = os.environ.get("ECOMCOPY_CATALOG")
    cfg = PipelineConfig(
        catalog=Path(custom) if custom else data / "catalog.db",
        seed=None if custom else DEMO_CATALOG_DB,
        photos=data / "photos",
        lm=os.environ.get("ECOMCOPY_LM", DEFAULT_LM),
        image_weight=float(os.environ.get("ECOMCOPY_IMAGE_WEIGHT", DEFAULT_IMAGE_WEIGHT)),
    )
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
        raise gr.Error(str(e)) from None
    except Exception:  # noqa: BLE001 - log for us, a plain sentence for the user
        log.exception("%s failed", what)
        raise gr.Error(f"Something went wrong while {what}; please try again. The details are in the server log.") from None


def _sampling(n, temperature, top_p, max_tokens, keyword_boost=KEYWORD_BOOST) -> SamplingConfig:
    try:
        return SamplingConfig(int(n), float(temperature), float(top_p), int(max_tokens), keyword_boost=float(keyword_boost))
    except (TypeError, ValueError):
        raise EcomcopyError("Number of drafts, creativity, top-p, length and keyword emphasis must be numbers.") from None


# -- API endpoints (stable signatures, JSON out) -----------------------------------------------------
def api_generate(image_path, keywords, n=4, temperature=0.8, top_p=0.9, max_tokens=60, writer="modict", reference_id="", exclude_group="",
                 keyword_boost=KEYWORD_BOOST):
    """Reference + drafts for a photo and keywords. Returns the result as JSON (see the README)."""
    with user_errors("writing drafts"):
        result = get_pipeline().suggest(image_path, keywords, _sampling(n, temperature, top_p, max_tokens, keyword_boost),
                                        exclude_group=exclude_group or None, writer=writer or "modict", reference_id=reference_id or None)
        return result.to_dict()


def api_approve(result, final, chosen="", image_path=None, add_to_catalog=True):
    """Approve a final text for a result of `generate`; returns the stored approval as JSON."""
    with user_errors("saving the approval"):
        a = get_pipeline().approve(result, final, chosen or "", image_path, bool(add_to_catalog))
        return approval_json(a)


def approval_json(a) -> dict:
    return {"id": a.id, "created_at": a.created_at, "keywords": a.keywords, "final": a.final, "chosen": a.chosen,
            "reference_id": a.reference.get("id"), "drafts": a.drafts, "writer": a.writer, "catalog_product_id": a.product_id}


# -- UI handlers ---------------------------------------------------------------------------------------
REVIEW_HEADERS = ["#", "keywords covered", "missing keywords", "words", "copies the reference?"]


def _ref_choices(refs) -> list[tuple[str, str]]:
    return [(f"{h.product.name} ({h.product.id}) · similarity {h.score:.2f}", h.product.id) for h in refs]


def _ref_panel(refs, chosen: int) -> tuple:
    hit = refs[chosen]
    p = hit.product
    return (
        gr.update(choices=_ref_choices(refs), value=p.id),
        str(p.image_path) if p.image_path and Path(p.image_path).is_file() else None,
        f"{p.name} ({p.id}): similarity {hit.score:.2f}",
        ", ".join(p.keywords),
        p.description,
    )


def write(image_path, keywords, n, temperature, top_p, max_tokens, writer="modict", keyword_boost=KEYWORD_BOOST, reference_id="", exclude_group=""):
    """Streams: the reference panel first, then the drafts as they are written, then their review."""
    t0 = time.time()
    skip = gr.skip()
    loading = not pipeline_loading().done()
    yield ("The models are still loading (a few seconds after a start); your drafts follow…" if loading
           else "Finding the most similar catalog products…",) + (skip,) * 11
    with user_errors("writing drafts"):
        stream = get_pipeline().suggest_stream(image_path, keywords, _sampling(n, temperature, top_p, max_tokens, keyword_boost),
                                               exclude_group=exclude_group or None, writer=writer or "modict",
                                               reference_id=reference_id or None)
        for step in stream:
            panel = _ref_panel(step.references, step.chosen_reference)
            if isinstance(step, Progress):
                words = sum(len(d.split()) for d in step.partial)
                status = f"Writing {int(n)} draft(s)… {words} words so far ({time.time() - t0:.1f} s)"
                drafts = gr.update(choices=[d for d in step.partial if d], value=None)
                yield (status,) + panel + (drafts, skip, skip, skip, skip, skip)
                continue
            result = step.to_dict()
            rows = [[i + 1, f"{len(r.covered)}/{len(r.covered) + len(r.missing)}", ", ".join(r.missing), r.words,
                     f"yes: “{r.copied}”" if r.copied else "no"] for i, r in enumerate(step.reviews)]
            overlap = result["mean_overlap"]
            status = (f"{len(step.drafts)} draft(s) in {step.seconds:.1f} s, written by "
                      f"{'ModICT' if step.writer == 'modict' else 'the plain prompt'} with the reference above. "
                      + (f"How alike they are (mean pairwise ROUGE-L, lower = more varied): {overlap:.2f}." if overlap is not None else ""))
            first = step.drafts[0] if step.drafts else ""
            state = {"result": result, "photo": image_path}
            yield (status,) + panel + (gr.update(choices=step.drafts, value=first or None), rows, first, result, state, "")


def pick(draft: str) -> str:
    return draft or ""


def regenerate_with(reference_id, image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, exclude_group):
    yield from write(image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, reference_id, exclude_group)


def approve(state, final, keep_out, query="", picked=""):
    """Store the edited text; returns a confirmation and the refreshed history."""
    if not state or not state.get("result"):
        raise gr.Error("Write drafts first: an approval records the photo, keywords, reference and drafts.")
    with user_errors("saving the approval"):
        pipe = get_pipeline()
        result = state["result"]
        chosen = picked if picked in result.get("drafts", []) else ""  # the draft picked before editing
        a = pipe.approve(result, final, chosen, state.get("photo"), add_to_catalog=not keep_out)
    where = f"added to the catalog as {a.product_id}" if a.product_id else "kept out of the catalog"
    gr.Info(f"Approved #{a.id}")
    return f"Approved as #{a.id} ({where}).", history_rows(query)


HISTORY_HEADERS = ["#", "approved (UTC)", "keywords", "final description", "reference", "in catalog"]


def history_rows(query: str = "") -> list[list]:
    try:
        store = get_pipeline().approvals
        items = store.list(query or "") if store is not None else []
    except EcomcopyError as e:
        raise gr.Error(str(e)) from None
    return [[a.id, time.strftime("%Y-%m-%d %H:%M", time.gmtime(a.created_at)), ", ".join(a.keywords), a.final,
             a.reference.get("id") or "", "yes" if a.product_id else "no"] for a in items]


def _approval_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise gr.Error("Type the number (#) of an approval from the table.") from None


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
            raise gr.Error(f"There is no approval #{aid}.")
    return f"Deleted approval #{aid} (and its catalog product).", history_rows(query)


def export(kind: str, query: str = "") -> str:
    with user_errors("exporting"):
        folder = Path(tempfile.mkdtemp(prefix="ecomcopy-export-"))
        store = get_pipeline().approvals
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if kind == "csv":
            return str(store.export_csv(folder / f"approvals-{stamp}.csv", query or ""))
        return str(store.export_json(folder / f"approvals-{stamp}.json", query or ""))


BULK_HEADERS = ["id", "status", "message", "reference", "best draft (most keywords)", "its keyword coverage", "all drafts"]


def bulk(csv_path, zip_path, n=4, progress=gr.Progress()):
    """CSV (id, keywords, image) + ZIP of photos -> a results table and a results CSV; bad rows are reported, not fatal."""
    with user_errors("running the bulk job"):
        rows = read_rows(csv_path)
        with PhotoArchive(zip_path) as archive:
            sampling = _sampling(n, 0.8, 0.9, 60)
            results = list(progress.tqdm(run_bulk(get_pipeline(), rows, archive, sampling), total=len(rows), desc="Writing drafts"))
        out = write_results(results, Path(tempfile.mkdtemp(prefix="ecomcopy-bulk-")) / "ecomcopy-bulk-results.csv")
    ok = sum(r.status == "ok" for r in results)
    table = [[r.id, r.status, r.message, r.reference_id, r.best_draft, "" if r.best_coverage is None else f"{r.best_coverage:.2f}",
              " || ".join(r.drafts)] for r in results]
    return table, str(out), f"{ok} of {len(results)} product(s) drafted; {len(results) - ok} with errors (see their rows)."


def examples(k: int = 4) -> list[list[str]]:
    """A few products from the shipped catalog (the pipeline skips a reference with the very same photo)."""
    folder = DEMO_CATALOG_DB.parent
    try:  # the shipped catalog's product file: the page is built while the models (and the working catalog) load
        products = read_products(folder).products
    except EcomcopyError:
        return []
    rng = random.Random(7)
    hm = [p for p in products if p.id.startswith("hm-")]
    ikea = [p for p in products if p.id.startswith("ikea-")]
    picks = rng.sample(hm, min(k - 1, len(hm))) + rng.sample(ikea, min(1, len(ikea)))
    return [[str(folder / p.image), ", ".join(p.keywords)] for p in picks]


CSS = ".ref-photo img {object-fit: contain}"
CATALOG_IMAGES = ASSETS_DIR / "catalog" / "images"


def build_ui() -> gr.Blocks:
    # uploads and exports live in Gradio's cache; files older than a day are removed every hour
    with gr.Blocks(title="ecomcopy", delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            "# ecomcopy\nUpload a product photo and type a few keywords. ecomcopy finds the most similar products "
            "in the catalog, uses one as a reference, and writes several drafts for you to compare, edit and approve."
        )
        state = gr.State(None)
        exclude_group = gr.Textbox(visible=False)
        reference_id = gr.Textbox(visible=False)
        with gr.Tabs() as tabs:
            with gr.Tab("Write", id="write"):
                with gr.Row():
                    with gr.Column(scale=1):
                        photo = PhotoInput(elem_id="photo", label="Product photo", type="filepath", image_mode=None, sources=["upload", "clipboard"], height=300)
                        keywords = gr.Textbox(elem_id="keywords", label="Keywords", placeholder="e.g. dress, black, jersey, V-neck", max_length=MAX_KEYWORDS_CHARS, lines=2)
                        with gr.Accordion("Settings", open=False):
                            n = gr.Slider(1, 8, value=4, step=1, label="Number of drafts")
                            temperature = gr.Slider(0.1, 1.5, value=0.8, step=0.05, label="Creativity (temperature)")
                            top_p = gr.Slider(0.5, 1.0, value=0.9, step=0.05, label="Top-p")
                            max_tokens = gr.Slider(20, 120, value=60, step=5, label="Maximum length (tokens)")
                            keyword_boost = gr.Slider(0, 6, value=KEYWORD_BOOST, step=0.5, label="Keyword emphasis (0 = let the model choose)",
                                                      info="How hard the drafts are pushed to use your keywords")
                            writer = gr.Radio(
                                [("ModICT (trained on the reference)", "modict"), ("Plain prompt (no training)", "prompt")],
                                value="modict", label="Writer", visible=DEFAULT_ADAPTER.with_suffix(".json").is_file(),
                            )
                        with gr.Row():
                            go = gr.Button("Write drafts", variant="primary", elem_id="write")
                            regen = gr.Button("Regenerate")
                    with gr.Column(scale=1):
                        gr.Markdown("### Most similar catalog products")
                        ref_choice = gr.Radio(elem_id="ref-choice", label="The reference (pick another to write with it)", choices=[])
                        with gr.Row():
                            ref_photo = gr.Image(label="Reference photo", interactive=False, height=220, elem_classes="ref-photo")
                            with gr.Column():
                                ref_title = gr.Textbox(label="Product", interactive=False)
                                ref_keywords = gr.Textbox(label="Its keywords", interactive=False)
                        ref_description = gr.Textbox(elem_id="ref-description", label="Its description", interactive=False, lines=3)
                status = gr.Textbox(elem_id="status", label="Status", interactive=False, lines=1)
                gr.Markdown("### Drafts")
                drafts = gr.Radio(elem_id="drafts", label="Pick a draft", choices=[], type="value")
                review = gr.Dataframe(elem_id="review", headers=REVIEW_HEADERS, datatype="str", label="Review of the drafts", interactive=False, wrap=True)
                chosen = gr.Textbox(elem_id="chosen", label="Your description (editable)", lines=4, buttons=["copy"], interactive=True)
                with gr.Row():
                    keep_out = gr.Checkbox(label="Keep this product out of the catalog (never use it as a reference)", value=False)
                    approve_btn = gr.Button("Approve", variant="primary", elem_id="approve")
                approve_status = gr.Textbox(elem_id="approve-status", label="Approval", interactive=False)
                with gr.Accordion("Result as JSON (what the API returns)", open=False):
                    result_json = gr.JSON(label="Result")
                gr.Examples(examples=examples(), inputs=[photo, keywords], label="Try a catalog product")
            with gr.Tab("History", id="history"):
                with gr.Row():
                    query = gr.Textbox(label="Search approvals (keywords, text, reference)", scale=3)
                    refresh = gr.Button("Search / refresh", scale=1)
                history = gr.Dataframe(elem_id="history", headers=HISTORY_HEADERS, datatype="str", label="Approved descriptions",
                                       interactive=False, wrap=True)
                with gr.Row():
                    approval_id = gr.Number(label="Approval #", precision=0, minimum=1)
                    open_btn = gr.Button("Re-open in Write")
                    delete_btn = gr.Button("Delete", variant="stop")
                history_status = gr.Textbox(label="Status", interactive=False)
                with gr.Row():
                    csv_btn = gr.Button("Export CSV", elem_id="export-csv")
                    json_btn = gr.Button("Export JSON")
                export_file = gr.File(elem_id="export-file", label="Export", interactive=False)
            with gr.Tab("Bulk", id="bulk"):
                gr.Markdown(
                    "Upload a CSV with the columns `id`, `keywords` and `image` (the photo's file name inside the ZIP) "
                    "and a ZIP of the photos. Each product gets a reference and drafts; a bad row is reported in its own row."
                )
                with gr.Row():
                    bulk_csv = gr.File(label="Products CSV", file_types=[".csv"], type="filepath")
                    bulk_zip = gr.File(label="Photos ZIP", file_types=[".zip"], type="filepath")
                    bulk_n = gr.Slider(1, 8, value=4, step=1, label="Drafts per product")
                bulk_btn = gr.Button("Write drafts for all", variant="primary")
                bulk_status = gr.Textbox(label="Status", interactive=False)
                bulk_table = gr.Dataframe(headers=BULK_HEADERS, datatype="str", label="Results", interactive=False, wrap=True)
                bulk_file = gr.File(label="Results as CSV", interactive=False)
        gr.Markdown(
            "Demo catalog: a sample of the H&M Personalized Fashion Recommendations data and the IKEA product data "
            "of Tautkute et al. (FedCSIS 2017), both for non-commercial research use; see assets/catalog/SOURCES.md."
        )

        # hidden API endpoints: stable signatures for programs (README), independent of the page layout
        api_out = gr.JSON(visible=False)
        api_generate_btn = gr.Button(visible=False)
        api_generate_btn.click(api_generate, inputs=[photo, keywords, n, temperature, top_p, max_tokens, writer, reference_id, exclude_group, keyword_boost],
                               outputs=api_out, api_name="generate")
        api_approve_btn = gr.Button(visible=False)
        api_result, api_final, api_chosen, api_add = gr.JSON(visible=False), gr.Textbox(visible=False), gr.Textbox(visible=False), gr.Checkbox(visible=False)
        api_approve_btn.click(api_approve, inputs=[api_result, api_final, api_chosen, photo, api_add], outputs=api_out, api_name="approve")

        bulk_btn.click(bulk, inputs=[bulk_csv, bulk_zip, bulk_n], outputs=[bulk_table, bulk_file, bulk_status], api_name="bulk")

        write_outputs = [status, ref_choice, ref_photo, ref_title, ref_keywords, ref_description, drafts, review, chosen, result_json, state, approve_status]
        settings = [n, temperature, top_p, max_tokens, writer, keyword_boost]
        go.click(write, inputs=[photo, keywords, *settings], outputs=write_outputs, api_visibility="private")
        keywords.submit(write, inputs=[photo, keywords, *settings], outputs=write_outputs, api_visibility="private")
        regen.click(regenerate_with, inputs=[ref_choice, photo, keywords, *settings, exclude_group], outputs=write_outputs, api_visibility="private")
        ref_choice.input(regenerate_with, inputs=[ref_choice, photo, keywords, *settings, exclude_group], outputs=write_outputs, api_visibility="private")
        drafts.change(pick, inputs=drafts, outputs=chosen, api_visibility="private")
        approve_btn.click(approve, inputs=[state, chosen, keep_out, query, drafts], outputs=[approve_status, history], api_visibility="private")
        # filled on each page load, not when the page is built: the page is served while the models (and the
        # working catalog that holds the approvals) still load
        demo.load(history_rows, outputs=history, api_visibility="private")
        refresh.click(history_rows, inputs=query, outputs=history, api_visibility="private")
        query.submit(history_rows, inputs=query, outputs=history, api_visibility="private")
        open_btn.click(reopen, inputs=approval_id, outputs=[tabs, photo, keywords, chosen, approve_status], api_visibility="private")
        delete_btn.click(delete, inputs=[approval_id, query], outputs=[history_status, history], api_visibility="private")
        csv_btn.click(lambda q: export("csv", q), inputs=query, outputs=export_file, api_visibility="private")
        json_btn.click(lambda q: export("json", q), inputs=query, outputs=export_file, api_visibility="private")
    return demo


def served_paths() -> list[str]:
    """The only folders whose files the page may fetch: catalog photos and approved photos (not the databases)."""
    return [str(CATALOG_IMAGES), str(data_dir() / "photos")]


QUEUE_SIZE = 32  # requests waiting for the model; one more is told the queue is full (HTTP 503), never left hanging


def launch(host: str = "127.0.0.1", port: int = 7860, block: bool = True, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """Load the models while the page is built and served; return once they are loaded (`block=False`, tests)
    or serve until stopped. A model that fails to load stops the server: no page without its models."""
    loading = pipeline_loading()
    demo = build_ui()
    demo.queue(default_concurrency_limit=1, max_size=queue_size).launch(
        server_name=host,
        server_port=port,
        share=False,
        allowed_paths=served_paths(),
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
        show_error=False,
        prevent_thread_lock=True,
        quiet=not block,
    )
    try:
        loading.result()
    except BaseException:
        demo.close()
        raise
    log.info("models loaded: ready to write")
    if block:
        demo.block_thread()
    return demo


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def resolve_host(host: str, public: bool, env: dict | None = None) -> str:
    """The address to listen on: this machine only unless the operator said otherwise (`--public`), or the
    app runs on a Hugging Face Space, whose proxy must reach it on all interfaces."""
    env = os.environ if env is None else env
    if host in LOOPBACK or public or env.get("SPACE_ID"):
        return host
    raise SystemExit(
        f"Refusing to listen on {host!r}: anyone who can reach this machine could use the app and read its approvals. "
        "Add --public to mean it (and put it behind a login; see docs/SECURITY.md), or leave --host at 127.0.0.1."
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Launch the ecomcopy web app.")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="127.0.0.1 unless you mean to expose it")
    ap.add_argument("--public", action="store_true", help="allow a --host other than this machine (e.g. 0.0.0.0)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    ap.add_argument("--queue-size", type=int, default=QUEUE_SIZE, help="requests that may wait for the model")
    args = ap.parse_args(argv)
    host = resolve_host(args.host, args.public)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(host, args.port, queue_size=args.queue_size)


if __name__ == "__main__":
    main()
