"""Generation speed: our path vs the naive path, same requests, same process, same machine.

- ours: the app's pipeline (`Pipeline.suggest_stream`): int8 LM, the prompt prefilled once and its KV cache
  copied to the n drafts sampled together, prefix keys/values made once per request, top-k/top-p sampling
  over 50 candidates, reference visual tokens cached per catalog product, drafts streamed; the time includes
  the review and the near-duplicate re-sampling the app does;
- naive: what the libraries give without any of that: an fp32 LM, one `generate` per draft (transformers'
  sampler, `stop_strings`, `bad_words_ids` for the reference ban), the reference's photo encoded again on
  every request. (transformers keeps a KV cache inside each `generate` call by default; it is left on.)

"one_batch_of_4_drafts" times our model call alone (one batch of 4 drafts shown, sampled from 3 x 4
candidates and ranked, no review, no re-sampling of near-duplicates). "ours_no_rank" is our path sampling only
the 4 drafts shown (`--candidates 1`), in the same run: what sample-and-rank costs.

Both write 4 drafts of up to 60 new tokens for each of the same products (H&M and IKEA dev) with the
shipped ModICT adapter, seeds fixed. "First draft visible": ours streams, so the first words; the naive path
shows a draft only when its `generate` returns.

    python bench/generation.py [--products 10] [--out bench/results/performance/generation.json] [--skip-naive]
                               (ours only: ~1 min instead of ~4) [--skip-no-rank] [decoding options of the CLI, e.g.
                               --no-spelling, --copy-guard tokens, --no-repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from ecomcopy.cli_options import add_decoding_options, decoding_settings
from ecomcopy.config import DECODING_FIELDS, SamplingConfig

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def stats(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"p50_s": round(statistics.median(xs), 3), "p95_s": round(xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], 3),
            "mean_s": round(statistics.fmean(xs), 3), "max_s": round(xs[-1], 3)}


def ours(pipe, photo: Path, kw: list[str], cfg, log: dict) -> tuple[float, float, int]:
    """The app's path (`Pipeline.suggest_stream`), then the model call alone (one batch of 4 drafts, no review,
    no re-sampling of near-duplicates: the issue's "4 drafts of up to 60 tokens") on the same retrieval."""
    from ecomcopy.images import load_image
    from ecomcopy.request import Progress

    t0 = time.perf_counter()
    first = None
    for step in pipe.suggest_stream(photo, kw, cfg):
        if first is None and isinstance(step, Progress) and any(step.partial):
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    log.setdefault("rounds", []).append(step.rounds)
    found = pipe.retrieve(load_image(photo), step.keywords)
    t1 = time.perf_counter()
    pipe.draft(found.draft_input(), cfg)
    log.setdefault("one_round", []).append(time.perf_counter() - t1)
    return first or total, total, len(step.drafts)


@torch.inference_mode()
def naive(pipe, lm32, naive_model, photo: Path, kw: list[str], seed: int) -> tuple[float, float, int]:
    """What the libraries give: an fp32 LM, one `generate` per draft, the reference's photo encoded again."""
    from ecomcopy.constraints import reference_ngram_ban
    from ecomcopy.images import load_image
    from ecomcopy.prompt import Example
    from ecomcopy.text import clean_draft, dedupe

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    found = pipe.retrieve(load_image(photo), kw)
    ref = found.reference.product
    ref_tokens = pipe.image_encoder.encode([load_image(ref.image_path)]).tokens[0]  # no per-product cache
    e, _, summary = naive_model.build(Example(kw, found.features.tokens[0], ref.keywords, ref.description, ref_tokens))
    tok = lm32.tokenizer
    ban = reference_ngram_ban(tok, ref.description)
    drafts, first = [], None
    for _ in range(4):
        naive_model._prefix = naive_model.prompts(summary[None])  # no memo: prefix keys/values remade every step
        try:
            out = lm32.model.generate(
                inputs_embeds=e[None], attention_mask=torch.ones(1, e.shape[0], dtype=torch.long), do_sample=True,
                temperature=0.8, top_p=0.9, max_new_tokens=60, stop_strings=["\n"], tokenizer=tok,
                bad_words_ids=ban or None, pad_token_id=tok.pad_token_id,
            )
        finally:
            naive_model._prefix = None
        drafts.append(clean_draft(tok.decode(out[0], skip_special_tokens=True)))
        first = first or time.perf_counter() - t0
    return first, time.perf_counter() - t0, len(dedupe(drafts))


