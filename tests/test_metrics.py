import pytest

from ecomcopy.metrics import bleu4, copies, distinct_n, keyword_coverage, keyword_covered, rouge_l


def test_rouge_l_hand_computed():
    # LCS of "a b c d" and "a c d e" is "a c d" (3 words): P = R = 3/4, F1 = 0.75
    assert rouge_l("a b c d", "a c d e") == pytest.approx(0.75)
    assert rouge_l("soft cotton top", "soft cotton top") == pytest.approx(1.0)
    assert rouge_l("soft cotton top", "wooden bowl") == 0.0


def test_bleu4_identical_and_disjoint():
    ref = ["the quick brown fox jumps over the lazy dog"]
    assert bleu4(ref, ref) == pytest.approx(1.0)
    assert bleu4(ref, ["completely different words here now"]) == pytest.approx(0.0, abs=1e-6)


def test_distinct_n_hand_computed():
    # bigrams: (a b) (b c) | (a b) (b d) -> 3 unique of 4
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(0.75)
    assert distinct_n(["a b c d e", "f g h i j"], 4) == 1.0
    assert distinct_n(["same words here", "same words here"], 3) == 0.5
    assert distinct_n(["hi"], 4) == 0.0


def test_keyword_coverage_stems_and_lowercases():
    draft = "Fitted dress in black jersey with puffed sleeves."
    assert keyword_covered("Puff sleeve", draft) is False  # "puff" != stem of "puffed"
    assert keyword_covered("black", draft) and keyword_covered("Dresses", draft) and keyword_covered("sleeves", draft)
    assert keyword_coverage(["Dress", "Black", "Denim", "!!!"], draft) == pytest.approx(2 / 3)
    assert keyword_coverage([], draft) == 1.0


def test_copies_eight_word_runs():
    ref = "Relaxed-fit joggers in stretch cotton twill with an elasticated drawstring waist."
    assert copies(ref, "Black joggers in stretch cotton twill with an elasticated waist.")  # 8-word run shared
    assert not copies(ref, "Black jeggings in stretch denim with an elasticated drawstring waist.")


def test_perplexity_prefers_sentences_to_keyword_lists(pipeline):
    from ecomcopy.fluency import perplexity

    sentence = "Ankle-length jeans in washed cotton denim with a high waist and a zip fly."
    stuffed = "Ankle-length jeans high waist trousers solid light blue denim cotton washed zip fly."
    scrambled = " ".join(reversed(sentence.split()))
    assert perplexity(pipeline.lm, [sentence]) < perplexity(pipeline.lm, [stuffed]) < perplexity(pipeline.lm, [scrambled])
    both = perplexity(pipeline.lm, [sentence, scrambled])  # pooled over tokens, not averaged over texts
    assert perplexity(pipeline.lm, [sentence]) < both < perplexity(pipeline.lm, [scrambled])
    assert perplexity(pipeline.lm, ["", "x"]) != perplexity(pipeline.lm, ["", "x"])  # nothing to score: NaN
