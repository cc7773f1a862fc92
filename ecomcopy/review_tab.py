"""The Review tab (sign-in on): the texts writers submitted, each with its photo, keywords and the checker's flags;
an editor opens one by clicking its row and approves it (as it is or edited) or rejects it with a reason. Also
where a re-opened text is saved: an approved one's next version, or a writer's rejected one submitted again."""

from __future__ import annotations

import time
from types import SimpleNamespace

import gradio as gr

from . import review_queue
from .approvals import Approval, ApprovalStore
from .history_tab import clicked, history_rows, thumbnail
from .images import load_image
from .review import review_draft
from .session import allowed, get_pipeline, may, user_errors, workspace

QUEUE_HEADERS = ["#", "submitted (UTC)", "by", "photo", "keywords", "text", "to check"]
QUEUE_TYPES = ["number", "str", "str", "markdown", "str", "str", "str"]


def _flags(a: Approval) -> str:
    flags = review_draft(a.final, a.keywords, a.reference.get("description", ""), get_pipeline().checker).check.flags()
    return "; ".join(flags) or "nothing found"


def queue_rows(request: gr.Request = None) -> list[list]:
    """The texts waiting for review, the longest-waiting first (editors and admins)."""
    with user_errors("reading the review queue"):
        allowed(request, "approve")
        ws = workspace(request)
        items = review_queue.waiting(ws.approvals)
        by = ws.audit.approvers([a.id for a in items], ("submit",))
        return [[a.id, time.strftime("%Y-%m-%d %H:%M", time.gmtime(a.created_at)), by.get(a.id, ""), thumbnail(a),
                 ", ".join(a.keywords), a.final, _flags(a)] for a in items]


def queue_on_open(request: gr.Request = None):
    """The queue, fresh each time an editor opens the tab (a writer sees the note instead: no refusal pops up)."""
    return queue_rows(request) if may(request, "approve") else gr.skip()


def open_text(evt: gr.SelectData, request: gr.Request = None):
    """A clicked row into the review panel: its photo, keywords, text (editable) and flags."""
    with user_errors("opening the text"):
        allowed(request, "approve")
        aid = clicked(evt)
        if aid is None:
            raise gr.Error("Click a row of the queue.", print_exception=False)
        a = workspace(request).approvals.get(aid)
    return (aid, a.photo_file, ", ".join(a.keywords), a.final, f"**To check:** {_flags(a)}", "",
            f"#{a.id}: edit the text if needed, then approve it, or reject it with a reason for its writer.")


def _vectors(a: Approval):
    """The search vectors of a submitted text's product, when it is to join the catalog on approval."""
    if not (a.to_catalog and a.photo_file):
        return None
    return get_pipeline().vectors(load_image(a.photo_file), a.keywords)


def _approve(store: ApprovalStore, aid: int, final: str, user: str, listing: dict | None = None) -> Approval:
    return review_queue.approve(store, aid, final, user, _vectors(store.get(aid)), listing)


def review_decision(request, aid, approve: bool, final: str, reason: str) -> Approval:
    """An editor's decision on a submitted text (the page's and the API's); `final` "" keeps the text."""
    with user_errors("saving the decision"):
        user = allowed(request, "approve" if approve else "reject")
        try:
            aid = int(aid)
        except (TypeError, ValueError):
            raise gr.Error("Click a text of the queue first.", print_exception=False) from None
        store = workspace(request).approvals
        if not approve:
            return review_queue.reject(store, aid, reason, user)
        return _approve(store, aid, final or store.get(aid).final, user)


def decide(approve: bool):
    """The panel's Approve or Reject: the decision, then the queue again (the panel is emptied)."""
    def run(aid, final, reason, request: gr.Request = None):
        a = review_decision(request, aid, approve, final, reason)
        done = f"Approved #{a.id}" + (f" (in the catalog as {a.product_id})" if a.product_id else "") if approve else f"Rejected #{a.id}"
        gr.Info(done)
        return None, None, "", "", "", "", done + ".", queue_rows(request)

    return run


