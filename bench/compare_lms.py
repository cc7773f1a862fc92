"""Pick the default LM by measurement: draft quality and latency of the plain in-context prompt.

For each verified LM: greedy drafts for dev products (reference retrieved from the demo catalog,
own group excluded) scored by ROUGE-L against the human description, and the wall time of
sampling 4 drafts of up to 60 new tokens (int8 dynamic quantisation, as the app runs).

    python bench/compare_lms.py --limit 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402

from ecomcopy.catalog import Catalog  # noqa: E402
from ecomcopy.encoders import TextEncoder, create_image_encoder  # noqa: E402
from ecomcopy.generate import SamplingConfig, clean_draft, sample_drafts  # noqa: E402
from ecomcopy.images import load_image  # noqa: E402
from ecomcopy.lm import LM_SPECS, load_lm  # noqa: E402
from ecomcopy.paths import DEMO_CATALOG_DB  # noqa: E402
from ecomcopy.products import read_products  # noqa: E402
from ecomcopy.prompt import icl_prompt  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=20, help="dev products per domain")
    ap.add_argument("--lms", default=",".join(LM_SPECS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    catalog = Catalog(DEMO_CATALOG_DB)
    ienc, tenc = create_image_encoder(), TextEncoder()
    cases = []  # (domain, query, reference)
    for source in ("hm", "ikea"):
        folder = Path(args.shared) / source
        for q in read_products(folder, split="dev").products[: args.limit]:
            iv = ienc.encode([load_image(folder / q.image)]).pooled[0].numpy()
            tv = tenc.encode([q.keyword_text])[0]
            cases.append((source, q, catalog.search(iv, tv, k=1, exclude_group=q.group)[0].product))
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    results = {}
    copy = {d: [scorer.score(q.description, ref.description)["rougeL"].fmeasure for dom, q, ref in cases if dom == d] for d in ("hm", "ikea")}
    print("copy_reference", {d: round(statistics.mean(v), 4) for d, v in copy.items()}, flush=True)
    for name in args.lms.split(","):
        t0 = time.time()
        lm = load_lm(name, quantize=True)
        load_s = time.time() - t0
        scores: dict[str, list[float]] = {"hm": [], "ikea": []}
        latencies, example = [], None
        for i, (domain, q, ref) in enumerate(cases):
            prompt = icl_prompt(ref.keywords, ref.description, q.keywords)
            enc = lm.tokenizer(prompt, return_tensors="pt")
            with torch.inference_mode():
                out = lm.model.generate(**enc, do_sample=False, max_new_tokens=60, stop_strings=["\n"], tokenizer=lm.tokenizer, pad_token_id=lm.tokenizer.pad_token_id)
            draft = clean_draft(lm.tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True))
            scores[domain].append(scorer.score(q.description, draft)["rougeL"].fmeasure)
            example = example or (q.keywords, draft)
            if i % 4 == 0:  # latency of the real request: 4 sampled drafts in one call
                t = time.time()
                sample_drafts(lm, prompt, SamplingConfig(n=4, max_new_tokens=60, seed=i))
                latencies.append(time.time() - t)
        results[name] = {
            "rouge_l_hm": round(statistics.mean(scores["hm"]), 4),
            "rouge_l_ikea": round(statistics.mean(scores["ikea"]), 4),
            "p50_4_drafts_s": round(statistics.median(latencies), 2),
            "cached_load_s": round(load_s, 1),
            "example": example,
        }
        print(name, json.dumps(results[name]), flush=True)
        del lm
    print(f"\n{args.limit} dev products per domain, greedy ROUGE-L (F1, stemmed); latency of 4 sampled drafts x 60 tokens, int8")
    print("| LM | ROUGE-L H&M | ROUGE-L IKEA | p50 4 drafts (s) | cached load (s) |\n|---|---|---|---|---|")
    print(f"| (copy the reference's description) | {statistics.mean(copy['hm']):.3f} | {statistics.mean(copy['ikea']):.3f} | - | - |")
    for name, r in results.items():
        print(f"| {name} | {r['rouge_l_hm']:.3f} | {r['rouge_l_ikea']:.3f} | {r['p50_4_drafts_s']:.2f} | {r['cached_load_s']:.1f} |")


if __name__ == "__main__":
    main()
