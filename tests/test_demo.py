"""Public demo mode (issue 22): each browser session's approvals, History and references private to it, the shared
catalog read-only to visitors, per-visitor limits answered with a message, and sessions that expire. Through the
API of an app started with ECOMCOPY_DEMO=on, and in the browser (two contexts: two visitors)."""

import os
import sqlite3
import time

import pytest

from conftest import ROOT, SHARED, app_process, needs_shared
from ecomcopy.config import AppConfig
from ecomcopy.errors import InputError
from ecomcopy.rate_limit import RateLimited, RateLimiter
from ecomcopy.workspace import SessionWorkspaces

DRAFTS_LIMIT = 6
PHOTO = ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"
KEYWORDS = "mug, white, ceramic, handle"


def test_a_visitor_past_the_limit_is_told_when_to_try_again():
    limiter = RateLimiter(3, 600, "requests for drafts")
    for t in (0, 1, 2):
        limiter.take("visitor", now=t)
    with pytest.raises(RateLimited, match=r"allows 3 requests for drafts per visitor every 10 minutes: please try again in 10 minutes"):
        limiter.take("visitor", now=30)
    limiter.take("another visitor", now=30)  # one visitor's use is not another's
    limiter.take("visitor", now=600)  # the first request has left the window
    with pytest.raises(RateLimited, match="this asks for 4: ask for fewer"):
        limiter.take("a third", units=4, now=0)


def test_demo_mode_is_on_by_default_on_a_space_without_sign_in(tmp_path):
    env = {"ECOMCOPY_DATA": str(tmp_path)}
    assert not AppConfig.from_env(env).demo
    assert AppConfig.from_env(env | {"SPACE_ID": "shop/ecomcopy"}).demo
    assert not AppConfig.from_env(env | {"SPACE_ID": "shop/ecomcopy", "ECOMCOPY_AUTH": "on"}).demo
    assert AppConfig.from_env(env | {"ECOMCOPY_DEMO": "on"}).demo
    with pytest.raises(InputError, match="do not go together"):
        AppConfig.from_env(env | {"ECOMCOPY_DEMO": "on", "ECOMCOPY_AUTH": "on"})
    with pytest.raises(InputError, match="on, off or auto"):
        AppConfig.from_env(env | {"ECOMCOPY_DEMO": "maybe"})


def _approve_text(ws, text):
    return ws.approvals.add(["mug"], {"id": "x"}, [text], text, text, user="local")


def test_sessions_are_private_and_expire(tmp_path, monkeypatch):
    from ecomcopy import workspace

    (tmp_path / "sessions" / "left-by-an-earlier-run").mkdir(parents=True)
    sessions = SessionWorkspaces(tmp_path / "sessions", ("img", "txt"), ttl_s=100, max_sessions=3, max_approvals=2)
    assert not (tmp_path / "sessions" / "left-by-an-earlier-run").exists()  # an earlier run's sessions are gone at start
    clock = [0.0]
    monkeypatch.setattr(workspace.time, "monotonic", lambda: clock[0])
    a, b = sessions.get("tab-a"), sessions.get("tab-b")
    _approve_text(a, "Only in A.")
    assert [x.final for x in a.approvals.list()] == ["Only in A."] and b.approvals.list() == []
    assert b.approvals.delete(1) is False and len(a.approvals) == 1  # B's #1 is not A's
    assert sessions.get("tab-a") is a  # the same session finds its own again
    _approve_text(a, "Second.")
    with pytest.raises(InputError, match="at most 2 approvals"):
        a.check_room()
    folder_a = a.files[1]
    clock[0] = 50
    sessions.get("tab-b")  # B used at 50; A last at 0
    clock[0] = 120
    sessions.get("tab-c")  # A unused for 120 s > ttl: deleted, with its files
    assert not folder_a.exists() and not a.files[0].exists() and len(sessions) == 2
    sessions.get("tab-d"), sessions.get("tab-e")  # a fourth live session: the least recently used (B) goes
    assert len(sessions) == 3 and not b.files[0].exists()
    d = sessions.get("tab-d")
    sessions.drop("tab-d", grace_s=30)  # the page was closed (or its connection dropped): kept 30 s in case it comes back
    clock[0] = 140
    assert sessions.get("tab-d", create=False) is d  # it came back: kept
    sessions.drop("tab-d", grace_s=30)
    clock[0] = 171
    sessions.get("tab-e")
    assert not any(f.exists() for f in d.files) and len(sessions) == 2  # it did not come back
    assert sessions.get("tab-new", create=False) is None and len(sessions) == 2  # reading makes no session
    with pytest.raises(InputError, match="no browser session"):
        sessions.get("")


