"""The sampler: n drafts after one prefill, sampled together with a shared-prompt KV cache, each cut at the end of its line."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import DynamicCache

from .errors import InputError
from .lm import LoadedLM


KEYWORD_BOOST = 4.0  # chosen on H&M and IKEA dev (docs/EVALUATION.md, "Keyword emphasis")
COPY_GUARDS = ("tokens", "words")  # how drafts are kept from copying the reference (`copy_guard`)
COPY_GUARD = "words"  # chosen on H&M and IKEA dev (docs/EVALUATION.md, "The word-level copy guard")
NO_REPEAT = 4  # no run of 4 of a draft's own words twice: ends loops (docs/EVALUATION.md, "The word-level repetition limit")


@dataclass
class SamplingConfig:
    n: int = 4  # drafts per request
    temperature: float = 0.8
    top_p: float = 0.9
    max_new_tokens: int = 60
    seed: int | None = None
    keyword_boost: float = KEYWORD_BOOST  # logit nudge towards the merchant's keywords (`KeywordBoost`); 0 turns it off
    copy_guard: str = COPY_GUARD  # "words": no 8-word run of the reference (`WordRunGuard`); "tokens": no 8-token run (`NgramBan`)
    no_repeat: int = NO_REPEAT  # a draft may not repeat any run of this many of its own words or tokens (0 = allowed)
    no_repeat_unit: str = "words"  # "words" (`copy_guard.WordRepeatGuard`) or "tokens" (transformers' processor)

    def validate(self) -> "SamplingConfig":
        if not 1 <= self.n <= 8:
            raise InputError("Number of drafts must be between 1 and 8.")
        if not 0.05 <= self.temperature <= 2.0:
            raise InputError("Temperature must be between 0.05 and 2.")
        if not 0.1 <= self.top_p <= 1.0:
            raise InputError("Top-p must be between 0.1 and 1.")
        if not 8 <= self.max_new_tokens <= 200:
            raise InputError("Maximum length must be between 8 and 200 tokens.")
        if not 0.0 <= self.keyword_boost <= 10.0:
            raise InputError("Keyword emphasis must be between 0 and 10.")
        if not (self.no_repeat == 0 or 2 <= self.no_repeat <= 20):
            raise InputError("The repetition limit must be 0 (off) or between 2 and 20.")
        if self.no_repeat_unit not in ("words", "tokens"):
            raise InputError("The repetition limit counts words or tokens.")
        if self.copy_guard not in COPY_GUARDS:
            raise InputError(f"Copy guard must be one of: {', '.join(COPY_GUARDS)}.")
        return self


_STOP = "\n"  # the prompt puts each description on one line
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


_MARKUP = re.compile(r"<[^<>]{0,200}(?:>|$)")  # HTML/XML tags (or one cut off at the end): product copy is plain text


def visible_text(text: str) -> str:
    """What of a draft will be shown: its first line, without markup tags (spacing kept)."""
    return _MARKUP.sub(" ", text.split(_STOP, 1)[0])


def clean_partial(text: str) -> str:
    """A draft still being written: its first line only, without markup tags."""
    return " ".join(visible_text(text).split())


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


class DraftStreamer:
    """Collects the n drafts' tokens as `decode` produces them, so a UI can show them growing.

    Also a stop switch: `cancel()` (e.g. the browser went away) ends generation at the next token.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._tokens: list[list[int]] = []
        self._lock = threading.Lock()
        self.finished = threading.Event()
        self.cancelled = threading.Event()

    def put(self, value: torch.Tensor) -> None:
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


TOP_K = 50  # candidates per step before top-p: transformers' default, so the distribution is the same


def pick_next(scores: torch.Tensor, temperature: float, top_p: float, greedy: bool) -> torch.Tensor:
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
    choice = torch.multinomial(probs, 1)  # (B, 1)
    return idx.gather(-1, choice).squeeze(-1)


