"""The decoding settings in a merchant's words, with a line of help each: one builder for the Write tab and the
Bulk tab, so both offer (and explain) the same settings."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .config import SAMPLING


def sampling_sliders(prefix: str = "") -> SimpleNamespace:
    """Creativity, word choice, maximum length and keyword use (`SamplingConfig`'s temperature, top_p,
    max_new_tokens and keyword_boost), at the shipped defaults; `prefix` names their elem_ids."""
    return SimpleNamespace(
        temperature=gr.Slider(0.1, 1.5, value=SAMPLING.temperature, step=0.05, label="Creativity", elem_id=f"{prefix}creativity",
                              info="Higher: more varied wording, and more mistakes; lower: plainer, safer drafts"),
        top_p=gr.Slider(0.5, 1.0, value=SAMPLING.top_p, step=0.05, label="Word choice", elem_id=f"{prefix}word-choice",
                        info="How many of the likely next words the writer may pick from (lower: only the likeliest)"),
        max_tokens=gr.Slider(20, 120, value=SAMPLING.max_new_tokens, step=5, label="Maximum length (word pieces, ~¾ word each)",
                             elem_id=f"{prefix}max-length",
                             info=f"Drafts shown keep their whole sentences up to {SAMPLING.max_words} words: longer ones ramble"),
        keyword_boost=gr.Slider(0, 6, value=SAMPLING.keyword_boost, step=0.5, label="Use my keywords (0 = let the writer choose)",
                                elem_id=f"{prefix}keyword-use", info="How hard the drafts are pushed to use your keywords"),
    )
