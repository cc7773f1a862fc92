"""The in-context input: the retrieved reference as a worked example, then the product to describe.

`icl_prompt` is the training-free baseline of ModICT's input order (reference keywords, reference description,
product keywords), written as text so any frozen causal LM can continue it; `Example` is the same input for
ModICT, with the photos' visual tokens beside the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

INSTRUCTION = "Write a short product description for an online shop, in the style of the example.\n\n"


def format_example(keywords: list[str], description: str | None = None) -> str:
    text = f"Keywords: {', '.join(keywords) if keywords else '(none)'}\nDescription:"
    return text + (f" {description}\n\n" if description is not None else "")


def icl_prompt(ref_keywords: list[str] | None, ref_description: str | None, keywords: list[str]) -> str:
    """The prompt, with the reference as its worked example (none when `ref_description` is None)."""
    example = format_example(ref_keywords or [], ref_description) if ref_description is not None else ""
    return INSTRUCTION + example + format_example(keywords)


@dataclass
class Example:
    """One in-context input. A missing reference or missing visual tokens drop those segments."""

    keywords: list[str]
    visual: torch.Tensor | None = None  # (N, D) product visual tokens
    ref_keywords: list[str] | None = None
    ref_description: str | None = None
    ref_visual: torch.Tensor | None = None  # (N, D)
    target: str | None = None  # the description to learn (training only)

