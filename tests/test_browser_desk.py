"""The editor's desk in a real browser (issue 24): keyboard, stale results, rounds of drafts, one approval per
click, Bulk's messages and full rows, and the phone-sized page. Screenshots go to test-artifacts/browser/."""

import zipfile

import pytest

from conftest import ROOT
from test_browser import _draft, _shot, browser_pages


@pytest.fixture(scope="module")
def page(app_url):
    with browser_pages(app_url) as (pg,):
        yield pg


def test_enter_writes_a_double_click_approves_once_and_a_new_photo_marks_the_results(page, pipeline):
    """Issue 24's first behaviours: Enter in the keywords writes drafts; an edit survives picking another draft; a
    double click on Approve makes one approval,
    and Approve again saves a version, not a second product; a new photo clears the drafts of the last product and
    disables Approve until drafts for it exist, keeping the edited text."""
    page.reload()
    page.wait_for_selector("#photo input[type=file]", state="attached")
    assert page.locator("#approve").is_disabled()  # nothing to approve yet
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"))
    page.locator("#keywords textarea").fill("mug, white, stoneware")
    page.locator("#keywords textarea").press("Enter")  # writes the drafts (Shift+Enter would add a line)
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    labels = page.locator("#drafts label")
    texts = [_draft(labels.nth(i)) for i in range(2)]
    labels.nth(0).click()
    page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=texts[0])
    page.locator("#chosen textarea").fill("My own edit of the first draft.")
    labels.nth(1).click()  # another draft: the edit is kept as its own choice, not lost
    page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=texts[1])
    page.locator("#drafts label", has_text="Your edit: My own edit of the first draft.").click()
    page.wait_for_function("() => document.querySelector('#chosen textarea').value === 'My own edit of the first draft.'")
    before = len(pipeline.approvals)
    page.locator("#chosen textarea").fill("A white stoneware mug, approved once.")
    page.locator("#approve").dblclick()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    page.wait_for_timeout(2000)  # a second approval, if any, would be written by now
    assert len(pipeline.approvals) == before + 1
    number = page.locator("#approve-status textarea").input_value().split("#")[1].split(" ")[0]
    page.locator("#approve").click()  # the same text again: nothing new
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').includes('already approved')")
    page.locator("#chosen textarea").fill("A white stoneware mug, approved once, then edited.")
    page.locator("#chosen textarea").press("Control+Enter")  # the keyboard's Approve
    page.wait_for_function("(n) => (document.querySelector('#approve-status textarea')?.value || '') === `Saved version 2 of #${n}.`", arg=number)
    assert len(pipeline.approvals) == before + 1 and pipeline.approvals.get(int(number)).version == 2
    _shot(page, "08-approved-then-a-version")
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "tests" / "corpus" / "images" / "rgba.png"))  # another product
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('The photo or keywords changed')")
    assert page.locator("#approve").is_disabled()
    mine = "A white stoneware mug, approved once, then edited."
    assert page.locator("#chosen textarea").input_value() == mine  # kept in its box; it and the earlier edit are all the list holds
    assert [_draft(page.locator("#drafts label").nth(i)) for i in range(page.locator("#drafts label").count())] == [
        f"✎ Your earlier text: {t}" for t in ("My own edit of the first draft.", mine)]
    _shot(page, "09-new-photo-results-marked")


