"""The sampler: n drafts after one prefill, sampled together with a shared-prompt KV cache, each cut at the end of
its line, streamed as they grow. The two writers (the plain prompt, ModICT) both end here."""

from __future__ import annotations

import json
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from transformers import DynamicCache

from .config import TOP_K, SamplingConfig
from .constraints import LogitRules, logit_rules
from .lm import LoadedLM
from .prefix import Prefix
from .text import clean_draft, clean_partial, dedupe, settled


class DraftStreamer:
    """Collects the n drafts' tokens as `decode` produces them, so a UI can show them growing.

    Also a stop switch: `cancel()` (e.g. the browser went away) ends generation at the next token.
    """

    def __init__(self, tokenizer, shown: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.shown = shown  # stream only the first `shown` rows (the rest are extra candidates for ranking)
        self._tokens: list[list[int]] = []
        self._lock = threading.Lock()
        self.finished = threading.Event()
        self.cancelled = threading.Event()
        self.first_at: float | None = None  # time.time() of the first token (the first words shown)
        self.place = 0  # its place in line for the model while other requests' drafts fill the batch (0: decoding)

    def put(self, value: torch.Tensor) -> None:
        ids = value.reshape(-1).tolist()  # (n,) one new token per draft
        with self._lock:
            if not self._tokens:
                self._tokens = [[] for _ in ids]
                self.first_at = time.time()
            for seq, t in zip(self._tokens, ids):
                seq.append(t)

    def end(self) -> None:
        self.finished.set()

    def cancel(self) -> None:
        self.cancelled.set()

    def texts(self) -> list[str]:
        """The drafts so far, each cut to its first line (the unfinished sentence is kept: it is still growing)."""
        with self._lock:
            seqs = [list(s) for s in self._tokens[: self.shown]]
        return [clean_partial(t) for t in self.tokenizer.batch_decode(seqs, skip_special_tokens=True)]


def stop_ids(tokenizer) -> torch.Tensor:
    """Tokens that end a draft: any token containing a newline (each description is one line), and EOS.

    A scan of the whole vocabulary (151k tokens for Qwen: 0.8 s), so it is done once per tokenizer and, for
    the LMs converted into our cache folder, saved there for the next start; transformers' `stop_strings`
    rebuilt such a table on every call (1.4 s of a 5 s request).
    """
    ids = getattr(tokenizer, "_ecomcopy_stop_ids", None)
    if ids is None:
        path = _stop_ids_path(tokenizer)
        saved = _read_stop_ids(path)
        found = saved.get("ids") if saved.get("vocabulary") == len(tokenizer) and saved.get("eos") == tokenizer.eos_token_id else None
        if found is None:
            texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
            found = sorted({i for i, t in enumerate(texts) if "\n" in t} | ({tokenizer.eos_token_id} - {None}))
            _write_stop_ids(path, {"vocabulary": len(tokenizer), "eos": tokenizer.eos_token_id, "ids": found})
        ids = torch.tensor(found, dtype=torch.long)
        tokenizer._ecomcopy_stop_ids = ids
    return ids


_STOP_IDS_FILE = "ecomcopy_stop_ids.json"


def _stop_ids_path(tokenizer) -> Path | None:
    """Beside the tokenizer's files when they are our converted LM's (its folder holds `ecomcopy.json`)."""
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    return folder / _STOP_IDS_FILE if (folder / "ecomcopy.json").is_file() else None


def _read_stop_ids(path: Path | None) -> dict:
    try:
        return json.loads(path.read_text()) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        return {}  # unreadable: scan again


def _write_stop_ids(path: Path | None, table: dict) -> None:
    if path is None:
        return
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(table))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache costs the next start 0.8 s, nothing else


