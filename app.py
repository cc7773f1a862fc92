"""ecomcopy web app (Gradio): photo + keywords -> similar catalog products -> streamed drafts -> review, edit, approve.

Layout and wiring only (handlers in `ecomcopy/handlers.py`, every decision in the package). Run `python app.py`
(127.0.0.1:7860) or as a Hugging Face Space."""

from __future__ import annotations

import argparse
import logging
import warnings
from functools import partial
from types import SimpleNamespace

import gradio as gr
from starlette.middleware import Middleware

from ecomcopy.channels import channel, channel_names
from ecomcopy.config import CATALOG_IMAGES, DEFAULT_CHANNEL, QUEUE_SIZE, SAMPLING, AppConfig, shipped_adapter
from ecomcopy.bulk_tab import approve_passing, bulk, export_job
from ecomcopy.handlers import api_approve, api_generate, api_review, api_submit, approve, examples, regenerate_with, write, write_page
from ecomcopy.write_view import STARTERS, UNLOCKS, WriteView, hold, keywords_typed, pick, round_buttons, stale, strike_claims, unlock
from ecomcopy.model import ModICT
from ecomcopy import bulk_tab, history_tab, review_tab
from ecomcopy.session import api_refusal, drafter_loading, drafting, end_session, get_pipeline, pipeline_loading, sign_in
from ecomcopy.components import PhotoInput
from ecomcopy.settings_panel import sampling_sliders
from ecomcopy.images import MAX_FILE_BYTES
from ecomcopy.keywords import MAX_KEYWORDS_CHARS
from ecomcopy.listing import EDITABLE
from ecomcopy.listing_view import LABELS, rebuild, recheck, refresh
from ecomcopy.server_log import quiet_gradio_tracebacks
from ecomcopy.api_guard import ApiRoleGuard
from ecomcopy.web_guard import RequestGuard

__all__ = ["build_ui", "launch", "main", "get_pipeline", "write", "bulk", "approve_passing", "export_job"]  # what tests and benches use
log = logging.getLogger("ecomcopy.app")
warnings.filterwarnings("ignore", category=DeprecationWarning)
CSS = """.ref-photo img {object-fit: contain}
#drafts label span {white-space: pre-line}"""  # each draft's review on the line under its text
# Ctrl+Enter (Cmd+Enter) in the description presses Approve, when it may be pressed
HEAD = """<script>document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && e.target.closest && e.target.closest("#chosen")) {
    const button = document.querySelector("#approve");
    if (button && !button.disabled) { e.preventDefault(); button.click(); }
  }
});</script>"""
DEMO_NOTICE = ("\n\n**Public demo.** What you approve stays in this page: your History, and a reference for your own later drafts. "
               "No other visitor sees it, and it is deleted soon after you close the page, or after an hour unused.")


def _write_tab(ui: SimpleNamespace) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            ui.photo = PhotoInput(elem_id="photo", label="Product photo", type="filepath", image_mode=None, sources=["upload", "clipboard"], height=300)
            ui.keywords = gr.Textbox(elem_id="keywords", label="Keywords", placeholder="e.g. dress, black, jersey, V-neck", max_length=MAX_KEYWORDS_CHARS,
                                     lines=1, max_lines=3, info="Enter writes the drafts; Shift+Enter starts a new line")
            with gr.Accordion("Settings", open=False):
                ui.n = gr.Slider(1, 8, value=SAMPLING.n, step=1, label="Number of drafts", elem_id="n-drafts",
                                 info="How many to write at once to compare; more take longer")
                vars(ui).update(vars(sampling_sliders()))
                ui.writer = gr.Radio(
                    [("ModICT (trained on the reference)", "modict"), ("Plain prompt (no training)", "prompt")],
                    value="modict", label="Writer", visible=_writer_choice(),
                    info="ModICT learned to write from the reference product; the plain prompt is the untrained model, to compare",
                )
            with gr.Row():
                ui.go = gr.Button("Write drafts", variant="primary", elem_id="write")
                ui.regen = gr.Button("Regenerate", elem_id="regenerate")
            ui.status = gr.Textbox(elem_id="status", label="Status", interactive=False, lines=1)
            # right under the buttons (on a phone too): each draft with its review on the line under it
            ui.drafts = gr.Radio(elem_id="drafts", label="Drafts: pick one to edit", choices=[], type="value",
                                 info="Newest first; Regenerate or another reference adds a round, and earlier rounds stay here")
        with gr.Column(scale=1):
            gr.Markdown("### Most similar catalog products")
            ui.ref_choice = gr.Radio(elem_id="ref-choice", label="The reference (pick another to write with it)", choices=[])
            with gr.Row():
                ui.ref_photo = gr.Image(label="Reference photo", interactive=False, height=220, elem_classes="ref-photo")
                with gr.Column():
                    ui.ref_title = gr.Textbox(elem_id="ref-title", label="Product", interactive=False)
                    ui.ref_keywords = gr.Textbox(label="Its keywords", interactive=False)
            ui.ref_description = gr.Textbox(elem_id="ref-description", label="Its description", interactive=False, lines=3)
    ui.chosen = gr.Textbox(elem_id="chosen", label="Your description (editable)", lines=4, buttons=["copy"], interactive=True,
                           info="Ctrl+Enter approves it")
    ui.check_description = gr.Markdown(elem_id="check-description")
    ui.claims = gr.CheckboxGroup(elem_id="claims", choices=[], value=[], label="Claims to check",
                                 info="Specifics your keywords do not give: untick one that is not true to strike it from your description")
    _listing_panel(ui)
    with gr.Row():
        ui.keep_out = gr.Checkbox(label="Keep this product out of the catalog (never use it as a reference)", value=False)
        ui.approve_btn = gr.Button("Approve", variant="primary", elem_id="approve", interactive=False)  # until there are drafts
    ui.approve_status = gr.Textbox(elem_id="approve-status", label="Approval", interactive=False)
    with gr.Accordion("Result as JSON (what the API returns; its listing is the one above)", open=False):
        ui.result = gr.JSON(label="Result")
    ui.examples = gr.Examples(examples=examples(), inputs=[ui.photo, ui.keywords], label="Try a catalog product", elem_id="examples")