def summary(pipe, cfg, runs: dict, log: dict, n_queries: int) -> dict:
    result = {
        "command": " ".join(["python bench/generation.py"] + sys.argv[1:]),
        **{k: getattr(cfg, k) for k in DECODING_FIELDS},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "requests": n_queries,
        "lm": pipe.lm.name,
    }
    for name, r in runs.items():
        result[name] = {"all_drafts": stats(r["total"]), "first_draft_visible": stats(r["first"]),
                        "distinct_drafts_mean": round(statistics.fmean(r["drafts"]), 2)}
    for name in (n for n in runs if n.startswith("ours")):
        result[name]["sampling_rounds_mean"] = round(statistics.fmean(log[name]["rounds"][1:]), 2)  # without the warm-up
        result[name]["one_batch_of_4_drafts"] = stats(log[name]["one_round"][1:])
    if "naive" in result:
        result["speed_up_p50"] = round(result["naive"]["all_drafts"]["p50_s"] / result["ours"]["all_drafts"]["p50_s"], 2)
        result["speed_up_mean"] = round(result["naive"]["all_drafts"]["mean_s"] / result["ours"]["all_drafts"]["mean_s"], 2)
    result["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=10, help="dev products, half H&M, half IKEA")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "performance" / "generation.json"))
    add_decoding_options(ap)  # ours: the shipped decoding unless one is given (e.g. --no-spelling, --copy-guard tokens)
    ap.add_argument("--adapter", default="", help="the writer's adapter (path stem); default: the shipped one of ECOMCOPY_LM's writer")
    ap.add_argument("--skip-naive", action="store_true", help="time our path only")
    ap.add_argument("--skip-no-rank", action="store_true", help="leave out our path without sample-and-rank")
    args = ap.parse_args()

    from ecomcopy.keywords import product_keywords
    from ecomcopy.lm import load_lm
    from ecomcopy.lora import weights_of as lora_weights_of
    from ecomcopy.model import ModICT
    from ecomcopy.pipeline import Pipeline, PipelineConfig
    from ecomcopy.products import read_products

    pipe = Pipeline(PipelineConfig(adapter=Path(args.adapter)) if args.adapter else PipelineConfig.of_writer())
    adapter = pipe.cfg.adapter  # the naive path runs the same writer
    # every torch call on the pipeline's model thread, the naive path's too: a second thread running torch ops
    # slows both (see Pipeline.__init__)
    paths = {"ours": lambda photo, kw, seed: ours(pipe, photo, kw, replace(cfg, seed=seed), log["ours"])}
    if not args.skip_no_rank:
        paths["ours_no_rank"] = lambda photo, kw, seed: ours(pipe, photo, kw, replace(cfg, seed=seed, candidates=1), log["ours_no_rank"])
    if not args.skip_naive:
        lm32 = pipe.on_model_thread(load_lm, ModICT.config_of(adapter).lm, False, lora_weights_of(adapter))
        naive_model = pipe.on_model_thread(ModICT.load, adapter, lm32, pipe.image_encoder.fingerprint)
        paths = {"naive": lambda photo, kw, seed: pipe.on_model_thread(naive, pipe, lm32, naive_model, photo, kw, seed), **paths}
    cfg = SamplingConfig(n=4, max_new_tokens=60, **decoding_settings(args))
    log = {"ours": {}, "ours_no_rank": {}}
    queries = [(SHARED / source / p.image, product_keywords(p))
               for source in ("hm", "ikea") for p in read_products(SHARED / source, split="dev").products[: args.products // 2]]
    for fn in list(paths.values())[::-1]:
        fn(*queries[0], seed=0)  # warm-up: first-call allocations, reference cache of this one product
    runs = {name: {"first": [], "total": [], "drafts": []} for name in paths}
    for i, (photo, kw) in enumerate(queries):
        for name, fn in paths.items():
            first, total, n = fn(photo, kw, seed=i)
            runs[name]["first"].append(first)
            runs[name]["total"].append(total)
            runs[name]["drafts"].append(n)
            print(f"{i:2d} {name:5s} first {first:5.2f} s  all {total:5.2f} s  drafts {n}", flush=True)
    result = summary(pipe, cfg, runs, log, len(queries))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