def save_reopened(request, aid: int, final: str, query: str, listing: dict | None = None):
    """Approve on a re-opened text: an approved text's next version, with the page's listing (editors); a rejected or
    waiting text submitted again (writers), or approved (editors)."""
    with user_errors("saving the text"):
        ws = workspace(request)
        a = ws.approvals.get(aid)
        if a.status == "approved":
            new = review_queue.revise(ws.approvals, aid, final, allowed(request, "approve"), listing)
            said = (f"Saved version {new.version} of #{aid}." if new.version != a.version else
                    f"#{aid} is already approved with this text and listing: edit them to save a new version (a new photo or keywords start "
                    "a new product).")
        elif a.status == "submitted" and may(request, "approve"):
            new = _approve(ws.approvals, aid, final, allowed(request, "approve"), listing)
            said = f"Approved #{aid}."
        else:
            new = review_queue.resubmit(ws.approvals, aid, final, allowed(request, "submit"), listing)
            said = (f"#{aid} is already waiting for review with this text: nothing changed." if new == a else
                    f"Submitted #{aid} again: an editor will approve or reject it; History shows the outcome.")
    return said, history_rows(ws, query)


def role_view(request: gr.Request = None):
    """What the signed-in user's role offers: writers submit for review; editors approve and see the queue."""
    editor = may(request, "approve")
    return gr.Button("Approve" if editor else "Submit for review"), gr.Column(visible=editor), gr.Markdown(visible=not editor)


def layout(ui: SimpleNamespace) -> None:
    ui.review_note = gr.Markdown("The review queue is for editors: what you submit waits there, and History shows its outcome.",
                                 visible=False, elem_id="review-note")
    with gr.Column(visible=False) as ui.review_body:
        _panel(ui)


def _panel(ui: SimpleNamespace) -> None:
    gr.Markdown("Texts writers submitted for review. Click a row to open it, edit the text if needed, then approve or reject it.")
    ui.queue_refresh = gr.Button("Refresh the queue", elem_id="queue-refresh")
    ui.queue = gr.Dataframe(elem_id="queue", headers=QUEUE_HEADERS, datatype=QUEUE_TYPES, interactive=False, wrap=True,
                            label="Waiting for review (click a row to open it)")
    ui.rv_id = gr.State(None)
    with gr.Row():
        ui.rv_photo = gr.Image(label="Photo", interactive=False, height=220)
        with gr.Column(scale=2):
            ui.rv_keywords = gr.Textbox(label="Keywords", interactive=False)
            ui.rv_text = gr.Textbox(label="The text (edit before approving if needed)", lines=4, elem_id="review-text")
            ui.rv_flags = gr.Markdown()
    ui.rv_reason = gr.Textbox(label="Reason (needed to reject: the writer reads it)", elem_id="review-reason")
    with gr.Row():
        ui.rv_approve = gr.Button("Approve", variant="primary", elem_id="review-approve")
        ui.rv_reject = gr.Button("Reject", variant="stop", elem_id="review-reject")
    ui.rv_status = gr.Textbox(label="Status", interactive=False, elem_id="review-status")


def wire(ui: SimpleNamespace, demo: gr.Blocks) -> None:
    private = {"api_visibility": "private"}
    panel = [ui.rv_id, ui.rv_photo, ui.rv_keywords, ui.rv_text, ui.rv_flags, ui.rv_reason, ui.rv_status]
    demo.load(role_view, outputs=[ui.approve_btn, ui.review_body, ui.review_note], **private)
    ui.queue_refresh.click(queue_rows, outputs=ui.queue, **private)
    ui.review_tab.select(queue_on_open, outputs=ui.queue, **private)
    ui.queue.select(open_text, outputs=panel, **private)
    for button, approve in ((ui.rv_approve, True), (ui.rv_reject, False)):
        button.click(decide(approve), inputs=[ui.rv_id, ui.rv_text, ui.rv_reason], outputs=[*panel, ui.queue], **private)
