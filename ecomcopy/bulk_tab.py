"""The Bulk tab's handlers: a CSV + ZIP job that resumes where a crash left it, its results with each product's
listing, and "approve all that pass" (written, nothing flagged, within the channel's rules).

The job is found again by its uploads and settings (`bulk_jobs.job_key`), so a restarted app given the same files
continues the job, and approving all twice approves each product once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from .bulk import BulkOptions, PhotoArchive, read_rows, run_bulk, write_results
from .bulk_jobs import JobStore, job_key, resumable
from .channels import channel, channel_names
from .components import UploadFile
from .config import DEFAULT_CHANNEL, SAMPLING, AppConfig
from .errors import InputError
from .handlers import sampling
from .exports import export_item, write_shop_file
from .history_tab import SHOP_FILES, history_rows, output_folder
from .keywords import parse_keywords
from .listing import EDITABLE
from .session import allowed, get_pipeline, limit, user_errors, workspace
from .settings_panel import sampling_sliders

BULK_HEADERS = ["id", "status", "message", "reference", "best draft (ranked first)", "keywords used", "to check",
                "title", "bullet points", "ready to approve", "all drafts"]
BULK_WIDTHS = ["71px", "60px", "95px", "95px", "226px", "83px", "107px", "107px", "119px", "71px", "155px"]  # as `HISTORY_WIDTHS`
DEFAULTS = (SAMPLING.temperature, SAMPLING.top_p, SAMPLING.max_new_tokens, SAMPLING.keyword_boost)
_stores: dict[Path, JobStore] = {}


def job_store() -> JobStore:
    """The app's store of bulk jobs, beside its approvals (one connection per process)."""
    path = AppConfig.from_env().data / "bulk_jobs.db"
    if path not in _stores:
        _stores[path] = JobStore(path)
    return _stores[path]


def _job(csv_path, zip_path, n, channel_name, overwrite, request, settings=DEFAULTS) -> tuple[list, object, BulkOptions, str]:
    """The job's rows, settings and key: its uploads and settings (the tab's own: `settings` is creativity, word
    choice, maximum length and keyword use), and in public demo mode its browser session (a visitor resumes and
    approves only their own jobs)."""
    rows = read_rows(csv_path)
    cfg = sampling(n, *settings).validate()  # out-of-range settings refuse the job before anything is charged or stored
    options = BulkOptions(channel(channel_name or DEFAULT_CHANNEL).name, bool(overwrite))  # an unknown one: an error now
    app = AppConfig.from_env()
    key = job_key(csv_path, zip_path, {"sampling": dataclasses.asdict(cfg), "options": options.settings(), "lm": app.lm,
                                       "catalog": str(app.catalog), "image_weight": app.image_weight,
                                       "session": getattr(request, "session_hash", "") if app.demo else ""})
    return rows, cfg, options, key


def bulk(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, temperature=SAMPLING.temperature,
         top_p=SAMPLING.top_p, max_tokens=SAMPLING.max_new_tokens, keyword_boost=SAMPLING.keyword_boost, progress=gr.Progress(),
         request: gr.Request = None):
    """CSV (id, keywords, image; optional description, brand) + ZIP of photos -> a results table and a results CSV;
    bad rows are reported, not fatal; rows with a description are kept unless `overwrite`."""
    if not csv_path or not zip_path:  # a plain message in the status; the results on screen stay as they are
        return gr.skip(), gr.skip(), "Upload both files first: the products CSV (columns id, keywords, image) and the ZIP of their photos."
    with user_errors("running the bulk job"):
        allowed(request, "draft")  # its results CSV holds drafts: a writer's working file (shop files need an editor)
        rows, cfg, options, key = _job(csv_path, zip_path, n, channel_name, overwrite, request, (temperature, top_p, max_tokens, keyword_boost))
        limit(request, "bulk", len(rows) - len(job_store().finished(key, len(rows))))  # a resumed job's done rows are free
        resumed, ws = [], workspace(request, create=False)
        overlay = ws.overlay if ws is not None else None  # a demo visitor's own approved products are references too
        with PhotoArchive(zip_path) as archive:
            run = resumable(rows, job_store(), key, lambda todo: run_bulk(get_pipeline(), todo, archive, cfg, options=options, overlay=overlay),
                            on_resume=lambda k, total: resumed.append(k))
            results = list(progress.tqdm(run, total=len(rows), desc="Writing drafts"))
        out = write_results(results, output_folder() / "ecomcopy-bulk-results.csv")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "error")}
    table = [[r.id, r.status, r.message, r.reference_id, r.best_draft, "" if r.best_coverage is None else f"{r.best_coverage:.0%}",
              r.best_flags or "; ".join(r.violations), r.listing.get("title", ""), "\n".join(r.listing.get("bullets", [])),
              "yes" if r.passes else "no", " || ".join(r.drafts)] for r in results]
    status = (f"{counts['ok']} of {len(results)} product(s) drafted, {sum(r.passes for r in results)} ready to approve; "
              f"{counts['skipped']} kept their description; {counts['error']} with errors (see their rows).")
    status += (f" Settings: creativity {cfg.temperature:.2f}, word choice {cfg.top_p:.2f}, up to {cfg.max_new_tokens} word pieces, "
               f"keyword use {cfg.keyword_boost:g}.")
    if resumed:
        status = f"Resumed an earlier run of this job: {resumed[0]} product(s) were already done. " + status
    return table, str(out), status


