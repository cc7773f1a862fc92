"""The options that several commands share (decoding, sampling, models) and how they become settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import (COPY_GUARDS, DECODING_FIELDS, DEMO_CATALOG_DB, KEYWORD_MODES, MIN_REFERENCE_SCORE, RANKINGS, REPEAT_UNITS,
                     SAMPLING, SamplingConfig, shipped_adapter, writer_lm)


def sampling_config(args: argparse.Namespace) -> SamplingConfig:
    """The sampling settings that `generate` and `bulk` share."""
    return SamplingConfig(n=args.n, max_new_tokens=args.max_tokens, seed=args.seed,
                          **decoding_settings(args)).validate()


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    """`--temperature`, `--top-p`, `--candidates`, `--max-words`, `--keyword-boost`, `--copy-guard`, `--no-repeat(-unit)`, `--spelling`, `--ranking`,
    for every command that writes drafts (None = the shipped default: absent options are left to SamplingConfig's defaults)."""
    parser.add_argument("--temperature", type=float, default=None, help=f"sampling temperature (default: {SAMPLING.temperature})")
    parser.add_argument("--top-p", type=float, default=None, help=f"nucleus sampling mass (default: {SAMPLING.top_p})")
    parser.add_argument("--candidates", type=int, default=None,
                        help="drafts sampled per draft shown, the best shown (1 = no ranking; default: the shipped setting)")
    parser.add_argument("--max-words", type=int, default=None,
                        help="a shown draft keeps its whole sentences up to this many words (0 = all; default: the shipped setting)")
    parser.add_argument("--keyword-boost", type=float, default=None,
                        help="logit bonus for the keywords until a draft has used them (0 = off; default: the shipped setting)")
    parser.add_argument("--keyword-mode", choices=KEYWORD_MODES, default=None,
                        help="when emphasis lets a keyword go: phrase (default), word, once")
    parser.add_argument("--ranking", choices=RANKINGS, default=None,
                        help="which candidates are shown: rules (the checker's flags; default) or editor (the editor score)")
    parser.add_argument("--copy-guard", choices=COPY_GUARDS, default=None,
                        help="keep drafts from repeating 8 words (words) or 8 tokens (tokens) of the reference (default: shipped)")
    parser.add_argument("--no-repeat", type=int, default=None,
                        help="a draft may not repeat a run of this many of its own words (0 = off; default: the shipped setting)")
    parser.add_argument("--no-repeat-unit", choices=REPEAT_UNITS, default=None,
                        help="what --no-repeat counts (default: words)")
    parser.add_argument("--spelling", action=argparse.BooleanOptionalAction, default=None,
                        help="write only words the draft checker knows (default: the shipped setting, on)")


def decoding_settings(args: argparse.Namespace) -> dict:
    """The decoding options given on the command line, as SamplingConfig fields (absent = the shipped default)."""
    return {k: v for k in DECODING_FIELDS if (v := getattr(args, k)) is not None}


def add_sampling_options(parser: argparse.ArgumentParser, drafts_help: str) -> None:
    """The request settings of `generate` and `bulk` (defaults: config.SAMPLING)."""
    parser.add_argument("--n", type=int, default=SAMPLING.n, help=drafts_help)
    parser.add_argument("--max-tokens", type=int, default=SAMPLING.max_new_tokens)


LM_HELP = "the writer's LM: its shipped adapter, else the plain prompt (default: ECOMCOPY_LM, else the default writer's)"


def adapter_of(args: argparse.Namespace) -> Path | None:
    """--adapter: a path stem, 'none' (the plain prompt), or unset: the shipped adapter of --lm (bulk: ECOMCOPY_LM's)."""
    if args.adapter == "none":
        return None
    return Path(args.adapter) if args.adapter else shipped_adapter(getattr(args, "lm", None) or writer_lm())


def add_models_options(parser: argparse.ArgumentParser, db_help: str) -> None:
    parser.add_argument("--db", default=str(DEMO_CATALOG_DB), help=db_help)
    parser.add_argument("--adapter", default="", help="ModICT adapter (path stem), or 'none'; default: the shipped one of --lm")
    parser.add_argument("--min-reference-score", type=float, default=MIN_REFERENCE_SCORE,
                        help="a best catalog match under this similarity is not used as the reference (0 = always use it)")
