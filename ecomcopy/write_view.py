"""What the Write tab shows of a product's drafts: every round of them (Write, Regenerate, another reference), each
draft with its own review under its text, the writer's own edits, and the claims to check of the picked one.

The page's state for one product is a dict: "rounds" (each a result of `Suggestion.to_dict` and the review line
of each of its drafts), "result" (the newest round's: its keywords build the listing), "edits" (texts the writer
edited and then left for another draft), "photo" and "keywords" (which product it is), and after an approval
"reopened" (its number: the next Approve saves a version). A new photo or new keywords clear it (`stale`). While a
round is written, the description, the draft list and Approve are locked: nothing typed or picked meanwhile is
overwritten by the round's end.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr

from .checker import DraftCheck
from .errors import EcomcopyError
from .keywords import parse_keywords
from .request import Suggestion
from .review import DraftReview
from .search import Hit
from .text import closest, strike

KEEP = object()  # a WriteView field left as it is on the page (gr.skip())
NO_REFERENCE = "No similar product in your catalog: drafts are written from your photo and keywords only."
EDIT_LABEL = "✎ Your edit: "
EARLIER_LABEL = "✎ Your earlier text: "  # typed for the last product, or before these drafts came
STALE = "The photo or keywords changed: these results were for the previous product. Write drafts for this one to approve it."


@dataclass
class WriteView:
    """What one step of writing shows, field by field in the order of `app.py`'s write outputs."""

    status: str
    ref_choice: Any = KEEP
    ref_photo: Any = KEEP
    ref_title: Any = KEEP
    ref_keywords: Any = KEEP
    ref_description: Any = KEEP
    drafts: Any = KEEP
    chosen: Any = KEEP
    claims: Any = KEEP
    result: Any = KEEP
    state: Any = KEEP
    approve_status: Any = KEEP
    approve_btn: Any = KEEP
    listing_built: Any = KEEP  # None: a new product, whose listing keeps no edit made for the last one
    photo: Any = KEEP  # the inputs and the buttons that start a round, locked while a round is written
    keywords: Any = KEEP
    go: Any = KEEP
    regen: Any = KEEP
    open_btn: Any = KEEP  # History's Edit in Write: it waits too (the round's end would overwrite the opened text)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def updates(self) -> tuple:
        return tuple(gr.skip() if (v := getattr(self, name)) is KEEP else v for name in self.names())

    @staticmethod
    def reference_panel(refs: list[Hit], chosen: int, used: bool = True, interactive: bool = True) -> dict:
        """The reference; when none was used, the most similar product, with a notice (none of them is picked).
        While a round is written another reference cannot be picked (`locked`)."""
        p, score = refs[chosen].product, refs[chosen].score
        title = f"{p.name} ({p.id}): similarity {score:.2f}"
        return {
            "ref_choice": gr.update(choices=[(f"{h.product.name} ({h.product.id}) · similarity {h.score:.2f}", h.product.id) for h in refs],
                                    value=p.id if used else None, interactive=interactive),
            "ref_photo": str(p.image_path) if p.image_path and Path(p.image_path).is_file() else None,
            "ref_title": title if used else f"{NO_REFERENCE} The most similar one: {title}. Pick it above to write with it anyway.",
            "ref_keywords": ", ".join(p.keywords),
            "ref_description": p.description,
        }


def review_line(r: DraftReview) -> str:
    """A draft's review in a merchant's words, shown under its text."""
    n = len(r.covered) + len(r.missing)
    parts = [(f"keywords: all {n}" if not r.missing else f"keywords: {len(r.covered)} of {n}, missing {', '.join(r.missing)}")
             if n else "no keywords typed", f"{r.words} words, {r.chars} characters",
             f"copies the reference: “{r.copied}”" if r.copied else "nothing copied from the reference"]
    flags = r.check.flags()
    return " · ".join(parts + ["to check: " + "; ".join(flags) if flags else "nothing to check"])


def new_round(step: Suggestion) -> dict:
    """One round of drafts as the page keeps it: the result, which reference it used, and each draft's review line."""
    ref = step.references[step.chosen_reference].product if step.references and step.reference_used else None
    return {"result": step.to_dict(), "reference": ref.name if ref else "", "lines": [review_line(r) for r in step.reviews]}


def choices(state) -> list[tuple[str, str]]:
    """The draft list: the newest round first, each draft with its review under it ("Round k" when there are
    several), then the writer's own edits."""
    rounds = (state or {}).get("rounds") or []
    out, seen = [], set()
    for k in range(len(rounds), 0, -1):
        r = rounds[k - 1]
        where = f"Round {k}, " + (f"with {r['reference']}" if r["reference"] else "no reference") + " · " if len(rounds) > 1 else ""
        for draft, line in zip(r["result"].get("drafts") or [], r["lines"]):
            if draft not in seen:
                seen.add(draft)
                out.append((f"{draft}\n{where}{line}", draft))
    for label, texts in ((EDIT_LABEL, (state or {}).get("edits")), (EARLIER_LABEL, (state or {}).get("earlier"))):
        for e in texts or []:
            if e not in seen:
                seen.add(e)
                out.append((label + e, e))
    return out