def _listing_panel(ui: SimpleNamespace) -> None:
    """The listing for one channel: each field with its count and the channel's messages under it."""
    with gr.Accordion("Listing for your shop", open=True, elem_id="listing"):
        with gr.Row():
            ui.channel = gr.Dropdown([(channel(c).label, c) for c in channel_names()], value=DEFAULT_CHANNEL, label="Channel",
                                     elem_id="channel", info="Where the listing goes: its rules are checked as you type")
            ui.brand = gr.Textbox("", label="Brand (optional)", elem_id="brand", info="Leads the title and fills the vendor")
        ui.listing_fields, ui.listing_checks, ui.rebuild = [], [], []
        for name, lines in (("title", 1), ("bullets", 5), ("seo_title", 1), ("meta_description", 2), ("tags", 1)):
            with gr.Row(equal_height=True):
                ui.listing_fields.append(gr.Textbox(label=LABELS[name] + (" (one per line)" if name == "bullets" else ""), lines=lines,
                                                    elem_id=f"listing-{name}", scale=5))
                ui.rebuild.append(gr.Button("Rebuild", size="sm", scale=0, elem_id=f"rebuild-{name}"))
            ui.listing_checks.append(gr.Markdown(elem_id=f"check-{name}"))
    # what the fields were last built as: a page value (not a State read when the handler runs), so Approve compares
    # the fields with the built values of the same moment, even while the description box's blur rebuilds them
    ui.listing_built = gr.JSON(None, visible=False)


def _api(ui: SimpleNamespace) -> None:
    """Named endpoints with stable signatures for programs (README), independent of the page layout."""
    out = gr.JSON(visible=False)
    gr.Button(visible=False).click(api_generate, inputs=[ui.photo, ui.keywords, ui.n, ui.temperature, ui.top_p, ui.max_tokens, ui.writer,
                                                        ui.reference_id, ui.exclude_group, ui.keyword_boost, ui.channel, ui.brand],
                                   outputs=out, api_name="generate", **drafting())
    result, final, chosen, add = gr.JSON(visible=False), gr.Textbox(visible=False), gr.Textbox(visible=False), gr.Checkbox(visible=False)
    listing = gr.JSON(visible=False)
    for fn, name in ((api_approve, "approve"), (api_submit, "submit")):
        gr.Button(visible=False).click(fn, inputs=[result, final, chosen, ui.photo, add, listing], outputs=out, api_name=name)
    aid, decision, reason = gr.Number(visible=False, precision=0), gr.Textbox(visible=False), gr.Textbox(visible=False)
    gr.Button(visible=False).click(api_review, inputs=[aid, decision, final, reason], outputs=out, api_name="review")
    bulk_tab.wire(ui)


