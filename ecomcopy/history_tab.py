"""The History tab's handlers: the approvals table, re-opening and deleting an approval, and exports (written
to a folder of ours that is cleaned of day-old files)."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from .config import OUTPUTS_MAX_AGE_S
from .errors import EcomcopyError
from .exports import items_from_approvals, write_shop_file
from .session import allowed, user_errors, workspace
from .workspace import Workspace

HISTORY_HEADERS = ["#", "approved (UTC)", "by", "keywords", "final description", "reference", "in catalog"]


def history_rows(ws: Workspace, query: str = "") -> list[list]:
    """The approvals of a workspace (the team's, or a demo visitor's own), newest first."""
    try:
        items = ws.approvals.list(query or "")
    except EcomcopyError as e:
        raise gr.Error(str(e), print_exception=False) from None
    by = ws.audit.approvers([a.id for a in items])
    return [[a.id, time.strftime("%Y-%m-%d %H:%M", time.gmtime(a.created_at)), by.get(a.id, ""), ", ".join(a.keywords), a.final,
             a.reference.get("id") or "", "yes" if a.product_id else "no"] for a in items]


def _approval_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise gr.Error("Type the number (#) of an approval from the table.", print_exception=False) from None


def history_page(query: str = "", request: gr.Request = None) -> list[list]:
    """The History table for the page: any signed-in user who may still draft may read it."""
    with user_errors("reading the history"):
        allowed(request, "draft")
        ws = workspace(request)
    return history_rows(ws, query)


def reopen(approval_id, request: gr.Request = None):
    """Back to the Write tab with the approval's photo, keywords and text."""
    with user_errors("opening the approval"):
        allowed(request, "draft")
        a = workspace(request).approvals.get(_approval_id(approval_id))
    photo = a.photo if a.photo and Path(a.photo).is_file() else None
    return gr.Tabs(selected="write"), photo, ", ".join(a.keywords), a.final, f"Re-opened approval #{a.id}: write new drafts or edit the text."


def delete(approval_id, query="", request: gr.Request = None):
    with user_errors("deleting the approval"):
        user = allowed(request, "delete")
        aid, ws = _approval_id(approval_id), workspace(request)
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
        ws = workspace(request)
        ws.audit.record(allowed(request, "export"), "export", f"approvals as {kind}" + (f" matching {query!r}" if query else ""))
        folder = output_folder()
        store = ws.approvals
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if kind == "csv":
            return str(store.export_csv(folder / f"approvals-{stamp}.csv", query or ""))
        if kind == "json":
            return str(store.export_json(folder / f"approvals-{stamp}.json", query or ""))
        approvals = store.list(query or "", limit=1_000_000)
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
        return _entry_rows(workspace(request), 500)


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
