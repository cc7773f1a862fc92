"""The sampler: n drafts in one batched `generate` call, each cut at the end of its description."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from .errors import InputError
from .lm import LoadedLM


@dataclass
class SamplingConfig:
    n: int = 4  # drafts per request
    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 60
    seed: int | None = None

    def validate(self) -> "SamplingConfig":
        if not 1 <= self.n <= 8:
            raise InputError("Number of drafts must be between 1 and 8.")
        if not 0.05 <= self.temperature <= 2.0:
            raise InputError("Temperature must be between 0.05 and 2.")
        if not 0.1 <= self.top_p <= 1.0:
            raise InputError("Top-p must be between 0.1 and 1.")
        if not 8 <= self.max_new_tokens <= 200:
            raise InputError("Maximum length must be between 8 and 200 tokens.")
        return self


_STOP = "\n"  # the prompt puts each description on one line
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def clean_partial(text: str) -> str:
    """A draft still being written: its first line only."""
    return text.split(_STOP, 1)[0].strip()


def clean_draft(text: str) -> str:
    """Keep the first line; if the length limit cut a sentence, drop the unfinished tail."""
    text = clean_partial(text)
    text = re.split(r"\s*(?:Keywords|Description):", text, maxsplit=1)[0].strip()
    if text and text[-1] not in ".!?":
        ends = list(_SENTENCE_END.finditer(text))
        if ends:
            text = text[: ends[-1].end()]
    return text


def dedupe(drafts: list[str]) -> list[str]:
    """Drop empty drafts and exact duplicates (ignoring case and spacing), keeping the first."""
    seen, out = set(), []
    for d in drafts:
        key = " ".join(d.lower().split())
        if key and key not in seen:
            seen.add(key)
            out.append(d)
    return out


class DraftStreamer(BaseStreamer):
    """Collects the n drafts' tokens as `generate` produces them, so a UI can show them growing.

    Also a stop switch: `cancel()` (e.g. the browser went away) ends generation at the next token.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._tokens: list[list[int]] = []
        self._prompt_seen = False
        self._lock = threading.Lock()
        self.finished = threading.Event()
        self.cancelled = threading.Event()

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        ids = value.reshape(-1).tolist()  # (n,) one new token per draft
        with self._lock:
            if not self._tokens:
                self._tokens = [[] for _ in ids]
            for seq, t in zip(self._tokens, ids):
                seq.append(t)

    def end(self) -> None:
        self.finished.set()

    def cancel(self) -> None:
        self.cancelled.set()

    def texts(self) -> list[str]:
        """The drafts so far, each cut to its first line (the unfinished sentence is kept: it is still growing)."""
        with self._lock:
            seqs = [list(s) for s in self._tokens]
        return [clean_partial(t) for t in self.tokenizer.batch_decode(seqs, skip_special_tokens=True)]

    def stopping_criteria(self) -> list[StoppingCriteria]:
        return [_Cancelled(self.cancelled)]


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class NewlineStop(StoppingCriteria):
    """Ends a draft at its first token containing a newline (each description is one line).

    transformers' `stop_strings` does the same but rebuilds a table over the whole vocabulary on every call
    (1.4 s of a 5 s request with Qwen's 151k tokens); this set is computed once per tokenizer.
    """

    def __init__(self, tokenizer) -> None:
        ids = getattr(tokenizer, "_ecomcopy_newline_ids", None)
        if ids is None:
            texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
            ids = torch.tensor([i for i, t in enumerate(texts) if "\n" in t], dtype=torch.long)
            tokenizer._ecomcopy_newline_ids = ids
        self.ids = ids

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        return torch.isin(input_ids[:, -1], self.ids.to(input_ids.device))


def stopping(tokenizer, streamer: DraftStreamer | None = None) -> dict:
    """generate() arguments: stop at the end of the line; with a streamer, stream and stop when cancelled."""
    criteria = [NewlineStop(tokenizer)] + (streamer.stopping_criteria() if streamer is not None else [])
    return {"stopping_criteria": criteria, **({"streamer": streamer} if streamer is not None else {})}


@torch.inference_mode()
def sample_drafts(lm: LoadedLM, prompt: str, cfg: SamplingConfig, greedy: bool = False,
                  streamer: DraftStreamer | None = None) -> list[str]:
    """One batched call: the prompt is encoded once and expanded to n sequences sharing its KV cache."""
    cfg.validate()
    if cfg.seed is not None:
        torch.manual_seed(cfg.seed)
    tok = lm.tokenizer
    enc = tok(prompt, return_tensors="pt")
    out = lm.model.generate(
        **enc,
        do_sample=not greedy,
        temperature=None if greedy else cfg.temperature,
        top_p=None if greedy else cfg.top_p,
        max_new_tokens=cfg.max_new_tokens,
        num_return_sequences=1 if greedy else cfg.n,
        pad_token_id=tok.pad_token_id,
        **stopping(tok, streamer),
    )  # (n, prompt_len + new)
    texts = tok.batch_decode(out[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
    return dedupe([clean_draft(t) for t in texts])


def reference_ngram_ban(tokenizer, reference: str, n: int = 8) -> list[list[int]]:
    """Token n-grams of the reference description, for `bad_words_ids`: a draft may not reproduce any run of n
    tokens of it (both the sentence-initial and the mid-sentence tokenisation are banned)."""
    banned: set[tuple[int, ...]] = set()
    for text in (reference, " " + reference):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        banned.update(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    return [list(g) for g in sorted(banned)]


class NgramBan(LogitsProcessor):
    """`bad_words_ids` for many n-grams at O(1) a step: a dict from the last n-1 tokens to the banned next tokens.

    transformers' NoBadWordsLogitsProcessor compares every banned sequence at every step (about 1 s of a
    4-draft request for a 60-word reference)."""

    def __init__(self, ngrams: list[list[int]]) -> None:
        self.n = len(ngrams[0]) if ngrams else 0
        self.next: dict[tuple[int, ...], list[int]] = {}
        for g in ngrams:
            self.next.setdefault(tuple(g[:-1]), []).append(g[-1])

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.next or input_ids.shape[1] < self.n - 1:
            return scores
        for b, tail in enumerate(input_ids[:, input_ids.shape[1] - (self.n - 1) :].tolist()):
            banned = self.next.get(tuple(tail))
            if banned:
                scores[b, banned] = -float("inf")
        return scores


def modict_drafts(model, example, cfg: SamplingConfig, ban_reference: bool = True, greedy: bool = False,
                  streamer: DraftStreamer | None = None) -> list[str]:
    """Drafts from a ModICT model: sampled (n) or greedy (1), never reproducing 8-token runs of the reference."""
    cfg.validate()
    if cfg.seed is not None:
        torch.manual_seed(cfg.seed)
    ban = reference_ngram_ban(model.lm.tokenizer, example.ref_description) if ban_reference and example.ref_description else None
    texts = model.generate(example, n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                           do_sample=not greedy, bad_words_ids=ban, streamer=streamer)
    return dedupe([clean_draft(t) for t in texts])
