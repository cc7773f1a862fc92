"""Sample-and-rank: the drafts shown are the best distinct candidates, by the editor score or the checker's rules."""

import json

import pytest

from ecomcopy.checker import DraftChecker
from ecomcopy.config import EDITOR_SCORE_PATH
from ecomcopy.editor_score import EditorScore, draft_features, shipped_editor_score
from ecomcopy.ranking import best_drafts, draft_rank
from ecomcopy.review import review_draft
from ecomcopy.review import overlap_matrix
from ecomcopy.sampler import Draft

CHECKER = DraftChecker.from_texts(["Mug in white stoneware with a handle.", "Mug in white stoneware with a handle."])
KW = ["Mug", "White", "Stoneware"]


def test_clean_beats_flagged_and_fluency_breaks_ties():
    flagged = Draft("Mug in white stoneware with a wide handle, for tea, coffee and cocoa: holds 330 ml.", -0.2)  # unsupported
    clumsy = Draft("Mug in white stoneware with handle for the drinks that you like.", -2.5)
    fluent = Draft("Mug in white stoneware with a comfortable handle.", -0.9)
    short = Draft("A cup for your morning coffee.", -0.1)  # clean, no keyword: coverage does not rank (see review.rank)
    ranked = best_drafts([flagged, clumsy, short, fluent], 4, KW, CHECKER, max_words=16)
    assert ranked == [short.text, fluent.text, clumsy.text, flagged.text]
    assert draft_rank(fluent, KW, CHECKER) > draft_rank(clumsy, KW, CHECKER)


def test_drafts_are_cut_to_whole_sentences_and_a_run_on_ranks_last():
    rambling = Draft("Mug in white stoneware with a handle. Glazed inside and out. It has a saucer, a lid and a spoon "
                     "and a handle at the top and the bottom.", -1.5)
    run_on = Draft("Mug in white stoneware with a handle that is glazed inside and out and sits well in the hand.", -0.1)
    clumsy = Draft("Mug in white stoneware with handle for the drinks that you like.", -2.5)
    shown = best_drafts([run_on, rambling, clumsy], 3, KW, CHECKER, max_words=12)
    assert shown == ["Mug in white stoneware with a handle. Glazed inside and out.", clumsy.text, run_on.text]
    assert best_drafts([rambling], 1, KW, CHECKER) == [rambling.text]  # 0: no limit


def test_returns_n_distinct_drafts():
    a = Draft("Mug in white stoneware with a comfortable handle.", -0.5)
    near = Draft("Mug in white stoneware with a comfortable handle!", -0.6)  # the same draft again
    b = Draft("Stoneware mug in white, glazed inside and out.", -0.8)
    c = Draft("White mug in stoneware for tea and coffee.", -1.0)
    shown = best_drafts([a, near, b, c], 2, KW, CHECKER)  # all clean: the LM's log-probability orders them
    assert shown == [a.text, b.text]
    assert len(set(best_drafts([a, near, b, c], 4, KW, CHECKER, ranking="editor")) & {a.text, near.text}) == 1
    assert all(x < 0.8 for i, row in enumerate(overlap_matrix(best_drafts([a, near, b, c], 4, KW, CHECKER)))
               for j, x in enumerate(row) if i != j)
    assert len(best_drafts([a, near], 3, KW, CHECKER)) == 1  # fewer distinct ones than asked: never padded


def test_a_list_number_or_a_size_is_no_draft():
    """Seen in the drafts shown on dev: "1." and "L." were clean, short and probable, so they ranked first."""
    number = Draft("1. Mug in white stoneware with a handle. Glazed inside and out, and dishwasher safe too.", -0.2)
    size = Draft("L.", -0.05)
    figure = Draft("4/5.0.", -0.1)
    clumsy = Draft("Mug in white stoneware with handle for the drinks that you like.", -2.5)
    for ranking in ("editor", "rules"):
        shown = best_drafts([size, figure, number, clumsy], 4, KW, CHECKER, max_words=12, ranking=ranking)
        assert set(shown[:2]) == {"1. Mug in white stoneware with a handle.", clumsy.text}  # the number stays with its sentence
        assert set(shown[2:]) == {"L.", "4/5.0."}  # shown only when nothing else is left


def test_the_editor_score_puts_keyword_lists_and_invented_figures_last():
    fluent = Draft("Mug in white stoneware with a comfortable handle.", -0.9)
    invented = Draft("Mug in white stoneware with a wide handle, for tea, coffee and cocoa: holds 330 ml.", -0.2)
    stuffed = Draft("White Mug, Stoneware mug, white stoneware Mug.", -0.1)  # the LM finds it likeliest
    pasted = Draft("Mug Stoneware White mug with mug handle stoneware.", -0.3)
    shown = best_drafts([stuffed, invented, pasted, fluent], 4, KW, CHECKER, max_words=16, ranking="editor")
    assert shown[:2] == [fluent.text, invented.text]
    assert set(shown[2:]) == {stuffed.text, pasted.text}
    long_one = Draft("Mug in white stoneware with a comfortable handle that sits well in the hand and keeps tea warm.", -0.1)
    assert best_drafts([long_one, stuffed], 2, KW, CHECKER, max_words=12, ranking="editor")[0] == stuffed.text  # the limit first


def test_the_shipped_editor_score_ranks_held_out_reads_better_than_the_rules():
    """Its record (`bench/fit_editor_score.py`): fitted on one split's reads, measured on the other's."""
    score = shipped_editor_score()
    assert score is not None and set(score.weights) == set(draft_features(review_draft("A mug.", KW, "", CHECKER)))
    for row in score.record["within_product_auc_held_out"].values():
        assert row["clean, then the editor score"] > row["rule order (shipped)"] > 0.5
    assert all(score.weights[flag] <= 0 for flag in ("non_words", "unsupported", "contradictions", "stuffing"))
    assert score.record["fitted_on"]["drafts"] > 1000


def test_an_editor_score_saves_and_loads(tmp_path):
    score = EditorScore(weights={"words": -1.0}, mean={"words": 10.0}, scale={"words": 5.0}, bias=0.5, record={"l2": 1})
    score.save(tmp_path / "s.json")
    again = EditorScore.load(tmp_path / "s.json")
    assert again == score and json.loads((tmp_path / "s.json").read_text())["bias"] == 0.5
    review = review_draft("Mug in white stoneware.", KW, "", CHECKER)  # 4 words: (4 - 10) / 5 = -1.2 standardised
    assert again(review) == pytest.approx(0.5 + 1.2) and 0.5 < again.usable_chance(review) < 1
    assert EDITOR_SCORE_PATH.exists()  # shipped: `--ranking editor` ranks by it


def test_an_unknown_ranking_is_a_clear_error():
    from ecomcopy.config import SamplingConfig
    from ecomcopy.errors import InputError

    assert SamplingConfig(ranking="editor").validate().ranking == "editor"
    with pytest.raises(InputError, match="Ranking must be one of: rules, editor"):
        SamplingConfig(ranking="best").validate()
