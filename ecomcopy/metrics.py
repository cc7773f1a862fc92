"""Draft metrics: accuracy against the human description, diversity, grounding, copying.

ROUGE-L comes from rouge-score and BLEU-4 from sacrebleu; the rest are short definitions that no
library states the way the paper and our goals use them, so they are written here and tested on
hand-computed values.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


# rouge-score and its stemmer import all of nltk (scipy.stats, sklearn: ~2 s), so they load on first use, or
# early on a side thread (`load_scorers`) in a process that will need them, like the app.
@lru_cache(maxsize=1)
def _porter():
    from nltk.stem.porter import PorterStemmer  # the stemmer rouge-score uses

    return PorterStemmer()


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def load_scorers() -> None:
    _porter(), _scorer()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _porter().stem(word)


def rouge_l(reference: str, draft: str) -> float:
    """ROUGE-L F1 (longest common subsequence of stemmed words)."""
    return _scorer().score(reference, draft)["rougeL"].fmeasure


def bleu4(references: list[str], drafts: list[str]) -> float:
    """Corpus BLEU-4 (sacrebleu defaults), on a 0-1 scale."""
    import sacrebleu

    return sacrebleu.corpus_bleu(drafts, [references]).score / 100.0


def distinct_n(drafts: list[str], n: int) -> float:
    """Unique n-grams / all n-grams over a set of drafts (of one product): 1.0 when no n-gram repeats."""
    grams = [tuple(w[i : i + n]) for w in map(words, drafts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def keyword_covered(keyword: str, draft: str) -> bool:
    """A keyword is covered when all of its words, stemmed, occur among the draft's stemmed words."""
    kw = {stem(w) for w in words(keyword)}
    return bool(kw) and kw <= {stem(w) for w in words(draft)}


def keyword_coverage(keywords: list[str], draft: str) -> float:
    scored = [k for k in keywords if words(k)]
    return sum(keyword_covered(k, draft) for k in scored) / len(scored) if scored else 1.0


def copied_run(reference: str, draft: str, n: int = 8) -> str | None:
    """The first run of n consecutive words of the reference description that the draft repeats, if any."""
    ref, d = words(reference), words(draft)
    runs = {tuple(ref[i : i + n]) for i in range(len(ref) - n + 1)}
    for i in range(len(d) - n + 1):
        if tuple(d[i : i + n]) in runs:
            return " ".join(d[i : i + n])
    return None


def copies(reference: str, draft: str, n: int = 8) -> bool:
    """True when the draft contains any run of n consecutive words of the reference description."""
    return copied_run(reference, draft, n) is not None
