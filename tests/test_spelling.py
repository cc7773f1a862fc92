"""The spelling guard: drafts write only words the draft checker knows."""

import re

import pytest
import torch

from ecomcopy.checker import DraftChecker
from ecomcopy.config import SamplingConfig
from ecomcopy.constraints import logit_rules
from ecomcopy.spelling import SpellingGuard

CATALOG = ["Leggings in soft organic cotton jersey with an elasticated waist.", "A KALLAX shelf unit in white.",
           "KALLAX insert with 2 drawers."]


@pytest.fixture(scope="module")
def checker():
    return DraftChecker.from_texts(CATALOG)


@pytest.mark.parametrize("tail, piece, allowed", [
    (" ribb", " cuffs", False),  # 'ribb' is finished by the space: not a word
    (" ribb", "ed", True),  # ... but 'ribbed' is, so the model may finish it
    (" hem", "net", False),  # no word starts 'hemnet'
    (" Elast", "icated", True),
    (" the", " KALLAX", True),  # the catalog's own words are words
    (" Jergs", " in", True),  # the keywords' words too (see the fixture's keywords)
    (" four", "0", False),  # a word run into a number
    (" women'", "s", True), (" isn", "'t", True), (" hemnais", "'", False), (" strett", "'", False),
    (" soft'", "'", False), (" 3", "D", True),  # a possessive, not a word before it, no run of quotes; "3D"
    ("", " a", True), (". ", "\n", True),
])
def test_allows_a_token_only_when_its_word_is_known_or_can_become_one(checker, tail, piece, allowed):
    guard = SpellingGuard(None, checker, ["Leggings", "Jergs"])
    assert guard.allows(tail, piece) is allowed


def test_bans_the_likely_tokens_that_misspell_and_leaves_a_hopeless_step_alone(tiny_lm, checker):
    tok = tiny_lm.tokenizer
    guard = SpellingGuard(tok, checker, ["Leggings"])
    draft = tok("Soft ribb", return_tensors="pt").input_ids  # (1, t): a draft in the middle of a misspelt word
    bad, good = tok(" cuffs").input_ids[0], tok("ed").input_ids[0]
    scores = torch.zeros(1, len(tok))
    scores[0, bad], scores[0, good] = 10.0, 9.0
    out = guard(draft, scores.clone())
    assert out[0, bad] == -float("inf") and out[0, good] == 9.0 and out.argmax() == good
    hopeless = torch.full((1, len(tok)), -float("inf"))
    hopeless[0, bad] = 1.0  # the only token left misspells: the step is the model's
    assert torch.equal(guard(draft, hopeless.clone()), hopeless)


def test_a_word_that_cannot_be_spelled_on_is_finished_instead(tiny_lm, checker):
    """'hemn' starts only HEMNES (a catalog word): when no likely token spells a word, the draft may only end
    the word it began."""
    tok = tiny_lm.tokenizer
    guard = SpellingGuard(tok, checker.__class__(["hemnes"]), ["Shelf"])
    draft = tok("A white hemn", return_tensors="pt").input_ids
    words = [t for t in range(1000, 20000) if re.fullmatch(r" [a-z]{3,}", tok.decode([t]))][:300]
    scores = torch.zeros(1, len(tok))
    scores[0, words] = 5.0  # the 300 likeliest tokens each begin a new word after "hemn": all misspell
    out = guard(draft, scores)[0]
    allowed = [tok.decode([t]).lower() for t in torch.isfinite(out).nonzero().squeeze(-1).tolist()]
    assert allowed and all("hemnes".startswith("hemn" + a) for a in allowed)


def test_guarded_sampling_writes_far_fewer_non_words(tiny_lm, checker):
    """A random-weight LM writes junk; with the guard, its drafts hold a fraction of the non-words (those left
    are steps where none of the 200 likeliest tokens spells a word, which the guard leaves alone)."""
    from ecomcopy.sampler import decode, stop_ids

    tok = tiny_lm.tokenizer
    prompt = tok("Keywords: leggings, black\nDescription:", return_tensors="pt").input_ids

    def non_words(spelling: bool) -> int:
        count = 0
        for seed in range(3):
            torch.manual_seed(seed)
            rules = logit_rules(tok, SamplingConfig(keyword_boost=0, no_repeat=0, spelling=spelling), ["leggings"], None, checker)
            out, _ = decode(tiny_lm.model, {"input_ids": prompt}, 6, 20, stop_ids(tok), rules=rules, pad_id=tok.pad_token_id or 0)
            count += sum(len(checker.check(d, ["leggings"]).non_words) for d in tok.batch_decode(out, skip_special_tokens=True))
        return count

    unguarded, guarded = non_words(spelling=False), non_words(spelling=True)
    assert unguarded > 20 and guarded < unguarded / 3
    assert logit_rules(tok, SamplingConfig(keyword_boost=0, no_repeat=0), [], None, None) is None  # no checker, no guard


def test_a_possessive_is_a_word_to_the_checker_too(checker):
    assert checker.check("A women's top for children's rooms.", ["Top"]).non_words == []
    assert checker.check("The bunni's top.", ["Top"]).non_words == ["bunni's"]
