"""The History tab: the approvals table (with each text's photo, status and who decided it), a clicked row opened in
full, editing it again in the Write tab, deleting it, and exports (written to a folder of ours cleaned of day-old files)."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from .channels import channel
from .config import DEFAULT_CHANNEL, OUTPUTS_MAX_AGE_S
from .errors import EcomcopyError
from .exports import items_from_approvals, write_shop_file
from .approvals import Approval
from .listing import EDITABLE, Listing, build_listing
from .listing_view import as_page
from .session import allowed, own_workspace, user_errors, workspace
from .workspace import Workspace
from .write_view import choices, typed

HISTORY_HEADERS = ["#", "photo", "date (UTC)", "by", "status", "keywords", "final description", "reference", "in catalog"]
HISTORY_TYPES = ["number", "markdown", "str", "str", "str", "str", "str", "str", "str"]
# fixed, in pixels: long texts wrap instead of running off the right; they fill a desktop page, and on a phone the
# table scrolls sideways in its own frame (Gradio turns percentages into a letter-a-line column at 390 px)
HISTORY_WIDTHS = ["48px", "83px", "119px", "71px", "131px", "167px", "357px", "131px", "83px"]


def thumbnail(a: Approval) -> str:
    """A table cell showing a text's stored photo (Markdown; the photo folders are the page's own served paths)."""
    return f"![photo](gradio_api/file={a.photo_file})" if a.photo_file else ""


def status_text(a: Approval) -> str:
    """What became of a text, in the words its writer reads."""
    if a.status == "submitted":
        return "waiting for review"
    if a.status == "rejected":
        return f"rejected: {a.reason}"
    return "approved" + (f" (version {a.version})" if a.version > 1 else "")


def history_rows(ws: Workspace, query: str = "") -> list[list]:
    """The texts of a workspace (the team's, or a demo visitor's own), newest first; "by" is who approved or
    rejected each one, or for a text waiting for review who submitted it: whoever last took one of those steps."""
    try:
        items = ws.approvals.list(query or "")
    except EcomcopyError as e:
        raise gr.Error(str(e), print_exception=False) from None
    by = ws.audit.approvers([a.id for a in items], ("approve", "reject", "submit"))
    return [[a.id, thumbnail(a), time.strftime("%Y-%m-%d %H:%M", time.gmtime(a.created_at)), by.get(a.id, ""), status_text(a),
             ", ".join(a.keywords), a.final, a.reference.get("id") or "", "yes" if a.product_id else "no"] for a in items]


def _approval_id(value) -> int:
    try:
        return int(str(value).strip().lstrip("#"))
    except (TypeError, ValueError):
        raise gr.Error("Click an approval's row in the table first (or type its number).", print_exception=False) from None


def history_page(query: str = "", request: gr.Request = None) -> list[list]:
    """The History table for the page: any signed-in user who may still draft may read it."""
    with user_errors("reading the history"):
        allowed(request, "draft")
        ws = workspace(request, create=False)
    return history_rows(ws, query) if ws is not None else []


def reopen(approval_id, text: str = "", state=None, request: gr.Request = None):
    """Back to the Write tab with the approval's photo, keywords and text: Approve then saves the edited text as its
    next version (or, for a writer's rejected text, submits it again); new drafts start a new product."""
    with user_errors("opening the approval"):
        allowed(request, "draft")
        a = own_workspace(request).approvals.get(_approval_id(approval_id))
        stored = Listing(**a.listing) if a.listing else None
        # "built": what the page would build for this text, so the stored fields the editor had changed stay changed
        fresh = build_listing(a.keywords, a.final, channel(stored.channel if stored else DEFAULT_CHANNEL), stored.brand if stored else "")
        listing, built = stored or fresh, as_page(fresh)
    then = {"approved": f"edit the text or its listing and Approve to save version {a.version + 1}", "submitted": "it is waiting for review",
            "rejected": f"it was rejected ({a.reason}): edit it and submit it again"}[a.status]
    fields = as_page(listing)
    kept = typed(text if text != a.final else "", state)  # nothing typed is lost; the stored text is not "typed" later
    opened = {"reopened": a.id, "result": {"keywords": a.keywords}} | kept | {"former": [*(kept.get("former") or []), a.final]}
    return (gr.Tabs(selected="write"), a.photo_file, ", ".join(a.keywords), a.final, opened,
            gr.Button(interactive=True), f"Opened #{a.id}: {then}. Write drafts to compare new ones with it; a new photo or keywords start a new product.",
            gr.update(choices=choices(opened), value=None), gr.update(choices=[], value=[]),  # the last product's drafts and claims go,
            gr.update(choices=[], value=None), None,  # and its references and result (new drafts search afresh);
            listing.channel, listing.brand, *[fields[f] for f in EDITABLE], built)  # its listing, which Approve saves with the text


def open_row(evt: gr.SelectData, request: gr.Request = None):
    """A click on a History row opens that text in full beside its photo, with its number ready for Edit in Write
    or Delete (nothing on the Write tab changes until Edit in Write)."""
    aid = clicked(evt)
    if aid is None:
        return gr.skip(), gr.skip(), gr.skip()
    with user_errors("opening the approval"):
        allowed(request, "draft")
        ws = own_workspace(request)
        a = ws.approvals.get(aid)
        by = ws.audit.approvers([aid], ("approve", "reject", "submit")).get(aid, "")
    head = f"#{a.id} · {status_text(a)}" + (f" · by {by}" if by else "") + f" · keywords: {', '.join(a.keywords)}"
    return str(aid), a.photo_file, f"{head}\n\n{a.final}"


def clicked(evt: gr.SelectData) -> int | None:
    """The approval number of a clicked table row (History's and the review queue's first column)."""
    row = evt.row_value or []
    return int(row[0]) if row and str(row[0]).isdigit() else None


def delete(approval_id, query="", request: gr.Request = None):
    with user_errors("deleting the approval"):
        user = allowed(request, "delete")
        aid, ws = _approval_id(approval_id), own_workspace(request)
        if not ws.approvals.delete(aid, user):  # recorded in the audit trail in the same transaction
            raise gr.Error(f"There is no approval #{aid}.", print_exception=False)
    return f"Deleted approval #{aid} (and its catalog product).", history_rows(ws, query)


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


SHOP_FILES = {"shopify": ("shopify-products", "csv"), "woocommerce": ("woocommerce-products", "csv"),
              "google": ("google-merchant-feed", "xml")}


def exporter(kind: str):
    """The page's handler of one export button (the signed-in user comes with the request)."""
    def run(query: str = "", request: gr.Request = None) -> str:
        return export(kind, query, request)

    return run


def export(kind: str, query: str = "", request: gr.Request = None) -> str:
    """The approvals (all, or the search's matches) as our own CSV/JSON or as a file a shop imports (`SHOP_FILES`)."""
    with user_errors("exporting"):
        ws = own_workspace(request)
        ws.audit.record(allowed(request, "export"), "export", f"approvals as {kind}" + (f" matching {query!r}" if query else ""))
        folder = output_folder()
        store = ws.approvals
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if kind == "csv":
            return str(store.export_csv(folder / f"approvals-{stamp}.csv", query or ""))
        if kind == "json":
            return str(store.export_json(folder / f"approvals-{stamp}.json", query or ""))
        approvals = store.list(query or "", limit=1_000_000, status="approved")
        if not approvals:
            raise gr.Error(f"No approval matches “{query}”." if query else "No approvals to export yet: approve a description first.",
                           print_exception=False)
        name, ext = SHOP_FILES[kind]
        path = folder / f"{name}-{stamp}.{ext}"
        write_shop_file(kind, items_from_approvals(approvals), path)
        return str(path)




AUDIT_HEADERS = ["#", "when (UTC)", "who", "what", "of", "before", "after"]


def audit_rows(request: gr.Request = None) -> list[list]:
    """The audit trail, newest first, for editors and admins (a writer is refused)."""
    with user_errors("reading the audit trail"):
        allowed(request, "export")
        ws = workspace(request, create=False)
        return _entry_rows(ws, 500) if ws is not None else []


def export_audit(request: gr.Request = None) -> str:
    """The whole audit trail as CSV; the export itself is recorded first."""
    with user_errors("exporting the audit trail"):
        ws = workspace(request)
        ws.audit.record(allowed(request, "export"), "export", "the audit trail")
        path = output_folder() / f"audit-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(AUDIT_HEADERS)
            w.writerows(_entry_rows(ws, None))
        return str(path)


def _entry_rows(ws: Workspace, limit: int | None) -> list[list]:
    def text(value) -> str:
        return json.dumps(value, ensure_ascii=False) if value is not None else ""

    return [[e.id, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.at)), e.user, e.action, e.target, text(e.before), text(e.after)]
            for e in ws.audit.entries(limit or -1)]