@torch.inference_mode()
def decode(lm_model, prompt: dict, n: int, max_new_tokens: int, stop: torch.Tensor, temperature: float = 0.8,
           top_p: float = 0.9, greedy: bool = False, ban=None, pad_id: int = 0,
           streamer: DraftStreamer | None = None, boost: "KeywordBoost | None" = None) -> torch.Tensor:
    """n drafts after one prompt: the prompt is run once, its KV cache copied to n rows, then all n are
    sampled together, one token a step, until each has ended its line (or was cancelled).

    prompt: `input_ids` or `inputs_embeds` of batch 1 for the HF causal LM. Returns (n, new) token ids,
    padded with `pad_id` after a draft's end.
    """
    cache = DynamicCache(config=lm_model.config)
    logits = lm_model(**prompt, past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]  # (1, V)
    cache.batch_repeat_interleave(n)
    logits = logits.expand(n, -1)
    out = torch.empty(n, 0, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    for _ in range(max_new_tokens):
        scores = logits.float()
        if boost is not None or ban is not None:
            scores = scores.clone()  # logits may be the model's own output buffer
        if boost is not None:
            scores = boost(out, scores)
        if ban is not None:  # the hard constraints (`constraints`), after the boost: a banned token stays banned
            scores = ban(out, scores)
        nxt = pick_next(scores, temperature, top_p, greedy).masked_fill(done, pad_id)  # (n,)
        out = torch.cat([out, nxt[:, None]], dim=1)
        if streamer is not None:
            streamer.put(nxt)
        done |= torch.isin(nxt, stop)
        if bool(done.all()) or (streamer is not None and streamer.cancelled.is_set()):
            break
        logits = lm_model(input_ids=nxt[:, None], past_key_values=cache, use_cache=True).logits[:, -1]  # (n, V)
    return out


@torch.inference_mode()
def sample_drafts(lm: LoadedLM, prompt: str, cfg: SamplingConfig, greedy: bool = False,
                  streamer: DraftStreamer | None = None, keywords: list[str] = (), reference: str | None = None) -> list[str]:
    """The plain in-context prompt on the frozen LM: n drafts (1 when greedy) after one prefill, nudged
    towards `keywords` (the product's, already in the prompt) by `cfg.keyword_boost` and kept by
    `cfg.copy_guard` from copying `reference` (the in-context example's description), like ModICT's."""
    cfg.validate()
    if cfg.seed is not None:
        torch.manual_seed(cfg.seed)
    tok = lm.tokenizer
    enc = tok(prompt, return_tensors="pt")
    out = decode(lm.model, {"input_ids": enc.input_ids}, 1 if greedy else cfg.n, cfg.max_new_tokens, stop_ids(tok),
                 cfg.temperature, cfg.top_p, greedy, ban=constraints(tok, reference, cfg), pad_id=tok.pad_token_id or 0,
                 streamer=streamer, boost=keyword_boost(tok, list(keywords), cfg.keyword_boost))
    texts = tok.batch_decode(out, skip_special_tokens=True)
    return dedupe([clean_draft(t) for t in texts])


def reference_ngram_ban(tokenizer, reference: str, n: int = 8) -> list[list[int]]:
    """Token n-grams of the reference description, for `NgramBan`: a draft may not reproduce any run of n
    tokens of it (both the sentence-initial and the mid-sentence tokenisation are banned)."""
    banned: set[tuple[int, ...]] = set()
    for text in (reference, " " + reference):
        ids = tokenizer(text, add_special_tokens=False).input_ids
        banned.update(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    return [list(g) for g in sorted(banned)]


class NgramBan:
    """Bans n-grams at O(1) a step: a dict from the last n-1 tokens to the banned next tokens.

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


class KeywordBoost:
    """A soft lexical constraint: the merchant's keywords get a logit bonus until a draft has written them.

    Merchants expect the phrases they typed ("tie belt", "satin") in the copy, and the model alone used few
    of them. Each keyword is a few token sequences (its mid-sentence spellings: as typed, lower-case,
    capitalised). From a draft's second token on (the model alone chooses how a draft opens: boosted from the
    first token, drafts tended to open with a list of the keywords), while a draft has not written a keyword,
    the first token of each spelling gets +strength, and a spelling it has begun gets +strength on its next
    token instead; once written, the keyword is left alone. A nudge, not a rule (unlike constrained beam
    search): the model still decides, and `NgramBan` wins. Stateful per `decode` call: it tracks which
    keywords each draft has written.
    """

    def __init__(self, tokenizer, keywords: list[str], strength: float) -> None:
        self.strength = strength
        self.spellings: list[list[tuple[int, ...]]] = []  # per keyword: its spellings' token ids
        for k in keywords:
            forms = {k, k.lower(), k[:1].upper() + k[1:]}
            seqs = {tuple(tokenizer(" " + f, add_special_tokens=False).input_ids) for f in forms}
            if any(seqs):
                self.spellings.append(sorted(s for s in seqs if s))
        self._written: list[set[int]] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] == 0:  # a new decode: nothing written yet, and the opening is the model's
            self._written = [set() for _ in range(scores.shape[0])]
            return scores
        for b, seq in enumerate(input_ids.tolist()):
            written, boosted = self._written[b], set()
            for k, spellings in enumerate(self.spellings):
                if k in written:
                    continue
                if any(tuple(seq[-len(s):]) == s for s in spellings if len(seq) >= len(s)):
                    written.add(k)
                    continue
                for s in spellings:
                    nxt = s[0]
                    for j in range(min(len(s) - 1, len(seq)), 0, -1):  # the longest begun part of this spelling
                        if tuple(seq[-j:]) == s[:j]:
                            nxt = s[j]
                            break
                    boosted.add(nxt)
            if boosted:
                scores[b, list(boosted)] += self.strength
        return scores


def keyword_boost(tokenizer, keywords: list[str], strength: float) -> KeywordBoost | None:
    return KeywordBoost(tokenizer, keywords, strength) if keywords and strength > 0 else None


def modict_drafts(model, example, cfg: SamplingConfig, ban_reference: bool = True, greedy: bool = False,
                  streamer: DraftStreamer | None = None) -> list[str]:
    """Drafts from a ModICT model: sampled (n) or greedy (1), kept by `cfg.copy_guard` from copying the reference."""
    cfg.validate()
    if cfg.seed is not None:
        torch.manual_seed(cfg.seed)
    texts = model.generate(example, n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                           do_sample=not greedy, streamer=streamer,
                           ban=constraints(model.lm.tokenizer, example.ref_description if ban_reference else None, cfg),
                           boost=keyword_boost(model.lm.tokenizer, example.keywords, cfg.keyword_boost))
    return dedupe([clean_draft(t) for t in texts])


def constraints(tokenizer, reference: str | None, cfg: SamplingConfig):
    """The hard constraints on the next token, applied after the keyword boost (None when there are none):
    the repetition limit when `cfg.no_repeat` is set (word-level, or transformers' `NoRepeatNGramLogitsProcessor`
    on tokens), then the copy guard (last, as it checks the candidates that are left)."""
    from transformers import LogitsProcessorList, NoRepeatNGramLogitsProcessor

    from .copy_guard import WordRepeatGuard

    procs = []
    if cfg.no_repeat:
        procs.append(WordRepeatGuard(tokenizer, cfg.no_repeat) if cfg.no_repeat_unit == "words"
                     else NoRepeatNGramLogitsProcessor(cfg.no_repeat))
    guard = copy_guard(tokenizer, reference, cfg.copy_guard)
    procs += [guard] if guard is not None else []
    return LogitsProcessorList(procs) if procs else None


def copy_guard(tokenizer, reference: str | None, kind: str):
    """The logits processor that keeps drafts from copying `reference` (None when there is no reference)."""
    if not reference:
        return None
    if kind == "words":
        from .copy_guard import WordRunGuard

        return WordRunGuard(tokenizer, reference)
    ngrams = reference_ngram_ban(tokenizer, reference)
    return NgramBan(ngrams) if ngrams else None
