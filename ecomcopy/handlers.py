"""The app's request handlers for the Write tab and the API: page inputs -> the pipeline -> page updates.

`app.py` lays the page out and wires these to its components; everything a handler decides lives in the
package. The pipeline loads once per process, on its own thread, while the page is built and served
(`session.py`); what the Write tab shows is built in `write_view.py`, the other tabs are in `history_tab.py`,
`review_tab.py` and `bulk_tab.py`.
"""

from __future__ import annotations

import random
import time

import gradio as gr

from .channels import channel as check_channel
from .config import DEFAULT_CHANNEL, DEMO_CATALOG_DB, SAMPLING, SamplingConfig
from .errors import EcomcopyError, InputError
from .history_tab import history_rows
from .listing import listing_for_result
from .listing_view import following, from_page
from .products import read_products
from .request import Progress, Suggestion
from .review_tab import review_decision, save_reopened
from .session import allowed, drafter_loading, get_drafter, get_pipeline, limit, may, user_errors, workspace
from .write_view import WriteView, approving, finished, locked, writing


def sampling(n, temperature, top_p, max_tokens, keyword_boost=SAMPLING.keyword_boost) -> SamplingConfig:
    try:
        return SamplingConfig(n=int(n), temperature=float(temperature), top_p=float(top_p), max_new_tokens=int(max_tokens),
                              keyword_boost=float(keyword_boost))
    except (TypeError, ValueError):
        raise EcomcopyError("Number of drafts, creativity, word choice, maximum length and use of keywords must be numbers.") from None


# -- API endpoints (stable signatures, JSON out) -----------------------------------------------------
def api_generate(image_path, keywords, n=SAMPLING.n, temperature=SAMPLING.temperature, top_p=SAMPLING.top_p,
                 max_tokens=SAMPLING.max_new_tokens, writer="modict", reference_id="", exclude_group="",
                 keyword_boost=SAMPLING.keyword_boost, channel=DEFAULT_CHANNEL, brand="", request: gr.Request = None):
    """Reference + drafts for a photo and keywords, and the listing of the best draft for `channel`; the result
    as JSON (see the README). A generator that shows
    nothing until the end: between its steps Gradio notices a client that has gone and closes it, which stops
    the decoding at the next token instead of keeping the model busy for nobody."""
    with user_errors("writing drafts"):
        may_draft(request)  # a user removed since signing in is refused
        check_channel(channel or DEFAULT_CHANNEL)  # an unknown one is refused before the model runs
        stream = _stream(image_path, keywords, sampling(n, temperature, top_p, max_tokens, keyword_boost), writer, reference_id,
                         exclude_group, request)
        for step in stream:
            if isinstance(step, Suggestion):
                result = step.to_dict()
                yield result | {"listing": listing_for_result(result, channel or DEFAULT_CHANNEL, brand or "")}
            else:
                yield gr.skip()


def api_approve(result, final, chosen="", image_path=None, add_to_catalog=True, listing=None, request: gr.Request = None):
    """Approve a final text (and its listing: fields not sent are built from it) for a result of `generate`;
    returns the stored approval as JSON. Needs the editor role when sign-in is on."""
    return _api_store(result, final, chosen, image_path, add_to_catalog, listing, request, submit=False)


def api_submit(result, final, chosen="", image_path=None, add_to_catalog=True, listing=None, request: gr.Request = None):
    """A writer's text for review, with the fields of /approve; returned as JSON with its status ("submitted")."""
    return _api_store(result, final, chosen, image_path, add_to_catalog, listing, request, submit=True)


def _api_store(result, final, chosen, image_path, add_to_catalog, listing, request, submit: bool) -> dict:
    with user_errors("submitting the text" if submit else "saving the approval"):
        user, ws = allowed(request, "submit" if submit else "approve"), workspace(request)
        ws.check_room()
        return get_pipeline().approve(result, final, chosen or "", image_path, add_to_catalog, listing or None, user, ws.approvals,
                                      submit).to_dict()


def api_review(approval_id, decision, final="", reason="", request: gr.Request = None):
    """An editor's decision on a submitted text: "approve" (with the text edited, or "" to keep it) or "reject"
    with a reason; returns the text as JSON with its new status."""
    if decision not in ("approve", "reject"):
        raise gr.Error('The decision is "approve" or "reject".', print_exception=False)
    return review_decision(request, approval_id, decision == "approve", final, reason).to_dict()


# -- Write tab -----------------------------------------------------------------------------------------
def may_draft(request) -> None:
    """Refuse a user whose role no longer allows drafting, or a demo visitor past their limit, before anything runs."""
    allowed(request, "draft")
    limit(request, "draft")


def _stream(image_path, keywords, cfg: SamplingConfig, writer, reference_id, exclude_group, request):
    """The drafter's stream; a demo visitor's own approved products are searched beside the catalog."""
    ws = workspace(request, create=False) if request is not None else None
    overlay = ws.overlay if ws is not None else None
    return get_drafter().suggest_stream(image_path, keywords, cfg, exclude_group=exclude_group or None, writer=writer or "modict",
                                        reference_id=reference_id or None, overlay=overlay)