def _wire(ui: SimpleNamespace, demo: gr.Blocks) -> None:
    private = {"api_visibility": "private"}
    drafts = private | drafting()
    outputs = [getattr(ui, name) for name in WriteView.names()]
    settings = [ui.n, ui.temperature, ui.top_p, ui.max_tokens, ui.writer, ui.keyword_boost]
    listing_in = [ui.state, ui.chosen, ui.channel, ui.brand, ui.listing_built, *ui.listing_fields]
    listing_out = [*ui.listing_fields, ui.check_description, *ui.listing_checks, ui.listing_built]
    fill = {"fn": refresh, "inputs": listing_in, "outputs": listing_out, "show_progress": "hidden", **private}
    first = [ui.photo, ui.keywords, *settings, ui.state, ui.chosen]
    again = [ui.ref_choice, ui.photo, ui.keywords, *settings, ui.exclude_group, ui.state, ui.chosen]
    triggers = ((ui.go.click, write_page, first), (ui.keywords.submit, write_page, first), (ui.regen.click, regenerate_with, again),
                (ui.ref_choice.input, regenerate_with, again))
    held = [*[getattr(ui, name) for name in UNLOCKS], ui.approve_btn]
    for event, _, _ in triggers:  # the page is held from the click, not from the round's first words (it may wait its turn)
        event(hold, outputs=held, queue=False, show_progress="hidden", **private)
    rounds = [event(fn, inputs=inputs, outputs=outputs, **drafts) for event, fn, inputs in triggers]
    unlocking = {"fn": unlock, "inputs": ui.state, "outputs": held, "show_progress": "hidden", **private}
    for r in rounds:  # a new product's listing is built afresh (`WriteView.listing_built`); a failed round unlocks the page
        r.success(**fill)
        r.failure(**unlocking)
    ui.drafts.input(pick, inputs=[ui.drafts, ui.state, ui.chosen], outputs=[ui.chosen, ui.claims, ui.drafts, ui.state], **private).success(**fill)
    for event in (ui.channel.input, ui.brand.submit, ui.brand.blur):
        event(**fill)
    for name, button in zip(EDITABLE, ui.rebuild):
        button.click(**(fill | {"fn": rebuild(name)}))
    live = {"fn": recheck, "inputs": [ui.state, ui.chosen, ui.channel, *ui.listing_fields], "outputs": [ui.check_description, *ui.listing_checks],
            "queue": False, "show_progress": "hidden", "trigger_mode": "always_last", **private}
    for box in (ui.chosen, *ui.listing_fields):  # change, not input: a paste or an autofill is checked too
        box.change(**live)
    ui.claims.input(strike_claims, inputs=[ui.claims, ui.chosen, ui.drafts, ui.state], outputs=[ui.chosen, ui.claims], **private).success(**fill)
    ui.chosen.blur(**fill)  # the fields built from the description follow its edits (a field the editor changed is kept)
    starters = {"outputs": [getattr(ui, name) for name in STARTERS], "show_progress": "hidden", **private}
    ui.approve_btn.click(partial(round_buttons, False), queue=False, **starters)
    saving = ui.approve_btn.click(approve, inputs=[ui.state, ui.chosen, ui.keep_out, ui.query, ui.channel, ui.brand, ui.listing_built,
                                                   *ui.listing_fields], outputs=[ui.approve_status, ui.history, ui.state], trigger_mode="once", **private)
    for then in (saving.success, saving.failure):  # saved or refused, the inputs and round buttons come back
        then(partial(round_buttons, True), **starters)
    # the results on screen belong to the last product; the photo and keywords are locked while a round is written,
    # and an example picked meanwhile cancels it
    new = {"fn": stale, "inputs": [ui.chosen, ui.state], "outputs": [ui.drafts, ui.claims, ui.state, ui.approve_btn, ui.approve_status, ui.status, ui.chosen],
           "show_progress": "hidden", "queue": False, "trigger_mode": "always_last", **private}
    for event in (ui.photo.upload, ui.photo.clear):
        event(**new)
    ui.keywords.input(**new | {"fn": keywords_typed, "inputs": [ui.keywords, ui.chosen, ui.state]})
    ui.examples.dataset.click(**new, cancels=rounds).then(**unlocking)
    history_tab.wire(ui, demo)
    review_tab.wire(ui, demo)
    demo.unload(end_session)  # public demo mode: a closed page's approvals and photos are deleted soon after
    next(f for f in demo.fns.values() if f.fn is end_session).api_visibility = "private"  # no /end_session endpoint


