"""The Write tab's view of a product's drafts: rounds kept across Regenerate, each draft's review under it, edits
never lost, and the approval recording the draft the final text came from (real pipeline, no browser)."""

import gradio as gr
from conftest import ROOT

from ecomcopy.config import SamplingConfig
from ecomcopy.write_view import EARLIER_LABEL, EDIT_LABEL, UNLOCKS, approving, choices, claims_of, finished, hold, keep_edit, keywords_typed, pick, stale, typed, unlock

TEAPOT = "teapot, green, cast iron"  # no browser test approves one: an approval joins the catalog the pipeline fixture shares,
# and as the reference its text is copied into both rounds alike


def _round(pipeline, seed, keywords=TEAPOT, n=2):
    return pipeline.suggest(None, keywords, SamplingConfig(n=n, max_new_tokens=20, seed=seed))


def test_the_status_says_why_drafts_are_fewer_and_each_draft_carries_its_review(pipeline):
    step = _round(pipeline, 0, "mug, white")
    view = finished(step, None, asked=8)  # as if 8 were asked and these came back
    assert f"You asked for 8: {8 - len(step.drafts)} came out empty or as near-copies of these" in view.status
    assert "ROUGE" not in view.status and "(0 = all different, 1 = the same)" in view.status
    labels = [label for label, _ in view.drafts["choices"]]
    assert all(label.split("\n")[1].startswith("keywords: ") for label in labels)  # "keywords: all 2" or "keywords: 1 of 2, missing …"
    assert all(f"{len(d.split())} words, {len(d)} characters" in label for label, d in view.drafts["choices"])
    photo_only = pipeline.suggest(ROOT / "tests" / "corpus" / "images" / "cmyk.jpg", "", SamplingConfig(n=1, max_new_tokens=20, seed=0))
    assert finished(photo_only, None, asked=1).drafts["choices"][0][0].split("\n")[1].startswith("no keywords typed")  # not "0/0"


def test_rounds_stay_pickable_and_an_edit_is_kept_when_a_new_round_comes(pipeline):
    one = finished(_round(pipeline, 0), None, asked=2)
    first_round = one.state["rounds"][0]["result"]["drafts"]
    edited = first_round[0] + " Edited by hand."
    two = finished(_round(pipeline, 1), None, asked=2, state=one.state, text=edited)  # Regenerate, with an edited description
    state = two.state
    assert len(state["rounds"]) == 2 and state["edits"] == [edited]
    listed = dict((value, label) for label, value in choices(state))
    assert all(d in listed for d in first_round) and all(d in listed for d in state["rounds"][1]["result"]["drafts"])
    second = state["rounds"][1]["result"]["drafts"]
    older = [d for d in first_round if d not in second]  # a draft both rounds wrote is listed once, under the newer
    assert older, "both rounds wrote the same drafts: nothing to tell the rounds apart by"
    assert "Round 2" in choices(state)[0][0] and all(listed[d].split("\n")[1].startswith("Round 1") for d in older)
    assert all(listed[d].split("\n")[1].startswith("Round 2") for d in second)
    assert listed[edited] == EDIT_LABEL + edited
    assert two.chosen["value"] == second[0]  # the new round's first draft; the edit is one click away
    # an earlier round's draft is picked, with that round's claims; the text it replaces is kept
    text, claims, drafts, state = pick(older[-1], state, "Another edit.")
    assert text == older[-1] and drafts["value"] == older[-1] and "Another edit." in state["edits"]
    assert claims["choices"] == claims_of(state, older[-1])
    # the approval records the round and draft the final text was edited from, not the last round
    result, chosen = approving(state, older[-1] + " Approved.")
    assert chosen == older[-1] and result is state["rounds"][0]["result"]
    assert stale()[2] is None  # a new photo or keywords: the rounds go with the last product


def test_a_round_of_another_product_starts_afresh_and_a_failed_round_unlocks_the_page(pipeline):
    mug = finished(_round(pipeline, 0), None, asked=2)
    assert mug.listing_built is None  # a new product: its listing is built afresh
    again = finished(_round(pipeline, 1), None, asked=2, state=mug.state, text="An edit of the mug.")
    assert again.listing_built is not None and len(again.state["rounds"]) == 2  # the same product keeps its listing edits
    vase = finished(_round(pipeline, 0, "vase, white, glazed"), None, asked=2, state=again.state, text="An edit of the mug.")
    assert len(vase.state["rounds"]) == 1 and not vase.state.get("edits")  # no round or edit of the mug carried to the vase,
    assert vase.state["earlier"] == ["An edit of the mug."]  # but what the writer typed stays, as their earlier text
    assert vase.listing_built is None and vase.state["keywords"] == ["vase", "white", "glazed"]
    approved = finished(_round(pipeline, 2), None, asked=2, state=mug.state | {"reopened": 7})
    assert approved.approve_status.startswith("Approve saves your text as the next version of #7")
    *unlocked, button = unlock(mug.state)  # the description, drafts, inputs, Write drafts, Regenerate and references
    assert len(unlocked) == len(UNLOCKS) and all(u["interactive"] for u in unlocked) and button.interactive
    assert not unlock(None)[-1].interactive  # nothing to approve yet
    *held, approve_held = hold()  # from the click, History's Edit in Write too (`UNLOCKS`)
    assert not any(u["interactive"] for u in held) and not approve_held.interactive


def test_what_the_writer_typed_outlives_the_product_and_enter_on_its_keywords_keeps_its_rounds(pipeline):
    mug = finished(_round(pipeline, 0), None, asked=2)
    # Enter in the keywords sends an input event too: the same keywords (a comma or space more) are no new product
    for same in ("teapot, green, cast iron", "teapot,green , cast iron, "):
        assert all(u == gr.skip() for u in keywords_typed(same, "x", mug.state))
    edited = mug.state["rounds"][0]["result"]["drafts"][0] + " Edited for the mug."
    drafts, _, kept, button, *_ = keywords_typed("vase, white, glazed", edited, mug.state)  # another product
    assert kept["earlier"] == [edited] and not button.interactive
    assert [label for label, _ in drafts["choices"]] == [EARLIER_LABEL + edited]  # the mug's drafts go, the writer's text stays
    draft = mug.state["rounds"][0]["result"]["drafts"][0]
    once = stale(draft, mug.state)[2]  # an unedited draft is no text of theirs, after one change of product or two
    assert "earlier" not in once and "earlier" not in keywords_typed("vase", draft, once)[2]
    assert choices({"edits": ["Mine."], "earlier": ["Mine."]}) == [(EDIT_LABEL + "Mine.", "Mine.")]  # listed once
    assert not keep_edit(once, draft).get("edits")  # picking an earlier text while the box holds the last product's draft
    many = {"former": [f"Old draft {i}." for i in range(64)], "rounds": mug.state["rounds"]}
    assert draft in typed("", many)["former"]  # the newest drafts are the ones remembered
    vase = finished(_round(pipeline, 0, "vase, white, glazed"), None, asked=2, state=kept, text=edited)
    listed = dict((value, label) for label, value in choices(vase.state))
    assert listed[edited] == EARLIER_LABEL + edited and len(vase.state["rounds"]) == 1
    typed_after = finished(_round(pipeline, 1, "lamp, brass"), None, asked=2, state=stale("", vase.state)[2], text="My lamp text.")
    assert "My lamp text." in typed_after.state["earlier"]  # typed after the change, before the drafts came: kept too
    assert approving(vase.state, "Zebra-striped yak wool rug, hand-knotted in Nepal.")[1] == ""  # written afresh: from no draft