# -- the app in demo mode --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo-data")
    with app_process(data, ECOMCOPY_DEMO="on", ECOMCOPY_DEMO_DRAFTS=str(DRAFTS_LIMIT)) as url:
        yield url, data


def _shared_catalog(data) -> tuple[int, int]:
    db = sqlite3.connect(data / "catalog.db")
    return db.execute("SELECT COUNT(*) FROM approvals").fetchone()[0], db.execute("SELECT COUNT(*) FROM products").fetchone()[0]


def _generate(client, keywords=KEYWORDS):
    return client.predict(None, keywords, 1, 0.8, 0.9, 20, "modict", "", "", api_name="/generate")


def _bulk_references(client, data) -> list[str]:
    """The reference of each row of a one-product bulk job: the same keywords, and another photo of the same
    product (the approved one, cropped: the very same photo would be skipped as a reference)."""
    import zipfile

    from gradio_client import handle_file
    from PIL import Image

    folder = data / "bulk-input"
    folder.mkdir(exist_ok=True)
    (folder / "rows.csv").write_text(f'id,keywords,image\nm1,"{KEYWORDS}",mug.jpg\n')
    img = Image.open(PHOTO).convert("RGB")
    w, h = img.size
    img.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(folder / "mug.jpg")
    with zipfile.ZipFile(folder / "photos.zip", "w") as z:
        z.write(folder / "mug.jpg", "mug.jpg")
    table, _, _ = client.predict(handle_file(str(folder / "rows.csv")), handle_file(str(folder / "photos.zip")), 1, api_name="/bulk")
    return [row[3] for row in (table["data"] if isinstance(table, dict) else table)]


def _reference_texts(result) -> list[str]:
    return [r["description"] for r in [result["reference"], *result["alternatives"]]]


def test_one_visitors_approval_is_a_reference_for_them_only(demo_app):
    from gradio_client import Client

    url, data = demo_app
    shared = _shared_catalog(data)
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    result = _generate(a)
    mine = "A white mug approved by visitor A only, with a big handle."
    from gradio_client import handle_file

    chosen = (result["drafts"] or [""])[0]  # a 20-token draft of the smallest LM may come out empty: the text is the point
    approved = a.predict(result, mine, chosen, handle_file(str(PHOTO)), True, None, api_name="/approve")
    assert approved["catalog_product_id"] == "session-approved-1"  # it joined visitor A's own references...
    assert _shared_catalog(data) == shared  # ...and nothing of the shared catalog changed
    assert mine in _reference_texts(_generate(a))  # A's next drafts for the same keywords see it
    assert mine not in _reference_texts(_generate(b))  # B's do not
    table = {"a": _bulk_references(a, data), "b": _bulk_references(b, data)}  # and so for bulk jobs
    assert table["a"] == ["session-approved-1"] and table["b"] != ["session-approved-1"]
    assert len(list((data / "sessions" / "db").glob("*.db"))) == 1  # a private database for the visitor who approved


def _write_and_approve(page, keywords: str, text: str, photo=None) -> None:
    """In the Write tab: drafts for the photo and keywords, then `text` approved as this session's #1."""
    if photo is not None:
        page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#keywords textarea").fill(keywords)
    page.locator("#write").click()
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    page.locator("#chosen textarea").fill(text)
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #1')")