def all_drafts(state) -> list[str]:
    return [d for r in (state or {}).get("rounds") or [] for d in r["result"].get("drafts") or []]


def round_of(state, draft: str) -> dict | None:
    """The result whose drafts hold `draft` (the newest such round), or None."""
    for r in reversed((state or {}).get("rounds") or []):
        if draft in (r["result"].get("drafts") or []):
            return r["result"]
    return None


def approving(state, final: str) -> tuple[dict, str]:
    """The round and draft an approval records: the draft the final text was edited from (by similarity, in any
    round; not whichever was clicked last) and the round that wrote it."""
    chosen = closest(final, all_drafts(state))
    return round_of(state, chosen) or state["rounds"][-1]["result"], chosen


def keep_edit(state: dict, text: str) -> dict:
    """`text` joins the writer's edits unless it is empty, a draft or already kept."""
    text = (text or "").strip()
    edits = list(state.get("edits") or [])
    if text and text not in edits and not any(text in (state.get(k) or []) for k in ("earlier", "former")) and text not in all_drafts(state):
        edits.append(text)
    return state | {"edits": edits}


# what a round holds, in the order `hold` and `unlock` output them (then Approve): the description, the draft list,
# the inputs and whatever starts a round (Write drafts, Regenerate, another reference, History's Edit in Write)
UNLOCKS = ("chosen", "drafts", "photo", "keywords", "ref_choice", "go", "regen", "open_btn")
STARTERS = UNLOCKS[2:]  # what Approve holds while it saves (`round_buttons`)


def locked() -> dict:
    """While a round is written, all of `UNLOCKS` and Approve wait for it (the draft list and the references as the
    round shows them: `writing`, `WriteView.reference_panel`): nothing typed or picked meanwhile is overwritten, no
    second round drops this one's drafts, and the round is for the inputs shown."""
    return {name: gr.update(interactive=False) for name in UNLOCKS if name != "drafts"} | {"approve_btn": gr.Button(interactive=False)}


def unlocked() -> dict:
    """The round's end: what `locked` held, but the draft list, the references and Approve, which the end sets itself."""
    return {name: gr.update(interactive=True) for name in UNLOCKS if name not in ("drafts", "ref_choice")}


def _held(free: bool, approve: bool) -> tuple:
    """All of `UNLOCKS`, then Approve: the outputs of `hold` and `unlock`."""
    return *(gr.update(interactive=free) for _ in UNLOCKS), gr.Button(interactive=approve)


def hold():
    """`locked`, the draft list too, at once: a round waiting in the queue for the model holds the page from the
    click, not from its first words."""
    return _held(False, False)


def round_buttons(free: bool):
    """The inputs and whatever starts a round, held while Approve saves (a round started, or a product changed,
    meanwhile would read the product before the approval and forget that the next Approve saves a version)."""
    return tuple(gr.update(interactive=free) for _ in STARTERS)


def unlock(state):
    """A round that failed or was cancelled: the description, the draft list, the inputs, the round's buttons and
    (with something to approve) Approve again."""
    return _held(True, bool(state and (state.get("rounds") or state.get("reopened"))))


def same_product(state, step: Suggestion, image_path) -> bool:
    """Whether a new round belongs to the product of `state`: it has rounds (or is a re-opened approval) written for
    these keywords and this photo (a round that ends after the product changed starts afresh)."""
    if not state or not (state.get("rounds") or state.get("reopened")):
        return False
    return state.get("keywords") in (None, step.keywords) and state.get("photo") in (None, image_path)


def finished(step: Suggestion, image_path, asked: int, state=None, text: str = "") -> WriteView:
    """A round's drafts join the product's earlier rounds and the first of them goes into the description; an edited
    description of the same product is kept among the choices, not lost (for another product, among the writer's
    earlier texts: `typed`; no draft or round of the last product is carried over)."""
    result = step.to_dict()
    overlap = result["mean_overlap"]
    same = same_product(state, step, image_path)
    source = "with the reference above" if step.reference_used else "from your photo and keywords only (no similar product)"
    status = (f"{len(step.drafts)} draft(s) in {step.seconds:.1f} s, written by "
              f"{'ModICT' if step.writer == 'modict' else 'the plain prompt'} {source}. "
              + (f"How alike the drafts are: {overlap:.2f} (0 = all different, 1 = the same). " if overlap is not None else "")
              + (f"You asked for {asked}: {asked - len(step.drafts)} came out empty or as near-copies of these and were dropped"
                 + (f" (after {step.rounds - 1} more tries). " if step.rounds > 1 else ". ") if len(step.drafts) < asked else "")
              + ("Earlier rounds are below these drafts. " if same and state.get("rounds") else ""))
    state = keep_edit(dict(state), text) if same else typed(text, state)
    state |= {"rounds": [*(state.get("rounds") or []), new_round(step)], "result": result, "keywords": step.keywords, "photo": image_path}
    first = step.drafts[0] if step.drafts else ""
    claims = step.reviews[0].check.claims() if step.reviews else []
    again = (f"Approve saves your text as the next version of #{state['reopened']} (a new photo or keywords start a new product)."
             if state.get("reopened") else "")
    return WriteView(status.strip(), **WriteView.reference_panel(step.references, step.chosen_reference, step.reference_used),
                     drafts=gr.update(choices=choices(state), value=first or None, interactive=True),
                     **unlocked() | ({"chosen": gr.update(value=first, interactive=True)} if first else {}),
                     claims=gr.update(choices=claims, value=[c for _, c in claims]), result=result, state=state, approve_status=again,
                     approve_btn=gr.Button(interactive=True),  # a round written for these inputs: even one without drafts, for a text of their own
                     listing_built=gr.skip() if same else None)


