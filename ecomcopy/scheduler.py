"""Continuous batching on the model thread: the drafts of concurrent requests decode in one batch (issue 21).

A request is prefilled alone when it joins, at the next step boundary, and leaves when its drafts end or it is
cancelled; between steps the model thread runs whatever else is queued on it (another request's photo
encoding and catalog search), so a new request never waits for a whole other request. Each request keeps its
own prompt, ModICT prefix, logit rules, streamer, seed and cancel (`sampler.Decoding`); rows are left-padded into
one KV cache with a mask (`batched_cache`), and the int8 Linear layers take each request's rows as their own
call, so a request's drafts are the same alone or batched.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Executor, Future
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from . import batched_cache
from .prefix import Prefix, PrefixRows
from .sampler import Decoding, DraftStreamer, decode, prefill

log = logging.getLogger("ecomcopy.scheduler")


@dataclass(eq=False)
class Job:
    """One request in the scheduler: what makes its prompt (run on the model thread), its decoding, its result."""

    prompt: object  # dict of input_ids / inputs_embeds, or a callable -> (dict, Prefix | None)
    run: Decoding
    future: Future = field(default_factory=Future)
    prefix: Prefix | None = None


class Scheduler:
    """Joins the requests decoding at once into one batch of at most `max_rows` rows (a request bigger than
    that runs alone). `max_rows` <= 0 turns batching off: requests decode one after another, as before."""

    def __init__(self, model, executor: Executor, model_thread_id: int, max_rows: int) -> None:
        self.model, self.executor, self.model_thread_id, self.max_rows = model, executor, model_thread_id, max_rows
        self.waiting: deque[Job] = deque()
        self.running: list[Job] = []  # in row order
        self.rows: batched_cache.Rows | None = None
        self._lock = threading.Lock()
        self._ticking = False
        self._decoding_alone = 0
        self._prefilling: Job | None = None
        self.steps = self.rows_stepped = 0  # decode steps run and their rows in all (the tests read them)
        if not batched_cache.batchable(DynamicCache(config=model.config)):
            self.max_rows = 0
        if self.max_rows > 0:  # off, nothing is batched: the per-request calls would only pass through
            batched_cache.exact_rows(model)

    # -- called from any thread ---------------------------------------------------------------
    def decode(self, lm_model, prompt, n: int, max_new_tokens: int, stop: torch.Tensor, temperature: float = 0.8,
               top_p: float = 0.9, greedy: bool = False, rules=None, pad_id: int = 0, streamer: DraftStreamer | None = None,
               settled=None, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`sampler.decode`'s contract, batched with the other requests decoding now. Called on the model thread
        itself (evaluate runs whole loops there), it decodes alone, inline."""
        args = (n, max_new_tokens, stop, temperature, top_p, greedy, rules, pad_id, streamer, settled, generator)
        if threading.get_ident() == self.model_thread_id:
            return decode(lm_model, prompt, *args)
        if self.max_rows <= 0:  # off: each request's whole decode is one task on the model thread, as before batching
            return self._alone(lm_model, prompt, args)
        if lm_model is not self.model:
            raise ValueError("This scheduler batches its own LM's requests only.")
        job = Job(prompt, Decoding(*args))
        with self._lock:
            self.waiting.append(job)
            self._tell_places()
            self._wake()
        return job.future.result()

    def _alone(self, lm_model, prompt, args: tuple):
        with self._lock:
            self._decoding_alone += 1
        try:
            return self.executor.submit(decode, lm_model, prompt, *args).result()
        finally:
            with self._lock:
                self._decoding_alone -= 1

    def idle(self) -> bool:
        """No request decoding or waiting to (a cancelled one counts until the next step frees its rows)."""
        with self._lock:
            return not self.waiting and not self.running and not self._decoding_alone and self._prefilling is None

    def _wake(self) -> None:  # under the lock
        if not self._ticking:
            self._ticking = True
            self.executor.submit(self._tick)

    def _tell_places(self) -> None:  # under the lock
        for place, job in enumerate(self.waiting, 1):
            if job.run.streamer is not None:
                job.run.streamer.place = place

    # -- on the model thread ------------------------------------------------------------------
    @torch.inference_mode()
    def _tick(self) -> None:
        """Admit who fits, run one step, hand back finished requests, and queue the next tick behind any other
        model-thread work that arrived meanwhile."""
        try:
            self._admit()
            if self.running:
                self._step()
        except Exception as e:  # noqa: BLE001 - a failed model call fails the requests in it, not the thread
            log.exception("decode step failed")
            for job in self.running:
                self._finish(job, error=e)
            self.running, self.rows = [], None
        finally:
            with self._lock:
                if self.running or self.waiting:
                    self.executor.submit(self._tick)
                else:
                    self._ticking = False

    def _admit(self) -> None:
        with self._lock:
            gone = [j for j in self.waiting if j.run.cancelled()]  # closed pages give up their place at once
            for job in gone:
                self.waiting.remove(job)
            self._tell_places()
        for job in gone:
            self._finish(job)
        while True:
            with self._lock:
                if not self.waiting:
                    return
                job = self.waiting[0]
                in_flight = sum(len(j.run.active) for j in self.running)
                if self.running and not (self.max_rows > 0 and in_flight + job.run.n <= self.max_rows):
                    return
                self.waiting.popleft()
                self._tell_places()
                self._prefilling = job
            try:
                self._prefill(job)
            except Exception as e:  # noqa: BLE001 - this request fails; the batch goes on
                log.exception("prefill failed")
                self._finish(job, error=e)
            finally:
                self._prefilling = None

    def _prefill(self, job: Job) -> None:
        """The request's prompt alone (one row), its cache copied to its n drafts, their first tokens."""
        prompt, job.prefix = job.prompt() if callable(job.prompt) else (job.prompt, None)
        run = job.run
        if run.streamer is not None:
            run.streamer.place = 0
        with job.prefix.alone() if job.prefix is not None else nullcontext():
            cache, keep = prefill(self.model, prompt, run)
        if keep is None:
            self._finish(job)
            return
        self.rows = batched_cache.join(self.rows if self.running else None, cache, cache.get_seq_length())
        self.running.append(job)

    def _step(self) -> None:
        """One token for every row in flight; each request reads its own rows' logits."""
        jobs = self.running
        sizes = [len(j.run.step) for j in jobs]
        tokens = torch.cat([j.run.step for j in jobs])  # (B,)
        prefixes = [(j.prefix, size) for j, size in zip(jobs, sizes)]
        starts = torch.tensor([0, *sizes[:-1]]).cumsum(0)
        pads = (self.rows.mask[starts] == 0).sum(1).tolist()  # each request's left padding
        with PrefixRows(prefixes).applied() if any(p for p, _ in prefixes) else nullcontext(), batched_cache.groups(sizes, pads):
            logits = batched_cache.step(self.model, self.rows, tokens)  # (B, V)
        self.steps += 1
        self.rows_stepped += len(tokens)
        keep, staying, start = [], [], 0
        for job, chunk in zip(jobs, logits.split(sizes)):
            failed = None
            try:
                kept = job.run.advance(chunk)  # its own rules and sampling: an error there fails this request only
            except Exception as e:  # noqa: BLE001
                log.exception("a request's decoding failed")
                kept, failed = None, e
            if kept is None:
                self._finish(job, error=failed)
            else:
                keep.append(kept + start)
                staying.append(job)
            start += len(chunk)
        self.running = staying
        if not staying:
            self.rows = None
        elif sum(len(k) for k in keep) < len(tokens):
            batched_cache.keep(self.rows, torch.cat(keep))
            batched_cache.trim(self.rows)

    def _finish(self, job: Job, error: Exception | None = None) -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(job.run.result())