@needs_shared
def test_two_browser_sessions_cannot_see_or_delete_each_others_approvals(demo_app):
    from test_browser import ARTIFACTS, browser_pages

    url, data = demo_app
    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    with browser_pages(url, 2) as (a, b):
        _write_and_approve(a, "Leggings, Black, Solid", "Black leggings that only visitor A approved.", photo)
        assert "this session only" in a.locator("#approve-status textarea").input_value()
        b.get_by_role("tab", name="History").click()
        b.locator("#approval-id textarea").fill("1")
        b.locator("#delete-approval").click()  # B has approved nothing: A's #1 is not B's to delete
        b.get_by_text("You have no approvals in this session yet").first.wait_for()
        b.get_by_role("tab", name="Write").click()
        _write_and_approve(b, "mug, white", "A white mug that only visitor B approved.")
        for page in (a, b):
            page.get_by_role("tab", name="History").click()
            page.locator("button", has_text="Search / refresh").click()
        a.wait_for_function("() => document.querySelector('#history')?.innerText.includes('only visitor A approved')")
        b.wait_for_function("() => document.querySelector('#history')?.innerText.includes('only visitor B approved')")
        assert "only visitor A approved" not in b.locator("#history").inner_text()  # each sees their own #1 only
        assert "only visitor B approved" not in a.locator("#history").inner_text()
        b.locator("#approval-id textarea").fill("1")
        b.locator("#delete-approval").click()  # B's "#1" is B's own
        b.wait_for_function("() => (document.querySelector('#history-status textarea')?.value || '').startsWith('Deleted approval #1')")
        a.screenshot(path=str(ARTIFACTS / "demo-visitor-a.png"), full_page=True)
        b.screenshot(path=str(ARTIFACTS / "demo-visitor-b.png"), full_page=True)
        a.locator("button", has_text="Search / refresh").click()
        a.wait_for_timeout(1000)
        assert "only visitor A approved" in a.locator("#history").inner_text()  # A's #1 is untouched
    # the pages are closed: Gradio's unload event schedules their sessions' deletion
    log = data / "app.log"
    for _ in range(40):
        if log.read_text().count("a demo page closed") >= 2:
            break
        time.sleep(0.5)
    assert log.read_text().count("a demo page closed") >= 2


def test_past_the_limit_a_visitor_gets_a_message_not_an_error_page(demo_app):
    from test_browser import browser_pages

    url, _ = demo_app
    with browser_pages(url, 1) as (page,):
        page.locator("#keywords textarea").fill("mug, white")
        for _ in range(DRAFTS_LIMIT + 1):  # the earlier tests used some of the limit: write until it is reached
            page.locator("#write").click()
            page.wait_for_function("() => { const s = document.querySelector('#status textarea')?.value || ''; "
                                   "return s.includes('draft(s) in') || document.body.innerText.includes('This public demo allows'); }")
            if "This public demo allows" in page.locator("body").inner_text():
                break
            page.evaluate("() => { document.querySelector('#status textarea').value = ''; }")
        else:
            pytest.fail("the limit was never reached")
        assert "please try again in" in page.locator("body").inner_text()
        assert page.locator("#write").is_visible()  # the page is still there to use
    with pytest.raises(Exception, match="This public demo allows"):
        from gradio_client import Client

        _generate(Client(url, verbose=False))  # the API answers with the same message


def test_a_visitor_cannot_read_the_shared_catalog_files(demo_app):
    import httpx

    url, data = demo_app
    for path in [data / "catalog.db", data / "users.db", *(data / "sessions" / "db").glob("*.db")]:
        assert httpx.get(f"{url}gradio_api/file={path}").status_code in (403, 404)
    assert os.stat(data / "sessions").st_mode & 0o077 == 0
