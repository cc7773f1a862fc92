"""The review queue (issue 22): a writer's text waits for an editor, who approves it (edited or not) or rejects it with
a reason; an approved text's edits are versions; each decision is in the audit trail with the text before and after,
and is taken once however many clicks race for it. On the store, through the API of an app with sign-in on, and in
the browser (a writer and an editor, each signed in in their own browser context)."""

import sqlite3
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import PASSWORDS, ROOT, signed_in
from ecomcopy import review_queue
from ecomcopy.approvals import ApprovalStore
from ecomcopy.audit import AuditTrail
from ecomcopy.catalog import Catalog
from ecomcopy.errors import InputError

PHOTO = ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"


@pytest.fixture
def store(tmp_path):
    catalog = Catalog(tmp_path / "catalog.db", create=True)
    return ApprovalStore(catalog, tmp_path / "photos")


def _vectors():
    rng = np.random.default_rng(0)
    return rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)


def _submit(store, text="A white mug.", **kw):
    return store.add(["mug", "white"], {"id": "ref"}, [text, "Another draft."], text, text, "modict", user="wendy", status="submitted",
                     image=Image.new("RGB", (32, 32), (250, 250, 250)), **kw)


def test_an_editor_approves_a_writers_text_once_however_many_clicks(store):
    a = _submit(store)
    assert (a.status, a.product_id) == ("submitted", None)  # waiting: in no catalog yet
    assert [x.id for x in review_queue.waiting(store)] == [a.id]
    clicks = []

    def click():
        try:
            clicks.append(review_queue.approve(store, a.id, "A white mug, edited by the editor.", "ed", _vectors()))
        except InputError as e:
            clicks.append(e)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approved = [c for c in clicks if not isinstance(c, Exception)]
    assert len(approved) == 1 and all("already approved" in str(c) for c in clicks if isinstance(c, Exception))
    a = store.get(a.id)
    assert (a.status, a.final, a.product_id) == ("approved", "A white mug, edited by the editor.", f"approved-{a.id}")
    assert store.catalog.get(a.product_id).description == a.final  # it joined the catalog with the edited text
    trail = [(e.user, e.action, e.before, e.after) for e in AuditTrail(store.catalog).entries()][::-1]
    assert trail == [("wendy", "submit", None, {"final": "A white mug.", "keywords": ["mug", "white"]}),
                     ("ed", "approve", {"final": "A white mug."}, {"final": "A white mug, edited by the editor.", "keywords": ["mug", "white"]})]
    assert review_queue.waiting(store) == []


def test_an_edited_text_is_what_its_listing_exports(store):
    from ecomcopy.exports import items_from_approvals

    a = _submit(store, listing={"title": "White Mug", "description": "A white mug.", "bullets": ["Ceramic"],
                                   "seo_title": "White Mug", "meta_description": "A white mug.", "tags": ["mug"], "channel": "shopify"})
    review_queue.approve(store, a.id, "A white mug, edited.", "ed", _vectors())
    assert store.get(a.id).listing["description"] == "A white mug, edited."
    review_queue.revise(store, a.id, "A white mug, edited twice.", "ed")
    (item,) = items_from_approvals([store.get(a.id)])
    assert item.listing.description == "A white mug, edited twice." and item.listing.title == "White Mug"


def test_a_rejected_text_goes_back_with_its_reason_and_can_be_submitted_again(store):
    a = _submit(store, to_catalog=False)
    with pytest.raises(InputError, match="Say why"):
        review_queue.reject(store, a.id, "  ", "ed")
    r = review_queue.reject(store, a.id, "Mugs are stoneware in our shop, not ceramic.", "ed")
    assert (r.status, r.reason) == ("rejected", "Mugs are stoneware in our shop, not ceramic.")
    with pytest.raises(InputError, match="already rejected"):
        review_queue.approve(store, a.id, r.final, "ed")
    again = review_queue.resubmit(store, a.id, "A white stoneware mug.", "wendy")
    assert (again.status, again.reason, again.final) == ("submitted", "", "A white stoneware mug.")
    assert review_queue.resubmit(store, a.id, "A white stoneware mug.", "wendy") == again  # a second click: no second entry
    done = review_queue.approve(store, a.id, again.final, "ed", _vectors())
    assert done.product_id is None  # its writer kept it out of the catalog
    actions = [(e.user, e.action) for e in AuditTrail(store.catalog).entries()][::-1]
    assert actions == [("wendy", "submit"), ("ed", "reject"), ("wendy", "submit"), ("ed", "approve")]