def approve_passing(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, query="",
                    temperature=SAMPLING.temperature, top_p=SAMPLING.top_p, max_tokens=SAMPLING.max_new_tokens,
                    keyword_boost=SAMPLING.keyword_boost, request: gr.Request = None):
    """Approve, in one action, every product of the finished job whose best draft passes the checker and the
    channel's rules (with its listing and photo; it joins the catalog). Each is approved once, however often asked."""
    with user_errors("approving the bulk results"):
        user = allowed(request, "approve")
        if not csv_path or not zip_path:
            raise InputError("Upload the CSV and ZIP of the job and run it first.")
        rows, _, options, key = _job(csv_path, zip_path, n, channel_name, overwrite, request, (temperature, top_p, max_tokens, keyword_boost))
        store, ws = job_store(), workspace(request)
        done = store.finished(key, len(rows))
        if len(done) < len(rows):
            raise InputError(f"The job is not finished ({len(done)} of {len(rows)} products): run it first.")
        already = store.approvals(key)
        approved, failed = 0, []
        with PhotoArchive(zip_path) as archive:
            for i, r in sorted(done.items()):
                if not r.passes or i in already:
                    continue
                result = {"keywords": parse_keywords(r.keywords), "reference": {"id": r.nearest_id}, "drafts": r.drafts, "writer": r.writer}
                fields = {k: r.listing[k] for k in ("channel", *EDITABLE)}
                try:
                    ws.check_room()
                    a = get_pipeline().approve(result, r.best_draft, r.best_draft, archive.read(rows[i].image),
                                               listing=fields | {"brand": rows[i].brand}, user=user, store=ws.approvals)
                except InputError as e:  # one product that cannot be approved does not stop the others
                    failed.append(f"{r.id}: {e}")
                    continue
                store.mark_approved(key, i, a.id)
                approved += 1
    drafted = sum(r.status == "ok" for r in done.values())
    passing = sum(r.passes for r in done.values())
    return (f"Approved {approved} product(s) that pass every check and {options.channel}'s rules"
            + (f"; {len(already)} were approved before" if already else "") + f"; {drafted - passing} drafted product(s) need an editor"
            + (f"; {len(failed)} could not be approved ({'; '.join(failed[:3])})" if failed else "") + "."), history_rows(ws, query)


def job_exporter(kind: str):
    """The Bulk tab's handler of one shop-file button (the signed-in user comes with the request)."""
    def run(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, temperature=SAMPLING.temperature,
            top_p=SAMPLING.top_p, max_tokens=SAMPLING.max_new_tokens, keyword_boost=SAMPLING.keyword_boost, request: gr.Request = None) -> str:
        return export_job(kind, csv_path, zip_path, n, channel_name, overwrite, request, (temperature, top_p, max_tokens, keyword_boost))

    return run


def export_job(kind: str, csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, request: gr.Request = None,
               settings: tuple = DEFAULTS) -> str:
    """The job's drafted products (best draft and its listing) as a file a shop imports; each goes in as a draft."""
    with user_errors("exporting the bulk results"):
        user = allowed(request, "export")
        if not csv_path or not zip_path:
            raise InputError("Upload the CSV and ZIP of the job and run it first.")
        rows, _, _, key = _job(csv_path, zip_path, n, channel_name, overwrite, request, settings)
        done = job_store().finished(key, len(rows))
        if len(done) < len(rows):
            raise InputError(f"The job is not finished ({len(done)} of {len(rows)} products): run it first.")
        items = [export_item(r.id, parse_keywords(r.keywords), r.best_draft, r.listing) for _, r in sorted(done.items()) if r.status == "ok"]
        if not items:
            raise InputError("No drafted product to export: run the job first.")
        name, ext = SHOP_FILES[kind]
        workspace(request).audit.record(user, "export", f"bulk job {key[:12]} as {kind}", after={"products": len(items)})
        return str(write_shop_file(kind, items, output_folder() / f"{name}-bulk.{ext}"))