def _writer_choice() -> bool:
    """Offer the plain prompt beside ModICT when the writer has an adapter that leaves the LM frozen (with LoRA,
    the LM itself is trained: the untrained LM is not loaded)."""
    adapter = shipped_adapter(AppConfig.from_env().lm)
    return adapter is not None and not ModICT.config_of(adapter).lora


def build_ui() -> gr.Blocks:
    # uploads and exports live in Gradio's cache; files older than a day are removed every hour
    with gr.Blocks(title="ecomcopy", delete_cache=(3600, 86400), analytics_enabled=False) as demo:
        gr.Markdown(
            "# ecomcopy\nUpload a product photo and type a few keywords. ecomcopy finds the most similar products "
            "in the catalog, uses one as a reference, and writes several drafts for you to compare, edit and approve."
            + (DEMO_NOTICE if AppConfig.from_env().demo else "")
        )
        ui = SimpleNamespace(state=gr.State(None), exclude_group=gr.Textbox(visible=False), reference_id=gr.Textbox(visible=False))
        with gr.Tabs() as ui.tabs:
            with gr.Tab("Write", id="write"):
                _write_tab(ui)
            with gr.Tab("History", id="history"):
                history_tab.layout(ui)
            with gr.Tab("Review", id="review", visible=AppConfig.from_env().auth) as ui.review_tab:
                review_tab.layout(ui)
            with gr.Tab("Bulk", id="bulk"):
                bulk_tab.layout(ui)
        gr.Markdown(
            "Demo catalog: a sample of the H&M Personalized Fashion Recommendations data and the IKEA product data "
            "of Tautkute et al. (FedCSIS 2017), both for non-commercial research use; see assets/catalog/SOURCES.md."
        )
        _api(ui)
        _wire(ui, demo)
    return demo


def served_paths() -> list[str]:
    """The only folders whose files the page may fetch: catalog photos and approved photos (not the databases); in
    public demo mode also the sessions' photos, each under a folder named by a random secret."""
    cfg = AppConfig.from_env()
    return [str(CATALOG_IMAGES), str(cfg.photos)] + ([str(cfg.sessions / "photos")] if cfg.demo else [])


def launch(host: str = "127.0.0.1", port: int = 7860, block: bool = True, queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """Load the models while the page is built and served; return once they are loaded (`block=False`, tests)
    or serve until stopped. A model that fails to load stops the server: no page without its models."""
    loading = pipeline_loading()
    quiet_gradio_tracebacks()
    cfg = AppConfig.from_env()
    demo = build_ui()
    guard = Middleware(RequestGuard, allowed_hosts=cfg.allowed_hosts, behind_proxy=cfg.on_space)
    demo.queue(default_concurrency_limit=1, max_size=queue_size).launch(
        app_kwargs={"middleware": [guard, Middleware(ApiRoleGuard, refusal=api_refusal)]},
        auth=sign_in(),
        auth_message="Sign in with the name and password your admin gave you.",
        server_name=host,
        server_port=port,
        share=False,
        allowed_paths=served_paths(),
        max_file_size=MAX_FILE_BYTES,
        css=CSS,
        head=HEAD,
        show_error=False,
        prevent_thread_lock=True,
        quiet=not block,
    )
    try:
        loading.result()
        drafter_loading().result()  # with --ray-address: the replicas have loaded too
    except BaseException:
        demo.close()
        raise
    log.info("models loaded: ready to write")
    if block:
        demo.block_thread()
    return demo


def main(argv: list[str] | None = None) -> None:
    cfg = AppConfig.from_env()
    ap = argparse.ArgumentParser(description="Launch the ecomcopy web app.")
    ap.add_argument("--host", default=cfg.host, help="127.0.0.1 unless you mean to expose it")
    ap.add_argument("--public", action="store_true", help="allow a --host other than this machine (e.g. 0.0.0.0)")
    ap.add_argument("--port", type=int, default=cfg.port)
    ap.add_argument("--queue-size", type=int, default=QUEUE_SIZE, help="requests that may wait for the model")
    ap.add_argument("--ray-address", default=cfg.ray_address or None,
                    help='write drafts on pipeline replicas on this Ray cluster ("auto", "ray://host:10001"; "local": a Ray on this machine)')
    ap.add_argument("--replicas", type=int, default=cfg.replicas, help="pipeline replicas on Ray (with --ray-address)")
    args = ap.parse_args(argv)
    if args.ray_address:
        AppConfig.serve_on_ray(args.ray_address, args.replicas)
    host = cfg.listen_host(args.host, args.public)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    launch(host, args.port, queue_size=args.queue_size)


if __name__ == "__main__":
    main()