def writing(partial: list[str], state) -> dict:
    """The draft list while a round is written: its drafts so far on top, the earlier rounds and edits below."""
    earlier = choices(state)
    shown = {value for _, value in earlier}
    return gr.update(choices=[(f"{d}\n(writing…)", d) for d in partial if d and d not in shown] + earlier, value=None, interactive=False)


def typed(text: str = "", state=None) -> dict:
    """What a new product's state keeps of the last one: the writer's own texts (its edits, and the description
    when it is neither one of its drafts nor one of an earlier product's, `former`), as "earlier", when another
    product or an approval opened from History takes the page's place; never its drafts."""
    old = state or {}
    former = [*(old.get("former") or []), *all_drafts(old)][-64:]  # the box may still hold one, unedited (the newest kept)
    earlier = [*(old.get("earlier") or []), *(old.get("edits") or [])]
    text = (text or "").strip()
    if text and text not in former:
        earlier.append(text)
    return ({"earlier": list(dict.fromkeys(earlier))} if earlier else {}) | ({"former": former} if former else {})


def _keywords_of(state) -> list[str] | None:
    """The keywords the page's product was written (or approved) for; not `keywords.product_keywords`, a data product's."""
    return (state or {}).get("keywords") or ((state or {}).get("result") or {}).get("keywords")


def stale(text: str = "", state=None):
    """A new photo or changed keywords: the drafts and claims belong to the last product, so they go (with its
    rounds and any approval it was; a round still being written is cancelled) and Approve waits for new drafts. What
    the writer typed is not lost: the description stays, and it and their earlier edits stay in the draft list as
    their own entries (`EARLIER_LABEL`) when the new product's drafts arrive."""
    kept = typed(text, state) or None  # (only "former": nothing typed to show, but the drafts still not "typed")
    # what is locked stays locked: Enter with new keywords sends this beside the round it starts (`hold`)
    return (gr.update(choices=choices(kept), value=None), gr.update(choices=[], value=[]), kept, gr.Button(interactive=False),
            STALE, "New photo or keywords: press Write drafts (the reference shown is the last product's until then). Your "
            "description stays, and it is kept in the draft list when the new drafts arrive.", gr.skip())


def keywords_typed(keywords: str, text: str = "", state=None):
    """Typed keywords: `stale`, unless they are still the product's own (Enter, which writes a round for the same
    product, sends an input event too; a comma or a space more is no new product)."""
    try:
        same = bool(state) and parse_keywords(keywords) == _keywords_of(state)
    except EcomcopyError:
        same = False
    return tuple(gr.skip() for _ in stale()) if same else stale(text, state)


def claims_of(state, draft: str) -> list[tuple[str, str]]:
    """The claims the checker found in one of the product's drafts (any round), as (label, claim)."""
    result = round_of(state, draft) or {}
    drafts, reviews = result.get("drafts") or [], result.get("reviews") or []
    if draft not in drafts or len(reviews) != len(drafts):
        return []
    check = reviews[drafts.index(draft)].get("check") or {}
    return DraftCheck(unsupported=list(check.get("unsupported") or []), contradictions=list(check.get("contradictions") or [])).claims()


def pick(draft: str, state=None, text: str = ""):
    """The picked draft (of any round) into the editable text, with its claims to check, all ticked. An edited text
    there is not lost: it joins the choices as "✎ Your edit" (picking it brings it back)."""
    state = keep_edit(dict(state or {}), text if text != draft else "")
    claims = claims_of(state, draft)
    return draft or "", gr.update(choices=claims, value=[c for _, c in claims]), gr.update(choices=choices(state), value=draft), state


def strike_claims(ticked: list[str], text: str, draft: str, state):
    """An unticked claim is struck from the editable text (`text.strike`) and leaves the list."""
    ticked = ticked or []
    claims = claims_of(state, draft)
    kept = [(label, c) for label, c in claims if c in ticked]
    return strike(text or "", [c for _, c in claims if c not in ticked]), gr.update(choices=kept, value=[c for _, c in kept])