def clicked_product(evt: gr.SelectData) -> str:
    """A clicked row of the results, in full: its best draft, listing and every draft (the table cuts long texts)."""
    row = dict(zip(BULK_HEADERS, [str(v) for v in evt.row_value or []]))
    if not row.get("id"):
        return ""
    drafts = [d for d in row.get("all drafts", "").split(" || ") if d]
    return "\n".join([f"{row['id']}: {row['status']}" + (f" ({row['message']})" if row.get("message") else ""),
                      f"Reference: {row.get('reference') or 'none'}", "", "Best draft:", row.get("best draft (ranked first)") or "(none)",
                      "", f"To check: {row.get('to check') or 'nothing'}", f"Title: {row.get('title', '')}", "Bullet points:",
                      row.get("bullet points", ""), "", f"All {len(drafts)} draft(s):", *[f"{i}. {d}" for i, d in enumerate(drafts, 1)]])


def layout(ui: SimpleNamespace) -> None:
    gr.Markdown(
        "Upload a CSV with the columns `id`, `keywords` and `image` (the photo's file name inside the ZIP), optionally "
        "`description` (copy you already have: kept) and `brand`, and a ZIP of the photos. Each product gets a reference, "
        "drafts and a listing; a bad row is reported in its own row. A job stopped by a crash or restart continues "
        "where it stopped when you run the same files again."
    )
    with gr.Row():
        ui.bulk_csv = UploadFile(label="Products CSV", file_types=[".csv"], type="filepath", elem_id="bulk-csv")
        ui.bulk_zip = UploadFile(label="Photos ZIP", file_types=[".zip"], type="filepath", elem_id="bulk-zip")
        with gr.Column():
            ui.bulk_n = gr.Slider(1, 8, value=SAMPLING.n, step=1, label="Drafts per product",
                                  info="The best one (ranked first) fills the listing; all are in the results")
            ui.bulk_channel = gr.Dropdown([(channel(c).label, c) for c in channel_names()], value=DEFAULT_CHANNEL, label="Channel",
                                         info="Where the listings go: its fields, lengths and rules")
            ui.bulk_overwrite = gr.Checkbox(label="Also draft products that have a description (replace it)", value=False,
                                            info="Off: a row that already has a description keeps it")
    with gr.Accordion("Settings for this job (its own: the Write tab's are for one product)", open=False, elem_id="bulk-settings"):
        ui.bulk_settings = sampling_sliders("bulk-")
    with gr.Row():
        ui.bulk_btn = gr.Button("Write drafts for all", variant="primary")
        ui.bulk_approve = gr.Button("Approve all that pass", elem_id="bulk-approve")
    ui.bulk_status = gr.Textbox(label="Status", interactive=False, elem_id="bulk-status")
    ui.bulk_table = gr.Dataframe(headers=BULK_HEADERS, datatype="str", label="Results (click a row to read it in full)", interactive=False,
                                 wrap=True, column_widths=BULK_WIDTHS, max_chars=160, elem_id="bulk-table")  # in full below, on a click
    ui.bulk_detail = gr.Textbox(label="The product you clicked", lines=6, interactive=False, buttons=["copy"], elem_id="bulk-detail")
    ui.bulk_file = gr.File(label="Results as CSV", interactive=False)
    with gr.Row():
        ui.bulk_shop_btns = {kind: gr.Button(f"Drafted products as {label}") for kind, label in
                             (("shopify", "Shopify CSV"), ("google", "Google Merchant feed"), ("woocommerce", "WooCommerce CSV"))}
    ui.bulk_export = gr.File(label="For your shop", interactive=False)


def wire(ui: SimpleNamespace) -> None:
    """The tab's buttons; `/bulk` and `/bulk_approve` are API endpoints (README), the shop files are not."""
    s = ui.bulk_settings
    job, settings = [ui.bulk_csv, ui.bulk_zip, ui.bulk_n, ui.bulk_channel, ui.bulk_overwrite], [s.temperature, s.top_p, s.max_tokens, s.keyword_boost]
    ui.bulk_btn.click(bulk, inputs=job + settings, outputs=[ui.bulk_table, ui.bulk_file, ui.bulk_status], api_name="bulk")
    ui.bulk_approve.click(approve_passing, inputs=[*job, ui.query, *settings], outputs=[ui.bulk_status, ui.history], api_name="bulk_approve")
    for kind, button in ui.bulk_shop_btns.items():
        button.click(job_exporter(kind), inputs=job + settings, outputs=ui.bulk_export, api_visibility="private")
    ui.bulk_table.select(clicked_product, outputs=ui.bulk_detail, api_visibility="private")
