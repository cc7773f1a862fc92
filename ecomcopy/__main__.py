"""Command line: `ecomcopy {index,train,evaluate,generate,bulk} ...` (or `python -m ecomcopy ...`). Errors print one plain line and exit non-zero."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import warnings
from collections import Counter
from pathlib import Path

from .channels import channel_names
from .config import AppConfig, DEFAULT_CHANNEL, DATA_KEYWORDS, DEFAULT_IMAGE_ENCODER, DEFAULT_IMAGE_WEIGHT, LM_NAMES, SAMPLING, TRAIN_LM, WRITERS, writer_lm
from .cli_options import (LM_HELP, add_decoding_options, add_models_options, add_sampling_options, adapter_of, decoding_settings,
                          sampling_config)
from .errors import EcomcopyError, InputError
from . import users_cli


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def cmd_index(args: argparse.Namespace) -> int:
    from .catalog import Catalog
    from .encoders import TextEncoder, create_image_encoder
    from .indexer import index_folder

    catalog = Catalog(args.db, create=True)
    report = index_folder(args.data, catalog, create_image_encoder(args.image_encoder), TextEncoder(), split=args.split)
    print(report.summary())
    print(f"{len(catalog)} products in {catalog.path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .errors import InputError
    from .images import load_image
    from .channels import channel
    from .keywords import parse_keywords
    from .listing import listing_for_result
    from .pipeline import Pipeline, PipelineConfig

    sampling = sampling_config(args)
    # Check the inputs before the models load: a bad file should fail in a second, not after 10.
    channel(args.channel)
    image = load_image(args.image) if args.image else None
    if image is None and not parse_keywords(args.keywords):
        raise InputError("Give a product photo (--image) or a few keywords (--keywords), or both.")
    adapter = adapter_of(args)
    pipe = Pipeline(PipelineConfig(catalog=Path(args.db), adapter=adapter, lm=args.lm, image_weight=args.image_weight,
                                   min_reference_score=args.min_reference_score))
    result = pipe.suggest(image, args.keywords, sampling, writer=args.writer)
    out = result.to_dict()
    listing = listing_for_result(out, args.channel, args.brand)
    if args.json:
        print(json.dumps(out | {"listing": listing}, ensure_ascii=False))
        return 0
    ref = result.reference
    if not result.reference_used:
        print("No similar product in the catalog: the drafts are written from the photo and keywords only.")
    print(f"{'Reference' if result.reference_used else 'Most similar'}: {ref.product.id}  {ref.product.name}  "
          f"(similarity {ref.score:.3f}); drafts by: {result.writer}")
    print(f"  keywords: {', '.join(ref.product.keywords)}")
    print(f"  description: {ref.product.description}")
    print(f"  source: {ref.product.source}")
    for i, d in enumerate(result.drafts, 1):
        print(f"\nDraft {i}: {d}")
    print(f"\nListing for {channel(args.channel).label} (from draft 1):\n  title: {listing['title']}")
    print("".join(f"  • {b}\n" for b in listing["bullets"]) + f"  SEO title: {listing['seo_title']}\n  meta description: "
          f"{listing['meta_description']}\n  tags: {', '.join(listing['tags'])}")
    for v in listing["violations"]:
        print(f"  {'breaks a rule' if v['blocking'] else 'note'}: {v['message']}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    logging.getLogger("ecomcopy.train").setLevel(logging.INFO)  # what the run did: references chosen, resumed step
    cfg = TrainConfig(
        data=args.data, out=args.out, lm=args.lm, keywords=args.keywords, steps=args.steps, batch_size=args.batch_size,
        lr=args.lr, warmup=args.warmup, seed=args.seed, image_weight=args.image_weight, bf16=args.bf16, init=args.init or "",
        no_copy_refs=args.no_copy_refs, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha, lora_targets=args.lora_targets,
        lora_last_layers=args.lora_last_layers, lora_lr=args.lora_lr, ckpt_every=args.ckpt_every,
    )
    path = train(cfg)
    print(f"adapter written to {path}.safetensors (+ .json); loss log {args.out}/loss.csv, curve {args.out}/loss.png")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import CHECK_COLUMNS, EXTRA_METHODS, METHODS, evaluate, markdown_table
    from .pipeline import Pipeline, PipelineConfig
    from .products import read_products

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] or METHODS
    unknown = [m for m in methods if m not in METHODS + EXTRA_METHODS]
    if unknown:
        raise InputError(f"Unknown method(s) {', '.join(unknown)}; choose among: {', '.join(METHODS + EXTRA_METHODS)}.")
    read_products(args.data)  # a wrong folder fails now, not after the models load
    adapter = adapter_of(args)
    pipe = Pipeline(PipelineConfig(catalog=Path(args.db), adapter=adapter, lm=args.lm, min_reference_score=args.min_reference_score))
    result = evaluate(pipe, args.data, split=args.split, limit=args.limit, n=args.n, keywords=args.keywords, methods=methods,
                      progress=not args.json, decoding=decoding_settings(args))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['n_products']} products of {args.data} ({args.split}), LM {result['lm']}, "
              f"reference relevance {result['reference_relevance']:.3f}, keyword coverage of the human descriptions "
              f"{result['human_keyword_coverage']:.3f}, copy rate of the human descriptions {result['human_copy_rate']:.3f}\n")
        print(markdown_table(result))
        print("\nThe draft checker (sampled drafts; the shop's own copy: "
              + ", ".join(f"{k} {v:.3f}" for k, v in result["human_check"].items() if k != "best_of_n_clean") + ")\n")
        print(markdown_table(result, CHECK_COLUMNS))
    return 0


def cmd_bulk(args: argparse.Namespace) -> int:
    from .bulk import BulkOptions, PhotoArchive, read_rows, run_bulk, write_results
    from .bulk_jobs import JobStore, job_key, resumable
    from .channels import channel
    from .pipeline import Pipeline, PipelineConfig

    sampling = sampling_config(args)
    options = BulkOptions(channel(args.channel).name, args.overwrite)
    if args.ray_batch < 1:
        raise InputError("--ray-batch must be at least 1.")
    rows = read_rows(args.csv)  # bad uploads fail now, before the models load
    adapter = adapter_of(args)
    cfg = PipelineConfig(catalog=Path(args.db), adapter=adapter, lm=writer_lm(), min_reference_score=args.min_reference_score,
                         **({"threads": args.threads} if args.threads else {}))
    from tqdm import tqdm

    with PhotoArchive(args.zip) as archive:
        store = JobStore(args.jobs_db or AppConfig.from_env().data / "bulk_jobs.db") if args.jobs_db != "none" else None
        key = job_key(args.csv, args.zip, {"sampling": dataclasses.asdict(sampling), "options": options.settings(), "lm": writer_lm(),
                                           "adapter": str(adapter), "db": str(Path(args.db).resolve()),
                                           "min_reference_score": args.min_reference_score})

        def run(pending):
            if args.ray:
                from .bulk_ray import run_bulk_ray

                return run_bulk_ray(cfg, pending, archive, sampling, workers=args.workers, address=args.ray_address, options=options,
                                    batch_size=args.ray_batch)
            return run_bulk(Pipeline(cfg), pending, archive, sampling, options=options)

        results = resumable(rows, store, key, run, on_resume=lambda k, n: print(f"Resuming: {k} of {n} products were done by an earlier run."))
        done = list(tqdm(results, total=len(rows), desc="products", unit="product", disable=not sys.stderr.isatty()))
    write_results(done, args.out)
    counts = Counter(r.status for r in done)
    print(f"{counts['ok']} of {len(done)} products have drafts ({sum(r.passes for r in done)} pass every check and the {options.channel} "
          f"rules); {counts['skipped']} kept their description; {counts['error']} errors (see the message column). Results: {args.out}")
    return 0


def _index_and_train(sub) -> None:
    ix = sub.add_parser("index", help="build or update a catalog from a product folder (products.jsonl + images/)")
    ix.add_argument("--data", required=True, help="product folder in the shared data format")
    ix.add_argument("--db", required=True, help="SQLite catalog file (created if missing)")
    ix.add_argument("--split", default=None, help="only products of this split (train/dev/test)")
    ix.add_argument("--image-encoder", default=DEFAULT_IMAGE_ENCODER)
    ix.set_defaults(func=cmd_index)

    t = sub.add_parser("train", help="train ModICT's modules over the frozen backbones (resumes if interrupted)")
    t.add_argument("--data", nargs="+", required=True, help="product folders; their train split is used")
    t.add_argument("--out", default="runs/modict", help="run folder: checkpoints, loss log, curve, adapter")
    t.add_argument("--lm", default=TRAIN_LM, choices=sorted(LM_NAMES), help="default: the frozen-LM recipe's; the default writer's is --lm qwen2.5-1.5b --lora-rank 4")
    t.add_argument("--keywords", default="merchant", choices=DATA_KEYWORDS)
    t.add_argument("--steps", type=int, default=1200)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--warmup", type=int, default=50, help="steps of linear learning-rate warm-up")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--init", help="adapter (path stem) to start from, e.g. assets/modict/qwen2.5-1.5b/adapter to train the shipped one further")
    t.add_argument("--image-weight", type=float, default=DEFAULT_IMAGE_WEIGHT)
    t.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the frozen LM (about 1.8x faster on CPUs with AVX512-BF16)")
    t.add_argument("--no-copy-refs", action="store_true",
                   help="train on references the target does not copy 8 words of (as decoding forbids); else the next retrieved")
    t.add_argument("--lora-rank", type=int, default=0, help="also train LoRA branches of this rank on the LM (0: LM frozen)")
    t.add_argument("--lora-alpha", type=float, default=0.0, help="LoRA scale numerator (0: twice the rank)")
    t.add_argument("--lora-targets", default="attention,mlp", help="attention, mlp, or projection names (q_proj,v_proj)")
    t.add_argument("--lora-last-layers", type=int, default=0, help="LoRA on the last N layers only (0: all)")
    t.add_argument("--lora-lr", type=float, default=0.0, help="learning rate of the LoRA branches (0: --lr)")
    t.add_argument("--ckpt-every", type=int, default=50, help="steps between resumable checkpoints")
    t.set_defaults(func=cmd_train)


def _evaluate_and_generate(sub) -> None:
    e = sub.add_parser("evaluate", help="metrics of ModICT and its baselines on a product folder")
    e.add_argument("--data", required=True, help="product folder in the shared data format")
    e.add_argument("--split", default="test")
    e.add_argument("--limit", type=int, default=0, help="at most this many products per domain (0 = all)")
    e.add_argument("--n", type=int, default=SAMPLING.n, help="sampled drafts per product, for distinct-n and copy rate")
    e.add_argument("--keywords", default="merchant", choices=DATA_KEYWORDS)
    add_models_options(e, "catalog the references come from")
    e.add_argument("--lm", default=writer_lm(), choices=sorted(LM_NAMES), help=LM_HELP)
    e.add_argument("--methods", default="", help="comma-separated rows to run (default: the six); also modict_no_ban")
    e.add_argument("--json", action="store_true")
    add_decoding_options(e)
    e.set_defaults(func=cmd_evaluate)

    g = sub.add_parser("generate", help="reference + drafts for one product photo and its keywords")
    g.add_argument("--image", help="product photo (JPEG, PNG, WebP)")
    g.add_argument("--keywords", default="", help='comma-separated, e.g. "black, denim, slim fit"')
    add_sampling_options(g, "number of drafts (1-8)")
    g.add_argument("--seed", type=int, default=None)
    add_decoding_options(g)
    g.add_argument("--lm", default=writer_lm(), choices=sorted(LM_NAMES), help=LM_HELP)
    add_models_options(g, "catalog to take the reference from")
    g.add_argument("--image-weight", type=float, default=DEFAULT_IMAGE_WEIGHT, help="1.0 = image-only retrieval")
    g.add_argument("--writer", default="modict", choices=list(WRITERS), help="the trained ModICT adapter (when shipped) or the plain prompt")
    g.add_argument("--json", action="store_true", help='print {"reference": {...}, "drafts": [...], "listing": {...}} as one JSON object')
    g.add_argument("--channel", default=DEFAULT_CHANNEL, help=f"the listing's channel: {', '.join(channel_names())} (default: {DEFAULT_CHANNEL})")
    g.add_argument("--brand", default="", help="the brand: leads the listing's title")
    g.set_defaults(func=cmd_generate)


def _bulk(sub) -> None:
    b = sub.add_parser("bulk", help="drafts for every product of a CSV (id, keywords, image) + a ZIP of photos")
    b.add_argument("--csv", required=True, help="products CSV: id, keywords, image (a path inside the ZIP)")
    b.add_argument("--zip", required=True, help="ZIP of the product photos")
    b.add_argument("--out", required=True, help="results CSV to write")
    add_sampling_options(b, "drafts per product (1-8)")
    b.add_argument("--seed", type=int, default=None, help="same seed, same drafts (in-process or on Ray)")
    add_decoding_options(b)
    add_models_options(b, "catalog to take references from")
    b.add_argument("--threads", type=int, default=0, help="torch threads per pipeline (default: all cores)")
    b.add_argument("--ray", action="store_true", help="run on Ray: pipeline replicas as actors")
    b.add_argument("--ray-address", default=None, help="a running Ray cluster (default: start Ray on this machine)")
    b.add_argument("--workers", type=int, default=1, help="pipeline replicas on Ray (each reserves --threads cores)")
    b.add_argument("--ray-batch", type=int, default=8, help="rows per Ray task: a crash loses at most the rows of the tasks in flight")
    b.add_argument("--channel", default=DEFAULT_CHANNEL, help=f"the listing each product gets: {', '.join(channel_names())}")
    b.add_argument("--overwrite", action="store_true", help="also draft rows whose CSV has a description (default: keep it)")
    b.add_argument("--jobs-db", default="", help="where finished rows are kept, so that a killed job resumes "
                                                 "(default: bulk_jobs.db in the data folder; 'none': not kept)")
    b.set_defaults(func=cmd_bulk)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ecomcopy", description=__doc__)
    ap.add_argument("--debug", action="store_true", help="show full tracebacks and library warnings")
    sub = ap.add_subparsers(dest="command", required=True)
    _index_and_train(sub)
    _evaluate_and_generate(sub)
    _bulk(sub)
    users_cli.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.debug:
        _quiet()
    try:
        return args.func(args)
    except EcomcopyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI never shows a stack trace unless asked
        if args.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
