"""Would speculative decoding pay on this machine? What verifying k drafted tokens costs the writer's LM.

Speculative decoding wins when the target LM checks k drafted tokens per row in much less than k of its own
steps, which holds where a step is bound by reading the weights (a GPU at small batch). Here a default request
decodes 12 rows at once on 2 cores with int8 weights, so a step may already be bound by compute. This times
one forward of k new tokens per row over a prompt's KV cache, as decoding runs it (the cache cut back after
each call), for the rows of a default request and of a 4-candidate one, against k single steps.

    python bench/verify_cost.py [--lm LM] [--reps 7]   -> bench/results/performance/verify_cost_<lm>.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import DynamicCache

from ecomcopy.config import LM_NAMES, shipped_adapter, writer_lm
from ecomcopy.lm import load_lm
from ecomcopy.lora import weights_of

ROOT = Path(__file__).resolve().parent.parent
PROMPT_TOKENS = 256  # about a ModICT prompt: visual tokens, the reference's keywords and text, the product's keywords
ROWS = (4, 12)  # 4 drafts with 1 candidate each; 4 drafts x 3 candidates (the shipped default)
DRAFTED = (1, 2, 4, 8)


@torch.inference_mode()
def forward_seconds(model, cache: DynamicCache, rows: int, k: int, reps: int) -> float:
    """Median seconds of one forward of k tokens for each of `rows` rows over `cache` (cut back after each)."""
    times = []
    for _ in range(reps):
        ids = torch.randint(100, 20_000, (rows, k))
        t0 = time.perf_counter()
        model(input_ids=ids, past_key_values=cache, use_cache=True)
        times.append(time.perf_counter() - t0)
        cache.crop(-k)  # this transformers crops by the number of tokens to remove
    return statistics.median(times)


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", choices=LM_NAMES, default=None, help="the writer (default: ECOMCOPY_LM, else the default writer's)")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    name = args.lm or writer_lm()
    adapter = shipped_adapter(name)  # None: this LM has no shipped adapter (the plain prompt's frozen LM)
    lora = weights_of(adapter) if adapter else None
    lm = load_lm(name, lora=lora)  # as the app runs it: int8, its LoRA (if any) merged
    torch.manual_seed(0)
    prompt = torch.randint(100, 20_000, (1, PROMPT_TOKENS))
    out = {"lm": name, "lora": bool(lora), "threads": torch.get_num_threads(), "prompt_tokens": PROMPT_TOKENS, "rows": {}}
    for rows in ROWS:
        cache = DynamicCache(config=lm.model.config)
        lm.model(input_ids=prompt, past_key_values=cache, use_cache=True)
        cache.batch_repeat_interleave(rows)
        step = forward_seconds(lm.model, cache, rows, 1, args.reps)
        out["rows"][rows] = {k: {"seconds": round(s := forward_seconds(lm.model, cache, rows, k, args.reps), 4),
                                 "steps_equivalent": round(s / step, 2)} for k in DRAFTED}
        print(f"{rows} rows: one step {step * 1000:.0f} ms; verifying k tokens costs "
              + ", ".join(f"k={k}: {v['steps_equivalent']}x" for k, v in out["rows"][rows].items()))
    dest = ROOT / "bench" / "results" / "performance" / f"verify_cost_{name}.json"
    dest.write_text(json.dumps(out, indent=1))
    print(f"-> {dest}")


if __name__ == "__main__":
    main()
