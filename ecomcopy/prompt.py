"""The plain in-context prompt: the retrieved reference as a worked example, then the product to describe.

This is the training-free baseline of ModICT's input order (reference keywords, reference description,
product keywords), written as text so any frozen causal LM can continue it.
"""

from __future__ import annotations

INSTRUCTION = "Write a short product description for an online shop, in the style of the example.\n\n"


def format_example(keywords: list[str], description: str | None = None) -> str:
    text = f"Keywords: {', '.join(keywords) if keywords else '(none)'}\nDescription:"
    return text + (f" {description}\n\n" if description is not None else "")


def icl_prompt(ref_keywords: list[str], ref_description: str, keywords: list[str]) -> str:
    return INSTRUCTION + format_example(ref_keywords, ref_description) + format_example(keywords)