def test_an_approved_texts_edits_are_versions_with_before_and_after(store):
    a = store.add(["mug"], {"id": "ref"}, ["A mug."], "A mug.", "A mug.", "modict", Image.new("RGB", (32, 32)), _vectors(), user="ed")
    v2 = review_queue.revise(store, a.id, "A sturdy mug.", "ed")
    assert (v2.version, v2.final, store.catalog.get(a.product_id).description) == (2, "A sturdy mug.", "A sturdy mug.")
    assert review_queue.revise(store, a.id, "A sturdy mug.", "ed").version == 2  # the same text is no new version
    edit = AuditTrail(store.catalog).entries(1)[0]
    assert (edit.action, edit.before, edit.after) == ("edit", {"final": "A mug.", "version": 1}, {"final": "A sturdy mug.", "version": 2})
    assert len(store) == 1  # a version, not a second approval
    waiting = _submit(store)
    with pytest.raises(InputError, match="not approved"):
        review_queue.revise(store, waiting.id, "Edited before review.", "ed")


def test_exports_hold_approved_texts_only(store, tmp_path):
    import csv

    _submit(store, "Waiting for review.")
    store.add(["mug"], {"id": "ref"}, ["Approved."], "Approved.", "Approved.", "modict", user="ed")
    rows = list(csv.DictReader(store.export_csv(tmp_path / "out.csv").open(encoding="utf-8")))
    assert [r["final"] for r in rows] == ["Approved."]


# -- through the API and the page, with sign-in on -----------------------------------------------
def _rows(data, sql):
    return sqlite3.connect(data / "catalog.db").execute(sql).fetchall()


def test_through_the_api_a_writer_submits_and_an_editor_decides(team_app):
    from gradio_client import handle_file

    url, data = team_app
    writer, editor = signed_in(url, "wendy"), signed_in(url, "ed")
    before = _rows(data, "SELECT COALESCE(MAX(id), 0) FROM audit")[0][0]
    result = writer.predict(None, "mug, white, ceramic", 1, 0.8, 0.9, 24, "modict", "", "", api_name="/generate")
    chosen = (result["drafts"] or [""])[0]  # a 24-token draft of the smallest LM may come out empty: the text is the point
    sent = writer.predict(result, "A white ceramic mug.", chosen, handle_file(str(PHOTO)), True, None, api_name="/submit")
    assert (sent["status"], sent["catalog_product_id"]) == ("submitted", None)
    with pytest.raises(Exception, match="403"):  # HTTP 403: the role is too low
        writer.predict(sent["id"], "approve", "", "", api_name="/review")
    assert _rows(data, f"SELECT status FROM approvals WHERE id = {sent['id']}") == [("submitted",)]  # refused: nothing written
    done = editor.predict(sent["id"], "approve", "A white ceramic mug with a handle.", "", api_name="/review")
    assert (done["status"], done["final"]) == ("approved", "A white ceramic mug with a handle.") and done["catalog_product_id"]
    with pytest.raises(Exception, match="already approved"):
        editor.predict(sent["id"], "approve", "", "", api_name="/review")
    other = writer.predict(result, "A mug.", "", None, False, None, api_name="/submit")
    rejected = editor.predict(other["id"], "reject", "", "Too short: say what it is made of.", api_name="/review")
    assert (rejected["status"], rejected["reason"]) == ("rejected", "Too short: say what it is made of.")
    trail = _rows(data, f"SELECT user, action, target FROM audit WHERE action IN ('submit', 'approve', 'reject') AND id > {before} ORDER BY id")
    assert trail == [("wendy", "submit", f"approval {sent['id']}"), ("ed", "approve", f"approval {sent['id']}"),
                     ("wendy", "submit", f"approval {other['id']}"), ("ed", "reject", f"approval {other['id']}")]


def _sign_in(page, name):
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(PASSWORDS[name])
    page.locator("button", has_text="Login").click()
    page.wait_for_selector("#photo input[type=file]", state="attached")