def test_drafts_of_an_earlier_round_can_be_picked_after_regenerate(page, pipeline):
    """Regenerate adds a round above the first; the first round's drafts and the writer's edit stay in the list, and
    approving a text edited from a first-round draft records that draft and its round."""
    page.reload()
    page.wait_for_selector("#photo input[type=file]", state="attached")
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"))
    page.locator("#keywords textarea").fill("mug, white, stoneware")
    page.locator("#write").click()
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    labels = page.locator("#drafts label")
    first_round = [_draft(labels.nth(i)) for i in range(labels.count())]
    page.locator("#chosen textarea").fill("My own edit, before regenerating.")
    page.locator("#regenerate").click()
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('Earlier rounds are below')")
    listed = [labels.nth(i).inner_text() for i in range(labels.count())]
    assert "Round 2" in listed[0] and any("Round 1" in t for t in listed)  # newest round first, the first one kept
    assert any(t.startswith("✎ Your edit: My own edit, before regenerating.") for t in listed)  # the edit was not lost
    _shot(page, "13-two-rounds")
    page.locator("#chosen textarea").fill("My second edit, before pressing Enter.")
    page.locator("#keywords textarea").press("Enter")  # the same keywords: a third round of the same product
    page.wait_for_function("() => document.querySelector('#write').disabled && document.querySelector('#regenerate').disabled")  # held
    page.wait_for_function("() => [...document.querySelectorAll('#drafts label')].some((l) => l.innerText.includes('Round 3'))")
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('Earlier rounds are below')")
    listed = [labels.nth(i).inner_text() for i in range(labels.count())]
    assert any(t.startswith("✎ Your edit: My second edit, before pressing Enter.") for t in listed)
    assert any(t.startswith("✎ Your edit: My own edit, before regenerating.") for t in listed) and any("Round 1" in t for t in listed)
    older = next(i for i, t in enumerate(listed) if "Round 1" in t)
    picked = _draft(labels.nth(older))
    assert picked in first_round
    labels.nth(older).click()
    page.wait_for_function("(t) => document.querySelector('#chosen textarea').value === t", arg=picked)
    page.locator("#chosen textarea").fill(picked + " Picked from the first round.")
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    number = int(page.locator("#approve-status textarea").input_value().split("#")[1].split(" ")[0])
    stored = pipeline.approvals.get(number)
    assert stored.chosen == picked and picked in stored.drafts  # the draft the text came from, with its own round's drafts
    page.locator("#examples tbody tr").first.click()  # an example is another product: this one's rounds go, the writer's texts stay
    page.wait_for_function("() => [...document.querySelectorAll('#drafts label')].every((l) => l.innerText.startsWith('✎'))")
    assert page.locator("#approve").is_disabled()


def test_a_history_row_opens_by_click_and_an_approval_deleted_meanwhile_is_approved_anew(page, pipeline):
    """History: a row click opens its text and readies its number; deleting the approval the Write tab still holds
    does not leave Approve stuck: the next Approve says so and makes a new approval."""
    page.reload()
    page.wait_for_selector("#photo input[type=file]", state="attached")
    page.locator("#photo input[type=file]").set_input_files(str(ROOT / "tests" / "corpus" / "images" / "cmyk.jpg"))
    page.locator("#keywords textarea").fill("mug, white, stoneware")
    page.locator("#keywords textarea").press("Enter")
    page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
    page.locator("#chosen textarea").fill(" ")
    page.locator("#approve").click()  # refused (nothing to approve): the inputs and round buttons it held come back
    page.get_by_text("There is no text to approve").first.wait_for()
    page.wait_for_function("() => !document.querySelector('#write').disabled && !document.querySelector('#keywords textarea').disabled")
    page.locator("#chosen textarea").fill("A mug for the History test.")
    page.locator("#approve").click()
    page.wait_for_function("() => (document.querySelector('#approve-status textarea')?.value || '').startsWith('Approved as #')")
    number = page.locator("#approve-status textarea").input_value().split("#")[1].split(" ")[0]
    page.get_by_role("tab", name="History").click()
    page.wait_for_function("() => document.querySelector('#history')?.innerText.includes('A mug for the History test.')")
    page.locator("#history [role=gridcell]", has_text="A mug for the History test.").first.click()
    page.wait_for_function("() => (document.querySelector('#history-detail textarea')?.value || '').endsWith('A mug for the History test.')")
    assert page.locator("#approval-id textarea, #approval-id input").first.input_value() == number
    assert page.locator("#history-photo img").count() == 1  # its photo beside it
    _shot(page, "15-history-row-opened")
    page.locator("#delete-approval").click()
    page.wait_for_function("() => !document.querySelector('#history')?.innerText.includes('A mug for the History test.')")
    page.get_by_role("tab", name="Write").click()
    page.locator("#chosen textarea").fill("A mug for the History test, approved again.")
    page.locator("#approve").click()
    page.wait_for_function("(n) => (document.querySelector('#approve-status textarea')?.value || '').startsWith(`#${n} was deleted in History: "
                           "this is a new approval. Approved as #`)", arg=number)
    again = int(page.locator("#approve-status textarea").input_value().split("Approved as #")[1].split(" ")[0])
    assert pipeline.approvals.get(again).final == "A mug for the History test, approved again."