def audit_panel() -> SimpleNamespace:
    """History's audit trail: who approved, deleted or exported what, and when (editors and admins)."""
    with gr.Accordion("Audit trail (who approved, deleted or exported what)", open=False):
        panel = SimpleNamespace(table=gr.Dataframe(headers=AUDIT_HEADERS, datatype="str", interactive=False, wrap=True))
        with gr.Row():
            panel.refresh, panel.export = gr.Button("Show / refresh"), gr.Button("Export the audit trail (CSV)")
        panel.file = gr.File(label="Audit trail", interactive=False)
    return panel


def wire_audit(panel: SimpleNamespace) -> None:
    panel.refresh.click(audit_rows, outputs=panel.table, api_visibility="private")
    panel.export.click(export_audit, outputs=panel.file, api_visibility="private")


def layout(ui: SimpleNamespace) -> None:
    with gr.Row():
        ui.query = gr.Textbox(label="Search approvals (keywords, text, reference)", scale=3)
        ui.refresh = gr.Button("Search / refresh", scale=1)
    ui.history = gr.Dataframe(elem_id="history", headers=HISTORY_HEADERS, datatype=HISTORY_TYPES, label="Your texts (click a row to open it)",
                              interactive=False, wrap=True, column_widths=HISTORY_WIDTHS)
    with gr.Row(equal_height=True):
        ui.history_photo = gr.Image(label="Its photo", interactive=False, height=180, elem_id="history-photo", scale=1)
        ui.history_detail = gr.Textbox(label="The text you opened", lines=6, interactive=False, buttons=["copy"], elem_id="history-detail",
                                       scale=4)
    with gr.Row():
        ui.approval_id = gr.Textbox(label="Approval #", placeholder="click a row, or type its number", elem_id="approval-id")
        ui.open_btn = gr.Button("Edit in Write", elem_id="reopen")
        ui.delete_btn = gr.Button("Delete", variant="stop", elem_id="delete-approval")
    ui.history_status = gr.Textbox(label="Status", interactive=False, elem_id="history-status")
    with gr.Row():
        ui.csv_btn = gr.Button("Export CSV", elem_id="export-csv")
        ui.json_btn = gr.Button("Export JSON")
        ui.shop_btns = {kind: gr.Button(label, elem_id=f"export-{kind}") for kind, label in
                        (("shopify", "Shopify CSV"), ("google", "Google Merchant feed"), ("woocommerce", "WooCommerce CSV"))}
    ui.export_file = gr.File(elem_id="export-file", label="Export (approved texts only)", interactive=False)
    ui.audit = audit_panel()


