"""The Bulk tab's handlers: a CSV + ZIP job that resumes where a crash left it, its results with each product's
listing, and "approve all that pass" (written, nothing flagged, within the channel's rules).

The job is found again by its uploads and settings (`bulk_jobs.job_key`), so a restarted app given the same files
continues the job, and approving all twice approves each product once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gradio as gr

from .bulk import BulkOptions, PhotoArchive, read_rows, run_bulk, write_results
from .bulk_jobs import JobStore, job_key, resumable
from .channels import channel
from .config import DEFAULT_CHANNEL, SAMPLING, AppConfig
from .errors import InputError
from .handlers import sampling
from .exports import export_item, write_shop_file
from .history_tab import SHOP_FILES, history_rows, output_folder
from .keywords import parse_keywords
from .listing import EDITABLE
from .session import allowed, get_pipeline, limit, user_errors, workspace

BULK_HEADERS = ["id", "status", "message", "reference", "best draft (ranked first)", "its keyword coverage", "to check",
                "title", "bullet points", "ready to approve", "all drafts"]
_stores: dict[Path, JobStore] = {}


def job_store() -> JobStore:
    """The app's store of bulk jobs, beside its approvals (one connection per process)."""
    path = AppConfig.from_env().data / "bulk_jobs.db"
    if path not in _stores:
        _stores[path] = JobStore(path)
    return _stores[path]


def _job(csv_path, zip_path, n, channel_name, overwrite, request) -> tuple[list, object, BulkOptions, str]:
    """The job's rows, settings and key: its uploads and settings, and in public demo mode its browser session (a
    visitor resumes and approves only their own jobs)."""
    rows = read_rows(csv_path)
    cfg = sampling(n, SAMPLING.temperature, SAMPLING.top_p, SAMPLING.max_new_tokens)
    options = BulkOptions(channel(channel_name or DEFAULT_CHANNEL).name, bool(overwrite))  # an unknown one: an error now
    app = AppConfig.from_env()
    key = job_key(csv_path, zip_path, {"sampling": dataclasses.asdict(cfg), "options": options.settings(), "lm": app.lm,
                                       "catalog": str(app.catalog), "image_weight": app.image_weight,
                                       "session": getattr(request, "session_hash", "") if app.demo else ""})
    return rows, cfg, options, key


def bulk(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, progress=gr.Progress(),
         request: gr.Request = None):
    """CSV (id, keywords, image; optional description, brand) + ZIP of photos -> a results table and a results CSV;
    bad rows are reported, not fatal; rows with a description are kept unless `overwrite`."""
    if not csv_path or not zip_path:  # a plain message in the status; the results on screen stay as they are
        return gr.skip(), gr.skip(), "Upload both files first: the products CSV (columns id, keywords, image) and the ZIP of their photos."
    with user_errors("running the bulk job"):
        allowed(request, "draft")  # its results CSV holds drafts: a writer's working file (shop files need an editor)
        rows, cfg, options, key = _job(csv_path, zip_path, n, channel_name, overwrite, request)
        limit(request, "bulk", len(rows) - len(job_store().finished(key, len(rows))))  # a resumed job's done rows are free
        resumed, ws = [], workspace(request, create=False)
        overlay = ws.overlay if ws is not None else None  # a demo visitor's own approved products are references too
        with PhotoArchive(zip_path) as archive:
            run = resumable(rows, job_store(), key, lambda todo: run_bulk(get_pipeline(), todo, archive, cfg, options=options, overlay=overlay),
                            on_resume=lambda k, total: resumed.append(k))
            results = list(progress.tqdm(run, total=len(rows), desc="Writing drafts"))
        out = write_results(results, output_folder() / "ecomcopy-bulk-results.csv")
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "error")}
    table = [[r.id, r.status, r.message, r.reference_id, r.best_draft, "" if r.best_coverage is None else f"{r.best_coverage:.2f}",
              r.best_flags or "; ".join(r.violations), r.listing.get("title", ""), "\n".join(r.listing.get("bullets", [])),
              "yes" if r.passes else "no", " || ".join(r.drafts)] for r in results]
    status = (f"{counts['ok']} of {len(results)} product(s) drafted, {sum(r.passes for r in results)} ready to approve; "
              f"{counts['skipped']} kept their description; {counts['error']} with errors (see their rows).")
    if resumed:
        status = f"Resumed an earlier run of this job: {resumed[0]} product(s) were already done. " + status
    return table, str(out), status


def approve_passing(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, query="",
                    request: gr.Request = None):
    """Approve, in one action, every product of the finished job whose best draft passes the checker and the
    channel's rules (with its listing and photo; it joins the catalog). Each is approved once, however often asked."""
    with user_errors("approving the bulk results"):
        user = allowed(request, "approve")
        if not csv_path or not zip_path:
            raise InputError("Upload the CSV and ZIP of the job and run it first.")
        rows, _, options, key = _job(csv_path, zip_path, n, channel_name, overwrite, request)
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
    def run(csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, request: gr.Request = None) -> str:
        return export_job(kind, csv_path, zip_path, n, channel_name, overwrite, request)

    return run


def export_job(kind: str, csv_path, zip_path, n=SAMPLING.n, channel_name=DEFAULT_CHANNEL, overwrite=False, request: gr.Request = None) -> str:
    """The job's drafted products (best draft and its listing) as a file a shop imports; each goes in as a draft."""
    with user_errors("exporting the bulk results"):
        user = allowed(request, "export")
        if not csv_path or not zip_path:
            raise InputError("Upload the CSV and ZIP of the job and run it first.")
        rows, _, _, key = _job(csv_path, zip_path, n, channel_name, overwrite, request)
        done = job_store().finished(key, len(rows))
        if len(done) < len(rows):
            raise InputError(f"The job is not finished ({len(done)} of {len(rows)} products): run it first.")
        items = [export_item(r.id, parse_keywords(r.keywords), r.best_draft, r.listing) for _, r in sorted(done.items()) if r.status == "ok"]
        if not items:
            raise InputError("No drafted product to export: run the job first.")
        name, ext = SHOP_FILES[kind]
        workspace(request).audit.record(user, "export", f"bulk job {key[:12]} as {kind}", after={"products": len(items)})
        return str(write_shop_file(kind, items, output_folder() / f"{name}-bulk.{ext}"))
