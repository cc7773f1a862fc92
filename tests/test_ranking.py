"""Sample-and-rank: the drafts shown are the best distinct candidates, clean ones first."""

from ecomcopy.checker import DraftChecker
from ecomcopy.ranking import best_drafts, draft_rank
from ecomcopy.review import overlap_matrix
from ecomcopy.sampler import Draft

CHECKER = DraftChecker.from_texts(["Mug in white stoneware with a handle.", "Mug in white stoneware with a handle."])
KW = ["Mug", "White", "Stoneware"]


def test_clean_beats_flagged_and_fluency_breaks_ties():
    flagged = Draft("Mug in white stoneware. Holds 330 ml of tea.", -0.2)  # an unsupported specific
    clumsy = Draft("Mug in white stoneware with handle for the drinks that you like.", -2.5)
    fluent = Draft("Mug in white stoneware with a comfortable handle.", -0.9)
    missing = Draft("A cup for your morning coffee.", -0.1)  # clean, but no keyword
    ranked = best_drafts([flagged, clumsy, missing, fluent], 4, KW, CHECKER)
    assert ranked == [fluent.text, clumsy.text, missing.text, flagged.text]
    assert draft_rank(fluent, KW, CHECKER) > draft_rank(clumsy, KW, CHECKER)


def test_returns_n_distinct_drafts():
    a = Draft("Mug in white stoneware with a comfortable handle.", -0.5)
    near = Draft("Mug in white stoneware with a comfortable handle!", -0.6)  # the same draft again
    b = Draft("Stoneware mug in white, glazed inside and out.", -0.8)
    c = Draft("White mug in stoneware for tea and coffee.", -1.0)
    shown = best_drafts([a, near, b, c], 2, KW, CHECKER)
    assert shown == [a.text, b.text]
    assert all(x < 0.8 for i, row in enumerate(overlap_matrix(best_drafts([a, near, b, c], 4, KW, CHECKER)))
               for j, x in enumerate(row) if i != j)
    assert len(best_drafts([a, near], 3, KW, CHECKER)) == 1  # fewer distinct ones than asked: never padded