def wire(ui: SimpleNamespace, demo: gr.Blocks) -> None:
    private = {"api_visibility": "private"}
    # filled on each page load, not when the page is built: the page is served while the models (and the
    # working catalog that holds the approvals) still load
    demo.load(history_page, outputs=ui.history, **private)
    ui.refresh.click(history_page, inputs=ui.query, outputs=ui.history, **private)
    ui.query.submit(history_page, inputs=ui.query, outputs=ui.history, **private)
    ui.history.select(open_row, outputs=[ui.approval_id, ui.history_photo, ui.history_detail], **private)
    # it waits while a round is written or Approve saves (`write_view.locked`, `round_buttons`): either's end would
    # overwrite the opened text and state
    ui.open_btn.click(reopen, inputs=[ui.approval_id, ui.chosen, ui.state],
                      outputs=[ui.tabs, ui.photo, ui.keywords, ui.chosen, ui.state, ui.approve_btn, ui.approve_status, ui.drafts, ui.claims,
                               ui.ref_choice, ui.result, ui.channel, ui.brand, *ui.listing_fields, ui.listing_built], **private)
    ui.delete_btn.click(delete, inputs=[ui.approval_id, ui.query], outputs=[ui.history_status, ui.history], **private)
    ui.csv_btn.click(exporter("csv"), inputs=ui.query, outputs=ui.export_file, **private)
    ui.json_btn.click(exporter("json"), inputs=ui.query, outputs=ui.export_file, **private)
    for kind, button in ui.shop_btns.items():
        button.click(exporter(kind), inputs=ui.query, outputs=ui.export_file, **private)
    wire_audit(ui.audit)
