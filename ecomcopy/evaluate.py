"""Evaluate ModICT and its baselines on any product folder, with references from the shipped catalog.

Rows: copy the reference's description; the plain in-context prompt on the frozen LM; ModICT without
the reference, with a random reference, without visual tokens, and full. Greedy drafts score accuracy
(ROUGE-L, BLEU-4, keyword coverage, fluency as perplexity under the frozen LM); n sampled drafts score
diversity (distinct-n) and copying.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm import tqdm

from .checker import DraftChecker, check_metrics
from .config import DECODING_FIELDS, SamplingConfig
from .fluency import perplexity
from .images import load_image
from .keywords import product_keywords
from .metrics import bleu4, copies, distinct_n, keyword_coverage, rouge_l
from .pipeline import Pipeline
from .products import Product, read_products
from .request import DraftInput, Retrieval

METHODS = ["copy_reference", "icl_prompt", "modict_no_reference", "modict_random_reference", "modict_no_visual", "modict"]
# on request: ModICT full and the plain prompt without the copy guard (what the guard costs each of them), and
# ModICT given the best match as its reference even when it is not alike (what `MIN_REFERENCE_SCORE` spares it)
EXTRA_METHODS = ["modict_no_ban", "icl_prompt_no_ban", "modict_always_reference"]


def product_type(p) -> str:
    a = p.attributes or {}
    return str(a.get("product_type") or a.get("type") or (p.keywords[0] if p.keywords else ""))


@dataclass
class Drafts:
    greedy: list[str] = field(default_factory=list)  # one per product
    sampled: list[list[str]] = field(default_factory=list)  # n per product


def evaluate(pipe: Pipeline, folder: str | Path, split: str = "test", limit: int = 0, n: int = 4, keywords: str = "merchant",
             seed: int = 0, methods: list[str] = METHODS, progress: bool = True, decoding: dict | None = None) -> dict:
    """Metrics per domain and overall: {"rows": {method: {...}}, "n_products": N, "domains": {...}}.

    decoding: SamplingConfig fields for every generating row (keyword_boost, copy_guard, ...); absent ones
    keep the shipped defaults."""
    # on the pipeline's model thread, like the app: a second thread running torch ops slows both (pipeline.py)
    return pipe.on_model_thread(_evaluate, pipe, folder, split, limit, n, keywords, seed, methods, progress, decoding or {})


def _products(folder: Path, split: str, limit: int) -> list[Product]:
    """The split's products, at most `limit` per domain (0 = all)."""
    products = read_products(folder, split=split).products
    if not limit:
        return products
    by_domain: dict[str, list[Product]] = {}
    for p in products:
        by_domain.setdefault(p.domain, []).append(p)
    return [p for ps in by_domain.values() for p in ps[:limit]]


def method_input(method: str, found: Retrieval, random_reference) -> tuple[str, DraftInput]:
    """(writer, input) of one row: the full input with the parts the row leaves out removed."""
    inp = found.draft_input()
    if method.startswith("icl_prompt"):
        return "prompt", replace(inp, guard_reference=method != "icl_prompt_no_ban")
    if method == "modict_no_reference":
        return "modict", replace(inp, reference=None)
    if method == "modict_random_reference":
        return "modict", replace(inp, reference=random_reference)
    if method == "modict_always_reference":
        return "modict", replace(inp, reference=found.reference.product)
    if method == "modict_no_visual":
        return "modict", replace(inp, visual=None, reference_visual=False)
    return "modict", replace(inp, guard_reference=method != "modict_no_ban")


def _evaluate(pipe: Pipeline, folder: str | Path, split: str, limit: int, n: int, keywords: str, seed: int,
              methods: list[str], progress: bool, decoding: dict) -> dict:
    folder = Path(folder)
    products = _products(folder, split, limit)
    if pipe.modict is None:
        methods = [m for m in methods if not m.startswith("modict")]
    if pipe.lm.lora:  # the LM carries the writer's LoRA: the plain prompt runs on the untrained LM (--adapter none)
        methods = [m for m in methods if not m.startswith("icl_prompt")]
    rng = random.Random(seed)
    catalog_products = pipe.catalog.products()
    sampling = SamplingConfig(n=n, seed=seed, **decoding).validate()
    greedy_cfg = SamplingConfig(n=1, seed=seed, **decoding)
    out: dict[str, Drafts] = {m: Drafts() for m in methods}
    truths, kws, refs, relevant, chosen = [], [], [], [], []
    for p in tqdm(products, desc="evaluating", unit="product", disable=not progress):
        kw = product_keywords(p, keywords)
        found = pipe.retrieve(load_image(folder / p.image), kw, k=1, exclude_group=p.group)
        ref = found.reference.product
        rand = rng.choice([c for c in catalog_products if c.group != p.group])
        truths.append(p.description)
        kws.append(kw)
        refs.append(ref.description)
        relevant.append(product_type(ref).lower() == product_type(p).lower())
        chosen.append({"id": p.id, "keywords": kw, "reference": ref.id, "random_reference": rand.id,
                       "reference_used": found.use_reference})
        for m in methods:
            if m == "copy_reference":
                g, s = [ref.description], [ref.description]
            else:
                writer, inp = method_input(m, found, rand)
                g = pipe.draft(inp, greedy_cfg, writer, greedy=True)
                s = pipe.draft(inp, sampling, writer)
            out[m].greedy.append(g[0] if g else "")
            out[m].sampled.append(s or [""])
    return _result(pipe, out, truths, kws, refs, relevant, chosen) | {
        "data": str(folder), "split": split, "keywords": keywords, **{k: getattr(sampling, k) for k in DECODING_FIELDS},
    }


