"""Batching concurrent requests into one decode (issue 21): what one step costs by rows in flight, and whether a
request's greedy draft stays the same when other requests share its batch.

Two measurements on the app's writer LM (int8, LoRA merged), with plain-prompt requests of dev products:
- step cost: one prompt's KV cache repeated to B rows, the mean time of a decode step (one token per row) for
  B = 1 .. 32, so the cost of a row in a shared step can be set against a step of its own;
- exactness: request A's greedy tokens decoded alone, then in one batch with other requests of other prompt
  lengths (each prefilled alone, their caches left-padded to one length, an attention mask over the pads and
  each row's own positions), and the share of A's tokens that stay the same, with the largest logit
  difference at the first step. The int8 Linear layers quantise their input with one scale per call, so the
  rows of a batch change each other's rounding: this says how much.

    python bench/batch_step.py [--lm qwen2.5-1.5b] [--others 1 3 7] [--tokens 24] [--out bench/results/performance/batch_step.json]
    python bench/batch_step.py --lm qwen2.5-0.5b --fp32 --rows 1 4 --out bench/results/performance/batch_step_fp32.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import DynamicCache

from ecomcopy.batched_cache import merge, step
from ecomcopy.config import DEMO_CATALOG_DB, shipped_adapter, writer_lm
from ecomcopy.keywords import product_keywords
from ecomcopy.lm import load_lm
from ecomcopy.pipeline import Pipeline, PipelineConfig
from ecomcopy.products import read_products
from ecomcopy.prompt import icl_prompt

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def prompts(k: int) -> list[str]:
    """k plain prompts of dev products, every other one with the next product as its in-context example, so the
    requests have different lengths."""
    ps = [p for pair in zip(read_products(DATA / "hm", split="dev").products, read_products(DATA / "ikea", split="dev").products) for p in pair]
    return [icl_prompt(ref.keywords, ref.description, product_keywords(p)) if i % 2 == 0 else icl_prompt(None, None, product_keywords(p))
            for i, (p, ref) in enumerate(zip(ps[:k], ps[1 : k + 1]))]


@torch.inference_mode()
def prefill(model, ids: torch.Tensor) -> tuple[DynamicCache, torch.Tensor]:
    cache = DynamicCache(config=model.config)
    logits = model(input_ids=ids[None], past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
    return cache, logits


@torch.inference_mode()
def greedy_batched(model, prompt_ids: list[torch.Tensor], tokens: int) -> tuple[list[list[int]], torch.Tensor]:
    """Greedy tokens of every request decoded in one batch (`batched_cache`); and the (B, V) logits of the first
    batched forward (the step after each request's own prefill)."""
    pairs = [prefill(model, ids) for ids in prompt_ids]
    rows = merge([c for c, _ in pairs], [len(ids) for ids in prompt_ids])
    logits = torch.cat([lg for _, lg in pairs])
    first = None
    out = [[] for _ in prompt_ids]
    for _ in range(tokens):
        tokens_now = logits.argmax(-1)
        for row, t in zip(out, tokens_now.tolist()):
            row.append(t)
        logits = step(model, rows, tokens_now)
        first = logits.clone() if first is None else first
    return out, first


@torch.inference_mode()
def step_cost(model, ids: torch.Tensor, rows: int, steps: int = 8) -> float:
    cache, logits = prefill(model, ids)
    cache.batch_repeat_interleave(rows)
    nxt = logits.argmax(-1).expand(rows)
    model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True)  # warm
    t0 = time.perf_counter()
    for _ in range(steps):
        model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm", default=writer_lm())
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 2, 4, 8, 12, 16, 24, 32])
    ap.add_argument("--others", type=int, nargs="+", default=[1, 3, 7])
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--fp32", action="store_true", help="the LM in fp32, without its adapter: is the batching itself exact?")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "performance" / "batch_step.json")
    args = ap.parse_args()
    if args.fp32:
        lm = load_lm(args.lm, quantize=False)
    else:
        lm = Pipeline(PipelineConfig(catalog=DEMO_CATALOG_DB, adapter=shipped_adapter(args.lm), lm=args.lm)).lm
    model, tok = lm.model, lm.tokenizer
    texts = prompts(max(args.others) + 1)
    ids = [tok(t, return_tensors="pt").input_ids[0] for t in texts]
    cost = {b: round(step_cost(model, ids[0], b) * 1000, 1) for b in args.rows}
    print("ms per decode step by rows:", cost)
    alone, first_alone = greedy_batched(model, ids[:1], args.tokens)
    exact = []
    for k in args.others:
        together, first = greedy_batched(model, ids[: k + 1], args.tokens)
        same = sum(a == b for a, b in zip(alone[0], together[0])) / args.tokens
        prefix = next((i for i, (a, b) in enumerate(zip(alone[0], together[0])) if a != b), args.tokens)
        exact.append({"other_requests": k, "prompt_tokens": [len(i) for i in ids[: k + 1]], "same_tokens": round(same, 3),
                      "same_until": prefix, "max_logit_diff_first_batched_step": round(float((first[0] - first_alone[0]).abs().max()), 4),
                      "alone": tok.decode(alone[0], skip_special_tokens=True), "batched": tok.decode(together[0], skip_special_tokens=True)})
        print(exact[-1])
    result = {"command": "python bench/batch_step.py" + (f" --lm {args.lm} --fp32" if args.fp32 else ""), "lm": args.lm, "int8": not args.fp32, "threads": torch.get_num_threads(),
              "ms_per_step_by_rows": cost, "ms_per_row_step": {b: round(c / b, 1) for b, c in cost.items()}, "greedy_alone_vs_batched": exact}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
