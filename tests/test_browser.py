"""The whole copy-editor flow in a real browser (Debian's headless Chromium driven by Playwright).

Screenshots of every step go to test-artifacts/browser/.
"""

import csv
import os
import shutil
from contextlib import contextmanager

import pytest

from conftest import ROOT, SHARED

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@contextmanager
def browser_pages(url: str, n: int = 1, ready: bool = True):
    """n pages of the app, each in its own browser context (its own cookies and Gradio session: another visitor);
    `ready`: wait for the page's photo input (not for a sign-in page)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True) for _ in range(n)]
        pages = [c.new_page() for c in contexts]
        for pg in pages:
            pg.set_default_timeout(120_000)
            pg.goto(url)
            if ready:
                pg.wait_for_selector("#photo input[type=file]", state="attached")
        try:
            yield pages
        finally:
            for c in contexts:
                c.close()
            browser.close()


@pytest.fixture(scope="module")
def page(app_url):
    with browser_pages(app_url) as (pg,):
        yield pg


def _shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _draft(label) -> str:
    """A draft's text in the draft list (its review is the line under it)."""
    return label.inner_text().split("\n")[0].strip()


def test_write_pick_edit_approve_find_export(page, tmp_path):
    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    page.wait_for_selector("#photo input[type=file]", state="attached")
    _shot(page, "01-empty")
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#keywords textarea").fill("Leggings, Black, Solid, soft jersey")
    page.locator("#write").click()
    # the reference appears, then the drafts
    page.wait_for_function("() => document.querySelector('#ref-description textarea')?.value.length > 0")
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    _shot(page, "02-drafts")
    labels = page.locator("#drafts label")
    assert labels.count() >= 1
    assert all("keywords: " in labels.nth(i).inner_text() and " characters" in labels.nth(i).inner_text() for i in range(labels.count()))
    labels.nth(labels.count() - 1).click()  # pick the last draft
    picked = _draft(labels.nth(labels.count() - 1))
    page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=picked)
    final = picked + " Approved in the browser test."
    page.locator("#chosen textarea").fill(final)
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    _shot(page, "03-approved")
    page.get_by_role("tab", name="History").click()
    page.wait_for_function("(t) => document.querySelector('#history')?.innerText.includes(t)", arg="Approved in the browser test.")
    _shot(page, "04-history")
    page.locator("#export-csv").click()
    link = page.locator("#export-file a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    path = tmp_path / "export.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert any(r["final"] == final and r["chosen"] == picked for r in rows)  # the draft picked, before the edit
    _shot(page, "05-exported")
    page.locator("#history [role=gridcell]", has_text="Approved in the browser test.").first.click()  # a row opens by click
    page.wait_for_function("(t) => (document.querySelector('#history-detail textarea')?.value || '').endsWith(t)", arg=final)
    assert page.locator("#history-detail textarea").input_value().startswith("#")  # its number, status and keywords first
    _shot(page, "05b-history-row-opened")
    page.locator("#reopen").click()  # Edit in Write
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Opened #')")
    assert page.locator("#chosen textarea").input_value() == final
    assert page.locator("#drafts label").count() == 0  # no drafts of another product beside it


def test_flags_claims_and_no_reference_notice(page):
    """A product unlike anything in the catalog: the page says the drafts have no reference, the review names
    each draft's flags, and unticking a claim strikes it from the editable text."""
    page.reload()  # a fresh page: no photo
    page.wait_for_selector("#keywords textarea")
    page.locator("#keywords textarea").fill("Laptop battery, Lithium-ion, Black, 4400 mAh")
    page.get_by_text("Settings", exact=True).first.click()  # the Write tab's settings (the footer has one too)
    page.locator("#n-drafts input[type=number]").fill("8")  # the most drafts: the likelier one has a claim to strike
    page.locator("#n-drafts input[type=number]").press("Enter")
    page.locator("#write").click()
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    assert "No similar product in your catalog" in page.locator("#ref-title textarea").input_value()
    assert "photo and keywords only" in page.locator("#status textarea").input_value()
    labels = page.locator("#drafts label")
    assert all("to check" in labels.nth(i).inner_text() for i in range(labels.count()))  # "to check: …" or "nothing to check"
    for i in range(labels.count()):  # the first draft with a claim to check
        labels.nth(i).click()
        page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=_draft(labels.nth(i)))
        if page.locator("#claims input[type=checkbox]").count():
            break
    _shot(page, "06-no-reference-flags-claims")
    boxes = page.locator("#claims label")
    if boxes.count():  # drafts are sampled: a round without any claim leaves the striking to test_checker.py
        claim = boxes.first.inner_text().split(":")[0].strip()
        before = page.locator("#chosen textarea").input_value()
        boxes.first.click()
        page.wait_for_function("(t) => document.querySelector('#chosen textarea').value !== t", arg=before)
        assert claim.lower() not in page.locator("#chosen textarea").input_value().lower()
        _shot(page, "07-claim-struck")