def test_bulk_without_files_or_with_a_wrong_one_says_so_plainly(page, tmp_path):
    page.reload()
    page.get_by_role("tab", name="Bulk").click()
    page.get_by_role("button", name="Write drafts for all").click()
    page.wait_for_function("() => (document.querySelector('#bulk-status textarea')?.value || '').startsWith('Upload both files first')")
    assert page.locator(".error").count() == 0  # no red "Error" badges
    _shot(page, "10-bulk-without-files")
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:  # a CSV without its image column, beside a good ZIP
        z.write(ROOT / "tests" / "corpus" / "images" / "cmyk.jpg", "cmyk.jpg")
    (tmp_path / "products.csv").write_text("id,keywords\nx-1,mug\n")
    page.locator("#bulk-csv input[type=file]").set_input_files(str(tmp_path / "products.csv"))
    page.locator("#bulk-zip input[type=file]").set_input_files(str(tmp_path / "photos.zip"))
    page.get_by_role("button", name="Write drafts for all").click()
    page.wait_for_selector("text=The CSV lacks the column(s) image")  # what is wrong and what it needs
    assert page.get_by_text("server log").count() == 0


def test_a_bulk_row_opens_in_full_by_click_and_the_job_uses_its_own_settings(page, tmp_path):
    photos = sorted((ROOT / "assets" / "catalog" / "images").iterdir())[:2]
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        for p in photos:
            z.write(p, p.name)
    (tmp_path / "products.csv").write_text("id,keywords,image\n" + "".join(f"bulk-{i},Top Black jersey,{p.name}\n" for i, p in enumerate(photos)))
    page.reload()
    page.get_by_role("tab", name="Bulk").click()
    page.locator("#bulk-csv input[type=file]").set_input_files(str(tmp_path / "products.csv"))
    page.locator("#bulk-zip input[type=file]").set_input_files(str(tmp_path / "photos.zip"))
    page.get_by_text("Settings for this job").click()
    page.locator("#bulk-creativity input[type=range]").wait_for()  # the accordion's sliders are drawn
    page.locator("#bulk-creativity input[type=number]").fill("0.5")
    page.locator("#bulk-creativity input[type=number]").press("Enter")
    page.locator("#bulk-creativity input[type=number]").blur()
    page.wait_for_function("() => Number(document.querySelector('#bulk-creativity input[type=range]').value) === 0.5")  # the slider took it
    page.get_by_role("button", name="Write drafts for all").click()
    page.wait_for_function("() => (document.querySelector('#bulk-status textarea')?.value || '').includes('product(s) drafted')")
    assert "creativity 0.50" in page.locator("#bulk-status textarea").input_value()  # the tab's own setting, said
    page.locator("#bulk-table [role=gridcell]", has_text="bulk-1").first.click()
    page.wait_for_function("() => (document.querySelector('#bulk-detail textarea')?.value || '').startsWith('bulk-1: ')")
    assert "Best draft:" in page.locator("#bulk-detail textarea").input_value()
    _shot(page, "14-bulk-row-in-full")


def test_a_phone_sized_page_has_no_sideways_scroll(page):
    """At 390 x 844 (a phone) the Write tab fits the screen's width, and History's and Bulk's tables scroll in their own frame
    with readable columns; screenshots at both sizes are kept."""
    page.reload()
    page.wait_for_selector("#photo input[type=file]", state="attached")
    _shot(page, "11-desktop-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_timeout(500)
        page.locator("#keywords textarea").fill("mug, white")
        page.locator("#keywords textarea").press("Enter")
        page.wait_for_function("() => (document.querySelector('#status textarea')?.value || '').includes('draft(s) in')")
        _shot(page, "12-phone-390x844")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1
        button, drafts = page.locator("#write").bounding_box(), page.locator("#drafts").bounding_box()
        assert 0 <= drafts["y"] - (button["y"] + button["height"]) < 844 / 2  # the drafts come right under the button
        assert drafts["width"] > 300  # each draft and its review read across the screen, not a letter a line
        for tab, table in (("History", "#history"), ("Bulk", "#bulk-table")):  # the tables scroll in their frame, columns readable
            page.get_by_role("tab", name=tab).click()
            page.wait_for_selector(f"{table} table")
            _shot(page, f"12-phone-390x844-{tab.lower()}")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1, tab
            cells = f"{table} th, {table} [role=gridcell]"
            narrowest = page.evaluate(f"() => Math.min(...[...document.querySelectorAll('{cells}')].map((c) => c.offsetWidth))")
            assert narrowest >= 45, (tab, narrowest)  # no column squeezed to a letter a line
        page.get_by_role("tab", name="Write").click()
    finally:
        page.set_viewport_size({"width": 1280, "height": 1400})