def write(image_path, keywords, n, temperature, top_p, max_tokens, writer="modict", keyword_boost=SAMPLING.keyword_boost,
          reference_id="", exclude_group="", state=None, text="", request: gr.Request = None):
    """Streams: the reference panel first, then the drafts as they are written, then their review. `state` holds
    the product's earlier rounds (`write_view`), `text` the description on the page (kept if edited)."""
    t0 = time.time()
    loading = not drafter_loading().done()
    yield WriteView("The models are still loading (a few seconds after a start); your drafts follow…" if loading
                    else "Finding the most similar catalog products…", drafts=gr.update(interactive=False), **locked()).updates()
    with user_errors("writing drafts"):
        stream = _stream(image_path, keywords, sampling(n, temperature, top_p, max_tokens, keyword_boost), writer, reference_id,
                         exclude_group, request)
        for step in stream:
            if isinstance(step, Progress):
                words = sum(len(d.split()) for d in step.partial)
                status = (f"Writing {int(n)} draft(s)… {words} words so far ({time.time() - t0:.1f} s)" if not step.place else
                          f"Waiting for the model: it is writing other people's drafts, and yours are number {step.place} in line "
                          f"({time.time() - t0:.1f} s)…")
                panel = WriteView.reference_panel(step.references, step.chosen_reference, step.reference_used, interactive=False)
                yield WriteView(status, **(locked() | panel), drafts=writing(step.partial, state),
                                claims=gr.update(choices=[], value=[])).updates()
            else:
                yield finished(step, image_path, int(n), state, text).updates()


def write_page(image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, state=None, text="",
               request: gr.Request = None):
    """The Write button and Enter: `write`, for a signed-in user who may still draft."""
    with user_errors("writing drafts"):
        may_draft(request)
    yield from write(image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, state=state, text=text, request=request)


def regenerate_with(reference_id, image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, exclude_group,
                    state=None, text="", request: gr.Request = None):
    """Regenerate, or another reference picked: a new round beside the product's earlier ones."""
    with user_errors("writing drafts"):
        may_draft(request)
    yield from write(image_path, keywords, n, temperature, top_p, max_tokens, writer, keyword_boost, reference_id, exclude_group, state,
                     text, request)


def approve(request: gr.Request, state, final, keep_out, query="", channel_name="", brand="", built=None, *listing_values):
    """Store the edited text with its listing: approved by an editor, submitted for review by a writer (refused
    while the listing breaks a rule of its channel); for a re-opened (or just approved) text, its next version
    (`review_tab`): a second click approves nothing twice. Returns a confirmation, the refreshed history and the
    page's state, which now names the stored text."""
    deleted = None
    if state and state.get("reopened") and not _still_stored(request, state["reopened"]):  # deleted in History meanwhile
        deleted, state = state["reopened"], {k: v for k, v in state.items() if k != "reopened"}
    # the listing panel's fields (for a re-opened text, its stored listing: `history_tab.reopen`)
    with user_errors("saving the approval"):
        listing = from_page(channel_name, brand, following(state, final, channel_name, brand, built, list(listing_values))) if listing_values else None
    if state and state.get("reopened"):
        said, rows = save_reopened(request, int(state["reopened"]), final, query, listing)
        return said, rows, state
    if not state or not state.get("rounds"):
        raise gr.Error((f"#{deleted} was deleted in History. " if deleted else "") + "Write drafts first: an approval records the photo, keywords, reference and drafts.",
                       print_exception=False)
    note = f"#{deleted} was deleted in History: this is a new approval. " if deleted else ""
    with user_errors("saving the approval"):
        submit = not may(request, "approve")  # a writer's text waits for an editor
        user, ws = allowed(request, "submit" if submit else "approve"), workspace(request)
        ws.check_room()
        result, chosen = approving(state, final)  # the draft the final text was edited from, in any round
        a = get_pipeline().approve(result, final, chosen, state.get("photo"), add_to_catalog=not keep_out, listing=listing, user=user,
                                   store=ws.approvals, submit=submit)
    stored = state | {"reopened": a.id}  # the next Approve of this product saves a version; its drafts stay pickable
    if submit:
        gr.Info(f"Submitted #{a.id} for review")
        return f"{note}Submitted as #{a.id}: an editor will approve or reject it, and History shows which.", history_rows(ws, query), stored
    where = "kept out of the catalog" if not a.product_id else (f"added to the catalog as {a.product_id}" if ws.overlay is None else
                                                                "a reference for your later drafts in this session only")
    gr.Info(f"Approved #{a.id}")
    return f"{note}Approved as #{a.id} ({where}).", history_rows(ws, query), stored


def _still_stored(request, approval_id) -> bool:
    with user_errors("saving the approval"):
        store = workspace(request).approvals
    try:
        store.get(approval_id)
    except InputError:
        return False
    return True


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