XSS = "<img src=x onerror=window.__xss=1>"


def test_hostile_text_is_shown_as_text_never_run(page, app_url):
    """Markup typed as keywords or as the final text is shown literally in the Write tab and in History."""
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app_url)
    photo = next((ROOT / "assets" / "catalog" / "images").iterdir())
    page.wait_for_selector("#photo input[type=file]", state="attached")
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#keywords textarea").fill(f"Dress, Black, {XSS}, <script>alert('keywords')</script>")
    page.locator("#write").click()
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    first = page.locator("#drafts label").first
    first.click()  # picking a draft fills the text box; the edit comes after
    page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=_draft(first))
    final = f"A black dress. {XSS.replace('=1', '=2')} <script>alert('final')</script>"
    page.locator("#chosen textarea").fill(final)
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    page.get_by_role("tab", name="History").click()
    page.wait_for_function("(t) => document.querySelector('#history')?.innerText.includes(t)", arg="A black dress.")
    _shot(page, "06-hostile-text")
    history = page.locator("#history").inner_text()
    assert XSS in history and XSS.replace("=1", "=2") in history  # shown as the text it is
    assert page.evaluate("() => window.__xss") is None and not dialogs
    assert page.locator("#history img[src='x']").count() == 0


def test_a_listing_for_ebay_is_checked_fixed_approved_and_exported_for_shopify(page, tmp_path):
    from ecomcopy.exports import SHOPIFY_COLUMNS

    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    page.get_by_role("tab", name="Write").click()
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#keywords textarea").fill("Leggings, Black, soft jersey, listingcheck")
    page.locator("#write").click()
    page.wait_for_function("() => (document.querySelector('#listing-tags textarea')?.value || '').includes('listingcheck')")
    page.locator("#channel input").click()
    page.get_by_role("option", name="eBay").click()
    page.wait_for_function("() => document.querySelector('#check-title').innerText.includes('of 80')")
    title = page.locator("#listing-title textarea")
    assert title.input_value().startswith("Leggings, Black")  # the attributes, not the marketing words
    title.fill("Leggings, Black, soft jersey, high waist, for yoga, running, the gym and every day, in every size you need")
    page.wait_for_function("() => document.querySelector('#check-title').innerText.includes('eBay allows 80')")
    _shot(page, "06-listing-violation")
    page.locator("#approve").click()
    page.get_by_text("Fix it before approving").first.wait_for()  # refused: the channel would reject it
    page.locator("#rebuild-title").click()  # that field alone, the others kept
    page.wait_for_function("() => document.querySelector('#check-title').innerText.includes('✓')")
    assert not title.input_value().endswith("you need")
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    _shot(page, "07-listing-approved")
    page.get_by_role("tab", name="History").click()
    page.locator("#export-shopify").click()
    page.wait_for_function("() => [...document.querySelectorAll('#export-file a')].some(a => (a.href || '').includes('shopify-products'))")
    link = page.locator("#export-file a[href*='shopify-products']").first
    with page.expect_download() as dl:
        link.click()
    path = tmp_path / "shopify.csv"
    dl.value.save_as(path)
    with path.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == SHOPIFY_COLUMNS
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    mine = [r for r in rows if "listingcheck" in r["Tags"]]
    assert len(mine) == 1 and mine[0]["Title"] == title.input_value() and mine[0]["Status"] == "draft"
    assert mine[0]["Body (HTML)"].startswith("<p>")
    _shot(page, "08-shopify-export")
