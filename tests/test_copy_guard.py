"""The word-level copy guard: no draft holds 8 reference words in a row, whatever their case or punctuation."""

import pytest
import torch

REF = "Soft top in cotton jersey with a round neckline and short sleeves. Fitted at the waist, 40 denier."


@pytest.fixture(scope="module")
def tokenizer(pipeline):
    return pipeline.lm.tokenizer  # the shipped LM's (Qwen2.5's byte-level BPE)


def test_copies_marks_the_eighth_word_and_its_prefixes(tokenizer):
    from ecomcopy.constraints import WordRunGuard

    g = WordRunGuard(tokenizer, REF)
    assert g.copies("Nice. Soft top in cotton jersey with a round")  # 8 words
    assert g.copies("SOFT top, in cotton-jersey with a R")  # re-cased, re-punctuated, beginning the 8th word
    assert not g.copies("Soft top in cotton jersey with a ")  # 7 words, the 8th not begun
    assert not g.copies("Soft top in cotton jersey with a square")  # another 8th word
    assert not g.copies("Soft top in cotton jersey with")
    assert g.copies("neckline and short sleeves. FITTED at the w")  # across sentences, as metrics.copies counts
    assert not WordRunGuard(tokenizer, "Too short to copy.").runs


def test_a_copying_model_is_turned_aside_at_the_eighth_word(tokenizer):
    """A scorer that always prefers the reference's next token writes the reference with a word changed
    every eighth word: no 8-word run, while 7-word runs (shared phrasing) stay allowed."""
    from ecomcopy.constraints import WordRunGuard
    from ecomcopy.metrics import copied_run, copies

    guard = WordRunGuard(tokenizer, REF)
    ref_ids = tokenizer(" " + REF, add_special_tokens=False).input_ids
    filler = tokenizer(" lovely", add_special_tokens=False).input_ids[0]
    out, pos = torch.empty(1, 0, dtype=torch.long), 0
    while pos < len(ref_ids):
        scores = torch.full((1, len(tokenizer)), -5.0)
        scores[0, ref_ids[pos]], scores[0, filler] = 10.0, 5.0
        nxt = guard(out, scores).argmax(-1)
        out = torch.cat([out, nxt[:, None]], dim=1)
        pos += 1  # the copier moves on either way, as if it had written a synonym
    text = tokenizer.decode(out[0])
    assert "lovely" in text and not copies(REF, text) and copied_run(REF, text, n=7)


def test_sampling_config_refuses_an_unknown_guard():
    from ecomcopy.errors import InputError
    from ecomcopy.config import SamplingConfig

    with pytest.raises(InputError, match="Copy guard"):
        SamplingConfig(copy_guard="characters").validate()


def test_plain_prompt_writer_is_guarded_too(pipeline):
    """Given the reference's own keywords, the frozen LM repeats the reference's description word for word;
    with the reference passed to the sampler it may not."""
    from ecomcopy.config import SamplingConfig
    from ecomcopy.sampler import prompt_drafts
    from ecomcopy.metrics import copies
    from ecomcopy.prompt import icl_prompt

    kw = ["Top", "White", "Solid"]
    prompt = icl_prompt(kw, REF, kw)
    cfg = SamplingConfig(n=1, max_new_tokens=40, seed=0, keyword_boost=0)
    free = pipeline.on_model_thread(prompt_drafts, pipeline.lm, prompt, cfg, greedy=True)
    guarded = pipeline.on_model_thread(prompt_drafts, pipeline.lm, prompt, cfg, greedy=True, reference=REF)
    assert copies(REF, free[0].text)  # the failure the guard exists for
    assert guarded and not copies(REF, guarded[0].text)


def test_constraints_order_and_repetition_limit(tokenizer):
    """The repetition limit (on words, or transformers' processor on tokens) runs before the copy guard, which
    must see the final candidates; without a reference or a limit there is nothing to apply."""
    from transformers import NoRepeatNGramLogitsProcessor

    from ecomcopy.constraints import WordRepeatGuard, WordRunGuard
    from ecomcopy.errors import InputError
    from ecomcopy.config import SamplingConfig
    from ecomcopy.constraints import KeywordBoost, logit_rules

    rules = logit_rules(tokenizer, SamplingConfig(no_repeat=4), reference=REF)
    assert rules.boost is None and [type(p) for p in rules.hard] == [WordRepeatGuard, WordRunGuard]
    rules = logit_rules(tokenizer, SamplingConfig(no_repeat=4, no_repeat_unit="tokens"), ["satin"], REF)
    assert isinstance(rules.boost, KeywordBoost) and [type(p) for p in rules.hard] == [NoRepeatNGramLogitsProcessor, WordRunGuard]
    assert logit_rules(tokenizer, SamplingConfig(no_repeat=0)) is None
    assert logit_rules(tokenizer, SamplingConfig(no_repeat=0, keyword_boost=0), ["satin"]) is None  # emphasis off
    ids = torch.tensor([[5, 6, 7, 5, 6]])
    tokens = SamplingConfig(no_repeat=3, no_repeat_unit="tokens")
    assert logit_rules(tokenizer, tokens)(ids, torch.zeros(1, len(tokenizer)))[0, 7] == -float("inf")
    with pytest.raises(InputError, match="repetition"):
        SamplingConfig(no_repeat=1).validate()


def test_repeat_guard_counts_words_not_tokens(tokenizer):
    from ecomcopy.constraints import WordRepeatGuard

    g = WordRepeatGuard(tokenizer, 3)
    assert g.breaks("Top with a zip. Trousers with a z")  # "with a zip" again, begun
    assert g.breaks("Top with a zip. Trousers WITH A ZIP.")  # re-cased, punctuated: the same words
    assert not g.breaks("Top with a zip. Trousers with a ")  # the third word not begun
    assert not g.breaks("Top with a zip. Trousers with a button")
    assert not g.breaks("jersey jersey")  # a run shorter than n is not a repeat of n words


def test_repeat_guard_stops_a_looping_model(tokenizer):
    """A scorer that always prefers to write its first sentence again is turned aside within n words."""
    from ecomcopy.constraints import WordRepeatGuard

    loop = tokenizer(" Soft top with a zip.", add_special_tokens=False).input_ids
    filler = tokenizer(" lovely", add_special_tokens=False).input_ids[0]
    guard = WordRepeatGuard(tokenizer, 3)
    out = torch.empty(1, 0, dtype=torch.long)
    for step in range(3 * len(loop)):
        scores = torch.full((1, len(tokenizer)), -5.0)
        scores[0, loop[step % len(loop)]], scores[0, filler] = 10.0, 5.0
        out = torch.cat([out, guard(out, scores).argmax(-1)[:, None]], dim=1)
    text = tokenizer.decode(out[0])
    ws = text.lower().replace(".", " ").split()
    runs = [tuple(ws[i : i + 3]) for i in range(len(ws) - 2)]
    assert "lovely" in text and len(runs) == len(set(runs))
