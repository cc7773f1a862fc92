"""Pick the default LM by measurement: draft quality and latency of the plain in-context prompt.

For each verified LM, the app's own path (`Pipeline.retrieve` + `Pipeline.draft`, writer "prompt", the shipped
decoding): a greedy draft for each dev product (reference retrieved from the demo catalog, own group excluded)
scored by ROUGE-L against the human description, and the wall time of sampling 4 drafts of up to 60 new tokens
(int8 dynamic quantisation, as the app runs).

    python bench/compare_lms.py --limit 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from ecomcopy.config import SAMPLING
from ecomcopy.images import load_image
from ecomcopy.lm import LM_SPECS
from ecomcopy.metrics import rouge_l
from ecomcopy.pipeline import Pipeline, PipelineConfig
from ecomcopy.products import read_products

ROOT = Path(__file__).resolve().parent.parent


def measure(name: str, cases: list) -> dict:
    t0 = time.time()
    pipe = Pipeline(PipelineConfig(adapter=None, lm=name))
    load_s = time.time() - t0
    scores: dict[str, list[float]] = {"hm": [], "ikea": []}
    copies: dict[str, list[float]] = {"hm": [], "ikea": []}
    latencies, example = [], None
    for i, (domain, folder, q) in enumerate(cases):
        found = pipe.retrieve(load_image(folder / q.image), q.keywords, k=1, exclude_group=q.group)
        inp = found.draft_input()
        greedy = pipe.draft(inp, replace(SAMPLING, n=1), writer="prompt", greedy=True)
        draft = greedy[0] if greedy else ""  # nothing left after cleaning scores 0
        scores[domain].append(rouge_l(q.description, draft))
        copies[domain].append(rouge_l(q.description, inp.reference.description))
        example = example or (q.keywords, draft)
        if i % 4 == 0:  # latency of the real request: 4 sampled drafts in one call
            t = time.time()
            pipe.draft(inp, replace(SAMPLING, seed=i), writer="prompt")
            latencies.append(time.time() - t)
    del pipe  # one LM in memory at a time
    return {
        "rouge_l_hm": round(statistics.mean(scores["hm"]), 4),
        "rouge_l_ikea": round(statistics.mean(scores["ikea"]), 4),
        "copy_reference": {d: round(statistics.mean(v), 4) for d, v in copies.items()},
        "p50_4_drafts_s": round(statistics.median(latencies), 2),
        "cached_load_s": round(load_s, 1),
        "example": example,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=20, help="dev products per domain")
    ap.add_argument("--lms", default=",".join(LM_SPECS))
    args = ap.parse_args()
    cases = [(source, Path(args.shared) / source, q) for source in ("hm", "ikea")
             for q in read_products(Path(args.shared) / source, split="dev").products[: args.limit]]
    results = {}
    for name in args.lms.split(","):
        results[name] = measure(name, cases)
        print(name, json.dumps(results[name]), flush=True)
    copy = next(iter(results.values()))["copy_reference"]
    print(f"\n{args.limit} dev products per domain, greedy ROUGE-L (F1, stemmed) with the shipped decoding; "
          "latency of 4 sampled drafts x 60 tokens, int8")
    print("| LM | ROUGE-L H&M | ROUGE-L IKEA | p50 4 drafts (s) | cached load (s) |\n|---|---|---|---|---|")
    print(f"| (copy the reference's description) | {copy['hm']:.3f} | {copy['ikea']:.3f} | - | - |")
    for name, r in results.items():
        print(f"| {name} | {r['rouge_l_hm']:.3f} | {r['rouge_l_ikea']:.3f} | {r['p50_4_drafts_s']:.2f} | {r['cached_load_s']:.1f} |")


if __name__ == "__main__":
    main()
