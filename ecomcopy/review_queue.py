"""The review queue: a writer's text waits for an editor, who approves it (as it is or edited) or rejects it with a
reason the writer reads in History; an approved text edited later becomes its next version.

Each decision and its audit-trail row (with the text before and after an edit) commit in one transaction, and the
status is read again inside it: a text is decided once, however many clicks race for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .approvals import Approval, ApprovalStore, checked_final
from .audit import write_entry
from .errors import InputError
from .channels import channel
from .listing import EDITABLE, Listing, build_listing, listing_from_fields
from .request import approvable_listing

MAX_REASON_CHARS = 1000
_DONE = {"approved": "already approved", "rejected": "already rejected"}


def waiting(store: ApprovalStore, limit: int = 200) -> list[Approval]:
    """The texts waiting for an editor, oldest first (the one waiting longest is reviewed first)."""
    return sorted(store.list(limit=limit, status="submitted"), key=lambda a: a.id)


def approve(store: ApprovalStore, approval_id: int, final: str, user: str,
            vectors: tuple[np.ndarray, np.ndarray] | None = None, listing: dict | None = None) -> Approval:
    """Approve a submitted text, as the editor left it (and its listing's fields, when sent); with `vectors` (its
    photo's and keywords') it joins the catalog, unless its writer kept it out."""
    final = checked_final(final)
    with store.catalog.transaction():
        a = _waiting(store, approval_id)  # read under the lock: a resubmission just before is what is decided on
        store.catalog.execute("UPDATE approvals SET status = 'approved', final = ?, reason = '', listing = ? WHERE id = ?",
                              (final, _stored_listing(a, final, listing), a.id))
        if a.to_catalog and vectors is not None and a.photo:
            store.join_catalog(a.id, a.keywords, final, Path(a.photo), vectors)
        write_entry(store.catalog, user, "approve", f"approval {a.id}", before={"final": a.final} if final != a.final else None,
                    after={"final": final, "keywords": a.keywords})
    return store.get(a.id)


def reject(store: ApprovalStore, approval_id: int, reason: str, user: str) -> Approval:
    """Send a submitted text back to its writer with the reason (required: it is what the writer reads)."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("Say why the text is rejected: the writer reads it in History.")
    if len(reason) > MAX_REASON_CHARS:
        raise InputError(f"The reason is {len(reason):,} characters; keep it under {MAX_REASON_CHARS:,}.")
    with store.catalog.transaction():
        a = _waiting(store, approval_id)
        store.catalog.execute("UPDATE approvals SET status = 'rejected', reason = ? WHERE id = ?", (reason, a.id))
        write_entry(store.catalog, user, "reject", f"approval {a.id}", before={"final": a.final}, after={"reason": reason})
    return store.get(a.id)


def revise(store: ApprovalStore, approval_id: int, final: str, user: str, listing: dict | None = None) -> Approval:
    """An approved text (and, when sent, its listing's fields: `request.approvable_listing`) edited: its next version
    (the catalog product, when it has one, reads the new text); the trail keeps the text before and after. The same
    text and listing again is no new version."""
    final = checked_final(final)
    with store.catalog.transaction():  # read again under the lock: two editors' edits are two versions, in order
        a = store.get(approval_id)
        if a.status != "approved":
            raise InputError(f"#{a.id} is not approved ({a.status}): approve or reject it in the review queue.")
        if _unchanged(a, final, listing):
            return a
        stored = _stored_listing(a, final, listing)
        store.catalog.execute("UPDATE approvals SET final = ?, version = version + 1, listing = ? WHERE id = ?", (final, stored, a.id))
        if a.product_id:
            store.catalog.execute("UPDATE products SET description = ? WHERE id = ?", (final, a.product_id))
        new = json.loads(stored) if stored else None
        before, after = {"final": a.final, "version": a.version}, {"final": final, "version": a.version + 1}
        if listing and new != a.listing:  # the trail keeps the listing's edit too
            before, after = before | {"listing": a.listing}, after | {"listing": new}
        write_entry(store.catalog, user, "edit", f"approval {a.id}", before=before, after=after)
    return store.get(a.id)


def resubmit(store: ApprovalStore, approval_id: int, final: str, user: str, listing: dict | None = None) -> Approval:
    """A writer's text sent back (or still waiting) edited (with its listing's fields, when sent) and submitted
    again; the trail keeps both texts. A waiting text sent unchanged is left as it is (no second entry)."""
    final = checked_final(final)
    with store.catalog.transaction():
        a = store.get(approval_id)
        if a.status == "approved":
            raise InputError(f"#{a.id} is already approved: an editor saves its edits as a new version.")
        if a.status == "submitted" and _unchanged(a, final, listing):
            return a  # a second click, or the same text again: it is already waiting
        store.catalog.execute("UPDATE approvals SET status = 'submitted', final = ?, reason = '', listing = ? WHERE id = ?",
                              (final, _stored_listing(a, final, listing), a.id))
        write_entry(store.catalog, user, "submit", f"approval {a.id}", before={"final": a.final, "reason": a.reason}, after={"final": final})
    return store.get(a.id)


def _waiting(store: ApprovalStore, approval_id: int) -> Approval:
    """The text, read inside the caller's transaction; refused unless it is waiting for review."""
    a = store.get(approval_id)
    if a.status != "submitted":
        raise InputError(f"#{a.id} was {_DONE.get(a.status, a.status)} by another editor or an earlier click; nothing changed.")
    return a


def _stored_listing(a: Approval, final: str, listing: dict | None) -> str:
    """The listing column for a new text: the page's fields checked (`request.approvable_listing`: a blocking rule
    refuses them), or the stored listing with the new text as its description."""
    if not listing:
        return _listing_with(a, final)
    return json.dumps(asdict(approvable_listing(listing, final, a.keywords, a.drafts)), ensure_ascii=False)


def _unchanged(a: Approval, final: str, listing: dict | None) -> bool:
    """Whether the text and (when sent) the listing's fields are what is stored: nothing to save."""
    return final == a.final and (not listing or _same_listing(a, listing))


def _same_listing(a: Approval, listing: dict) -> bool:
    """Whether the page's fields are what is stored (for an approval stored without a listing: what would be built
    for its text, so opening and approving it unchanged saves nothing)."""
    sent = listing_from_fields(listing, a.final, a.keywords, a.drafts)
    stored = Listing(**a.listing) if a.listing else build_listing(a.keywords, a.final, channel(sent.channel), sent.brand)
    return all(getattr(sent, f) == getattr(stored, f) for f in ("channel", "brand", *EDITABLE))


def _listing_with(a: Approval, final: str) -> str:
    """The stored listing with the new text as its description (the shop files export it), or '' for none."""
    return json.dumps(a.listing | {"description": final}, ensure_ascii=False) if a.listing else ""
