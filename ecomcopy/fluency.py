"""Fluency of a text: its perplexity under the frozen LM alone, with no prompt.

Pushing keywords into a draft (`generate.KeywordBoost`) raises keyword coverage and, past some strength,
turns sentences into keyword lists. Perplexity under the unconditioned LM is the field's usual check for
that (as in PPLM and other controlled-generation work): a list of keywords is improbable English.
"""

from __future__ import annotations

import math

import torch

from .lm import LoadedLM


@torch.inference_mode()
def perplexity(lm: LoadedLM, texts: list[str]) -> float:
    """exp(mean next-token NLL) over all scored tokens of `texts` (each text's first token is not scored)."""
    total, count = 0.0, 0
    for text in texts:
        ids = lm.tokenizer(text.strip(), add_special_tokens=False, return_tensors="pt").input_ids  # (1, T)
        if ids.shape[1] < 2:
            continue
        logits = lm.model(input_ids=ids).logits[0, :-1].float()  # (T-1, V)
        total += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
        count += ids.shape[1] - 1
    return math.exp(total / count) if count else float("nan")
