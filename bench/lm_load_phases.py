"""Where the writer's start-up goes: the phases of `lm.load_lm` for a cached LM, timed one by one.

The default writer takes 48 s to load with a warm cache (goal 30 s). This splits a load as `load_lm` runs it:
reading the converted fp32 checkpoint, attaching the adapter's LoRA, and merging it while packing every Linear
into int8 (`lm.quantize_int8`), so the next change goes where the time is. The checkpoint is memory-mapped, so
its weights are read from the page cache as they are packed: that reading counts in the last phase.

    python bench/lm_load_phases.py [--lm LM]   -> bench/results/performance/lm_load_phases_<lm>.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from ecomcopy.config import LM_NAMES, shipped_adapter, writer_lm

    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", choices=LM_NAMES, default=None, help="the writer (default: ECOMCOPY_LM, else the default writer's)")
    args = ap.parse_args()
    name = args.lm or writer_lm()
    t0 = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM

    from ecomcopy.lm import _converted_dir, attach, load_lm, quantize_int8, text_config
    from ecomcopy.lora import merge, weights_of

    load_lm(name, quantize=False)  # converts on first use, so that the phases below time a warm cache
    t1 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(_converted_dir(name)), dtype=torch.float32).eval()
    t2 = time.perf_counter()
    adapter = shipped_adapter(name)
    lora = weights_of(adapter) if adapter else None
    if lora is not None:
        attach(model, lora, text_config(model).num_hidden_layers)
    t3 = time.perf_counter()
    quantize_int8(model, before_block=merge if lora is not None else None)
    t4 = time.perf_counter()
    out = {"lm": name, "lora": lora is not None, "threads": torch.get_num_threads(),
           "seconds": {"imports_and_warm_up": round(t1 - t0, 1), "fp32_from_cache": round(t2 - t1, 1),
                       "lora_attach": round(t3 - t2, 1), "merge_and_int8": round(t4 - t3, 1)}}
    dest = ROOT / "bench" / "results" / "performance" / f"lm_load_phases_{name}.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