def pick_next(scores: torch.Tensor, temperature: float, top_p: float, greedy: bool,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) logits -> (B,) next tokens: greedy, or temperature + top-k + top-p (nucleus) sampling.

    The nucleus is drawn from the top-k candidates only: transformers samples over the whole
    vocabulary (an exponential draw per token, 12 ms a step for 4 x 151k on 2 cores) to the same effect.
    """
    if greedy:
        return scores.argmax(-1)
    vals, idx = (scores / temperature).topk(min(TOP_K, scores.shape[-1]), dim=-1)  # (B, k), sorted
    probs = vals.softmax(-1)
    outside = probs.cumsum(-1) - probs > top_p  # the most likely token always stays
    probs = probs.masked_fill(outside, 0.0)
    choice = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
    return idx.gather(-1, choice).squeeze(-1)


class Settled:
    """Which drafts still growing need no more tokens (`text.settled`): a sampled draft past `max_words` ends
    at its next sentence end, the greedy one (never cut) only at a label. Up to half the decode steps of a
    default request were spent on words the cut then dropped."""

    def __init__(self, tokenizer, max_words: int) -> None:
        self.tokenizer, self.max_words = tokenizer, max_words

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """(A, t) tokens of the drafts still growing -> (A,) True where a draft is settled."""
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return torch.tensor([settled(t, self.max_words) for t in texts], dtype=torch.bool)


@dataclass
class Draft:
    """A sampled draft and how likely the LM finds it: ranking prefers fluent drafts among equally clean ones."""

    text: str
    logprob: float  # mean log-probability per token under the LM's own distribution (before the logit rules)


class Decoding:
    """One request's n drafts while they are decoded: their tokens so far, log-probabilities, rules, random
    generator and end. `decode` runs one alone; `scheduler.Scheduler` runs several in one batch, where each
    request still picks its tokens from its own rows' logits with its own generator, so its drafts do not
    depend on the requests beside it."""

    def __init__(self, n: int, max_new_tokens: int, stop: torch.Tensor, temperature: float = 0.8, top_p: float = 0.9,
                 greedy: bool = False, rules: LogitRules | None = None, pad_id: int = 0, streamer: DraftStreamer | None = None,
                 settled: Settled | None = None, generator: torch.Generator | None = None) -> None:
        self.n, self.max_new_tokens, self.stop, self.temperature, self.top_p, self.greedy = n, max_new_tokens, stop, temperature, top_p, greedy
        self.rules, self.pad_id, self.streamer, self.settled, self.generator = rules, pad_id, streamer, settled, generator
        self.active = torch.arange(n)  # (A,) which drafts the rows still growing are
        self.step = torch.empty(0, dtype=torch.long)  # (A,) their newest tokens, the next model call's input
        self.out = torch.empty(n, 0, dtype=torch.long)  # (n, t)
        self.logprob, self.length = torch.zeros(n), torch.zeros(n)

    def advance(self, logits: torch.Tensor) -> torch.Tensor | None:
        """(A, V) logits of the rows still growing -> one token each; returns the (A',) indices of the rows that
        go on growing (their tokens in `self.step`), or None once every draft has ended (or was cancelled)."""
        n, rows = self.n, logits.float()
        lm_scores = rows.log_softmax(-1)  # the LM's own, before the rules move it
        if self.rules is not None:  # the rules keep per-draft state: they see every draft, in order
            scores = torch.full((n, rows.shape[-1]), float("-inf"))
            scores[self.active] = rows
            rows = self.rules(self.out, scores)[self.active]
            rows[~torch.isfinite(rows).any(-1), self.stop[0]] = 0.0  # a rule left a draft no token: it ends here
        step = pick_next(rows, self.temperature, self.top_p, self.greedy, self.generator)  # (A,)
        self.logprob[self.active] += lm_scores.gather(-1, step[:, None]).squeeze(-1)
        self.length[self.active] += 1
        nxt = torch.full((n,), self.pad_id, dtype=torch.long).index_put_((self.active,), step)
        self.out = torch.cat([self.out, nxt[:, None]], dim=1)
        if self.streamer is not None:
            self.streamer.put(nxt)
        growing = ~torch.isin(step, self.stop)
        if self.settled is not None:
            growing &= ~self.settled(self.out[self.active])
        if not bool(growing.any()) or self.out.shape[1] >= self.max_new_tokens or self.cancelled():
            return None
        keep = growing.nonzero().squeeze(-1)
        self.active, self.step = self.active[keep], step[keep]
        return keep

    def cancelled(self) -> bool:
        return self.streamer is not None and self.streamer.cancelled.is_set()

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, new) token ids, padded after each draft's end, and (n,) mean log-probabilities per token."""
        return self.out, self.logprob / self.length.clamp(min=1)


@torch.inference_mode()
def decode(lm_model, prompt: dict | Callable[[], tuple[dict, Prefix | None]], n: int, max_new_tokens: int, stop: torch.Tensor,
           temperature: float = 0.8, top_p: float = 0.9, greedy: bool = False, rules: LogitRules | None = None, pad_id: int = 0,
           streamer: DraftStreamer | None = None, settled: Settled | None = None,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n drafts after one prompt, alone: the prompt is run once, its KV cache copied to n rows, then all n are
    sampled together, one token a step, until each has ended its line or is `settled` (or was cancelled). A
    draft that has ended leaves the batch (its cache row is dropped), so the steps left cost only the drafts
    still growing: with 3 candidates per draft shown the batch is wide, and its longest drafts end last.

    prompt: `input_ids` or `inputs_embeds` of batch 1 for the HF causal LM, or a callable that makes them
    (and the ModICT prefix) on the model thread; rules: `constraints.logit_rules`.
    Returns (n, new) token ids, padded with `pad_id` after a draft's end, and (n,) each draft's mean
    log-probability per token under the unruled LM.
    """
    prompt, prefix = prompt() if callable(prompt) else (prompt, None)
    run = Decoding(n, max_new_tokens, stop, temperature, top_p, greedy, rules, pad_id, streamer, settled, generator)
    with prefix.alone() if prefix is not None else nullcontext():
        cache, keep = prefill(lm_model, prompt, run)
        while keep is not None:
            logits = lm_model(input_ids=run.step[:, None], past_key_values=cache, use_cache=True).logits[:, -1]  # (A, V)
            keep = run.advance(logits)
            if keep is not None and len(keep) < len(logits):
                cache.batch_select_indices(keep)
    return run.result()


def prefill(lm_model, prompt: dict, run: Decoding) -> tuple[DynamicCache, torch.Tensor | None]:
    """The prompt run once (one row), its KV cache copied to the request's n drafts, and their first tokens: the
    cache of the drafts still growing and `run.advance`'s keep (None: every draft already ended). The prefix, if
    any, is the caller's to apply."""
    cache = DynamicCache(config=lm_model.config)
    logits = lm_model(**prompt, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]  # (1, V)
    cache.batch_repeat_interleave(run.n)
    keep = run.advance(logits.expand(run.n, -1))
    if keep is not None and len(keep) < run.n:
        cache.batch_select_indices(keep)
    return cache, keep


@torch.inference_mode()
def prompt_drafts(lm: LoadedLM, prompt: str, cfg: SamplingConfig, greedy: bool = False,
                  streamer: DraftStreamer | None = None, keywords: list[str] = (), reference: str | None = None,
                  rows: int | None = None, checker=None, decoder: Callable = decode) -> list[Draft]:
    """The plain in-context prompt on the frozen LM: `rows` drafts (`cfg.n` by default, 1 when greedy) after
    one prefill, nudged towards `keywords` (the product's, already in the prompt), kept from copying
    `reference` (the in-context example's description; None = unguarded) and spelled with the words `checker`
    knows, like ModICT's. `decoder`: `decode`, or a `scheduler.Scheduler`'s, which batches it with others."""
    generator = _start(cfg)
    tok = lm.tokenizer
    enc = tok(prompt, return_tensors="pt")
    out, logprob = decoder(lm.model, {"input_ids": enc.input_ids}, 1 if greedy else rows or cfg.n, cfg.max_new_tokens, stop_ids(tok),
                           cfg.temperature, cfg.top_p, greedy, logit_rules(tok, cfg, keywords, reference, checker), tok.pad_token_id or 0, streamer,
                           settled_for(tok, cfg, greedy), generator)
    return drafts_of(tok.batch_decode(out, skip_special_tokens=True), logprob.tolist())


def modict_drafts(model, example, cfg: SamplingConfig, guard_reference: bool = True, greedy: bool = False,
                  streamer: DraftStreamer | None = None, rows: int | None = None, checker=None, decoder: Callable = decode) -> list[Draft]:
    """Drafts from a ModICT model (`model.ModICT`) for one `prompt.Example`: sampled (`rows`, `cfg.n` by
    default) or greedy (1), kept by `cfg.copy_guard` from copying the example's reference unless
    `guard_reference` is off, and spelled with the words `checker` knows."""
    generator = _start(cfg)
    rules = logit_rules(model.lm.tokenizer, cfg, example.keywords, example.ref_description if guard_reference else None, checker)
    texts, logprob = model.generate(example, n=rows or cfg.n, temperature=cfg.temperature, top_p=cfg.top_p,
                                    max_new_tokens=cfg.max_new_tokens, do_sample=not greedy, streamer=streamer, rules=rules,
                                    settled=settled_for(model.lm.tokenizer, cfg, greedy), generator=generator, decoder=decoder)
    return drafts_of(texts, logprob.tolist())


def settled_for(tokenizer, cfg: SamplingConfig, greedy: bool) -> Settled:
    """The greedy draft is shown whole (evaluate scores it), so only sampled ones end at the word limit."""
    return Settled(tokenizer, 0 if greedy else cfg.max_words)


def drafts_of(texts: list[str], logprobs: list[float]) -> list[Draft]:
    """Cleaned drafts, empty ones and exact duplicates dropped (the first kept)."""
    cleaned = [clean_draft(t) for t in texts]
    kept = set(dedupe(cleaned))
    out = []
    for text, lp in zip(cleaned, logprobs):
        if text in kept:
            kept.discard(text)
            out.append(Draft(text, lp))
    return out


def _start(cfg: SamplingConfig) -> torch.Generator | None:
    """A seeded request draws from its own generator, so that requests decoded beside it cannot move its draws."""
    cfg.validate()
    return torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