def test_in_the_browser_a_writer_submits_and_an_editor_approves_by_clicking_its_row(team_app):
    from test_browser import ARTIFACTS, browser_pages

    url, data = team_app
    with browser_pages(url, 2, ready=False) as (writer, editor):  # the sign-in page
        _sign_in(writer, "wendy")
        _sign_in(editor, "ed")
        writer.locator("#photo input[type=file]").set_input_files(str(PHOTO))
        writer.locator("#keywords textarea").fill("vase, white, glazed")
        writer.locator("#write").click()
        writer.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
        assert writer.locator("#approve").inner_text().strip() == "Submit for review"  # a writer cannot approve
        writer.get_by_role("tab", name="Review").click()
        writer.locator("#review-note").wait_for()  # the queue is for editors: a writer is told where outcomes show
        assert not writer.locator("#queue").is_visible()
        writer.get_by_role("tab", name="Write").click()
        writer.locator("#chosen textarea").fill("A white glazed vase, submitted by the writer.")
        writer.locator("#approve").click()
        writer.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Submitted as #')")
        number = writer.locator("#approve-status textarea").input_value().split("#")[1].split(":")[0]
        writer.screenshot(path=str(ARTIFACTS / "review-1-writer-submitted.png"), full_page=True)

        editor.get_by_role("tab", name="Review").click()
        editor.locator("#queue-refresh").click()
        cell = editor.locator("#queue [role=gridcell]", has_text="submitted by the writer").first  # (a hidden copy sizes the columns)
        cell.wait_for()
        editor.screenshot(path=str(ARTIFACTS / "review-2-queue.png"), full_page=True)
        cell.click()  # the row opens in the panel: no number typed
        editor.wait_for_function("() => (document.querySelector('#review-text textarea')?.value || '').includes('submitted by the writer')")
        editor.locator("#review-text textarea").fill("A white glazed vase, approved by the editor.")
        editor.locator("#review-approve").click()
        editor.wait_for_function("() => (document.querySelector('#review-status textarea')?.value || '').startsWith('Approved #')")
        editor.screenshot(path=str(ARTIFACTS / "review-3-approved.png"), full_page=True)

        writer.get_by_role("tab", name="History").click()
        writer.locator("button", has_text="Search / refresh").click()
        writer.wait_for_function("() => document.querySelector('#history')?.innerText.includes('approved by the editor')")
        history = writer.locator("#history").inner_text()
        assert "ed" in history and "approved" in history  # the writer sees the outcome and who decided it
        writer.locator("#history [role=gridcell]", has_text="approved by the editor").first.click()  # a row opens by clicking it
        writer.wait_for_function("() => (document.querySelector('#history-detail textarea')?.value || '').includes('approved by the editor')")
        assert "by ed" in writer.locator("#history-detail textarea").input_value()
        assert writer.locator("#approval-id textarea").input_value() == number  # ready for Edit in Write or Delete
        writer.screenshot(path=str(ARTIFACTS / "review-4-writer-sees-outcome.png"), full_page=True)


def test_approving_a_reopened_text_in_the_page_saves_its_next_version(pipeline):
    from ecomcopy import session
    from ecomcopy.handlers import approve
    from ecomcopy.history_tab import reopen

    store = session.workspace(None).approvals
    a = store.add(["mug"], {"id": "ref"}, ["A mug."], "A mug.", "A mug.", "modict", user="local")
    before = len(store)
    state = reopen(a.id)[4]
    said, rows, state = approve(None, state, "A sturdy mug.", False)
    assert said == f"Saved version 2 of #{a.id}." and len(store) == before  # a version, not a second approval
    assert next(r for r in rows if r[0] == a.id)[4] == "approved (version 2)"
    # the listing panel holds its listing after Edit in Write; an edited title is saved with the next version
    opened = reopen(a.id)
    channel_name, brand, *fields, built = opened[11:]
    assert channel_name == "shopify" and built["title"] == fields[0] and "Mug" in fields[0]  # built for it: none stored
    fields[0] = "Sturdy stoneware mug"
    said, _, state = approve(None, opened[4], "A sturdy mug.", False, "", channel_name, brand, built, *fields)
    stored = store.get(a.id)
    assert said == f"Saved version 3 of #{a.id}." and stored.listing["title"] == "Sturdy stoneware mug"
    assert stored.listing["description"] == "A sturdy mug."
    said, _, _ = approve(None, state, "A sturdy mug.", False, "", channel_name, brand, built, *fields)  # the same again: nothing new
    assert "already approved with this text and listing" in said and store.get(a.id).version == 3
    fields[0] = "x" * 300  # over Shopify's 255 characters: refused, nothing saved
    with pytest.raises(Exception, match="Fix it before approving"):  # gr.Error, as the page shows it
        approve(None, state, "A sturdy mug.", False, "", channel_name, brand, built, *fields)
    assert store.get(a.id).version == 3
    # opened again: the stored title the editor wrote is kept when only the text is edited, and nothing changed is no version
    opened = reopen(a.id)
    channel_name, brand, *fields, built = opened[11:]
    assert fields[0] == "Sturdy stoneware mug" != built["title"]  # "built" is what the text would give: the title counts as edited
    said, _, _ = approve(None, opened[4], "A sturdy mug.", False, "", channel_name, brand, built, *fields)
    assert "already approved" in said and store.get(a.id).version == 3
    said, _, _ = approve(None, opened[4], "A sturdy white mug.", False, "", channel_name, brand, built, *fields)
    assert said == f"Saved version 4 of #{a.id}." and store.get(a.id).listing["title"] == "Sturdy stoneware mug"
    assert store.get(a.id).listing["meta_description"] == "A sturdy white mug."  # an unedited field follows the text