def _result(pipe: Pipeline, out: dict[str, Drafts], truths: list[str], kws: list[list[str]], refs: list[str],
            relevant: list[bool], chosen: list[dict]) -> dict:
    judge = None if pipe.lm.lora else pipe.lm  # perplexity is under the untrained LM; a LoRA writer's LM is trained
    return {
        "rows": {m: row_metrics(truths, kws, refs, d, judge, pipe.checker) for m, d in out.items()},
        "n_products": len(truths),
        "reference_relevance": round(statistics.mean(relevant), 4) if relevant else 0.0,
        # share of products whose best match was alike enough to be the reference (`MIN_REFERENCE_SCORE`)
        "reference_used_rate": round(statistics.mean(c["reference_used"] for c in chosen), 4) if chosen else 0.0,
        # how many of the merchant keywords the human descriptions themselves contain: a ceiling for coverage
        "human_keyword_coverage": round(statistics.mean(keyword_coverage(k, t) for k, t in zip(kws, truths)), 4) if truths else 0.0,
        # how often the shop's own description repeats 8 words in a row of the reference: the copy rate of the truth
        "human_copy_rate": round(statistics.mean(copies(r, t) for r, t in zip(refs, truths)), 4) if truths else 0.0,
        "human_perplexity": round(perplexity(judge, truths), 4) if judge else None,  # the shop's own copy, for scale
        # the draft checker on the shop's own copy, for scale (it names specifics the keywords do not give)
        "human_check": {k: round(v, 4) for k, v in check_metrics([[pipe.checker.check(t, k)] for t, k in zip(truths, kws)]).items()},
        "lm": pipe.lm.name,
        "adapter": str(pipe.cfg.adapter) if pipe.modict is not None else None,
        # what each row wrote for each product, to read the drafts behind the numbers
        "products": [{**c, "drafts": {m: {"greedy": d.greedy[i], "sampled": d.sampled[i]} for m, d in out.items()}}
                     for i, c in enumerate(chosen)],
    }


def row_metrics(truths: list[str], keywords: list[list[str]], references: list[str], d: Drafts, lm=None,
                checker: DraftChecker | None = None) -> dict:
    """One row's metrics over its products (`lm`: the frozen LM for perplexity, `checker`: the draft checker's
    metrics on the sampled drafts and, prefixed `greedy_`, on the greedy ones; None leaves them out)."""
    row = {
        "rouge_l": statistics.mean(rouge_l(t, g) for t, g in zip(truths, d.greedy)),
        "bleu4": bleu4(truths, d.greedy),
        **{f"distinct{k}": statistics.mean(distinct_n(s, k) for s in d.sampled) for k in (1, 2, 3, 4)},
        "keyword_coverage": statistics.mean(keyword_coverage(k, g) for k, g in zip(keywords, d.greedy)),
        "copy_rate": statistics.mean(copies(r, x) for r, s in zip(references, d.sampled) for x in s),
        # how close the scored (greedy) drafts stay to the reference's wording, short of 8-word runs: 1.0 for a
        # copy; the human description's own value is the copy_reference row's rouge_l (ROUGE-L F1 is symmetric)
        "reference_rouge_l": statistics.mean(rouge_l(r, g) for r, g in zip(references, d.greedy)),
    }
    if lm is not None:
        row["perplexity"] = perplexity(lm, d.greedy)
    if checker is not None:
        row |= check_metrics([[checker.check(x, k) for x in s] for k, s in zip(keywords, d.sampled)])
        greedy = check_metrics([[checker.check(g, k)] for k, g in zip(keywords, d.greedy)])
        row |= {f"greedy_{k}": v for k, v in greedy.items() if k != "best_of_n_clean"}
    return {k: round(v, 4) for k, v in row.items()}


TABLE_COLUMNS = ("rouge_l", "bleu4", "distinct4", "keyword_coverage", "copy_rate", "reference_rouge_l", "perplexity")
CHECK_COLUMNS = ("clean", "best_of_n_clean", "non_words_per_100", "unsupported_per_draft", "contradiction_rate", "stuffing_rate",
                 "truncation_rate")


def markdown_table(result: dict, cols: tuple[str, ...] = TABLE_COLUMNS) -> str:
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for m, r in result["rows"].items():
        lines.append(f"| {m} | " + " | ".join(f"{r[c]:.3f}" if c in r else "–" for c in cols) + " |")
    return "\n".join(lines)
