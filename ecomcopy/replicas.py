"""The app's drafting on a Ray cluster: N pipeline replicas (Ray actors), each batching its own requests with its
scheduler, behind the same `suggest_stream` the app calls on its local pipeline (`app.py --ray-address`).

A request goes to the replica with the fewest requests in flight and streams back its steps. A replica that dies
mid-request is restarted by Ray, and the request is sent once more, to the replica with the fewest in flight
(the user sees the drafts start again, not an error). The app keeps its own pipeline for approvals, History and
Bulk; the replicas search the app's working catalog file itself and follow its changes, so an approval joins
their references at their next request. Replicas on other machines need that file and its photos at the same
path (a shared folder) and the pip-installed backbones.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Iterator

from .config import IN_MODEL, SamplingConfig
from .bulk_ray import start_ray
from .errors import EcomcopyError
from .pipeline import Pipeline, PipelineConfig

log = logging.getLogger("ecomcopy.replicas")


class ReplicaError(EcomcopyError):
    """The drafting servers failed the same request twice."""


class DraftReplica:
    """One pipeline replica (a threaded Ray actor: its requests run at once, so its scheduler can batch them)."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.pipeline = Pipeline(cfg)
        self._running: set[str] = set()
        self._cancelled: set[str] = set()

    def ready(self) -> int:
        import os

        return os.getpid()

    def suggest(self, request_id: str, image: bytes | None, keywords: str, sampling: SamplingConfig | None, k: int,
                exclude_group: str | None, writer: str, reference_id: str | None):
        """`Pipeline.suggest_stream`'s steps; stops at its next step once `cancel(request_id)` was called."""
        stream = self.pipeline.suggest_stream(image, keywords, sampling, k, exclude_group, writer, reference_id)
        self._running.add(request_id)
        try:
            for step in stream:
                if request_id in self._cancelled:
                    stream.close()  # the drafts stop at the next token, freeing their rows in the batch
                    return
                yield step
        finally:
            self._running.discard(request_id)
            self._cancelled.discard(request_id)

    def cancel(self, request_id: str) -> None:
        if request_id in self._running:  # one that has ended leaves nothing behind
            self._cancelled.add(request_id)


class Replicas:
    """The app's side: starts the replicas and sends each request to one of them."""

    def __init__(self, cfg: PipelineConfig, replicas: int = 2, address: str | None = None) -> None:
        self.ray = ray = start_ray(address, cfg.threads * max(1, replicas), "Serving on Ray")
        actor = ray.remote(num_cpus=cfg.threads, max_restarts=-1, max_concurrency=IN_MODEL + 2,
                           concurrency_groups={"control": 2})(DraftReplica)  # a cancel never waits behind requests
        self.actors = [actor.remote(cfg) for _ in range(max(1, replicas))]
        self.in_flight = [0] * len(self.actors)
        self._lock = threading.Lock()
        ray.get([a.ready.options(concurrency_group="control").remote() for a in self.actors])  # loaded before the app says it is ready

    def _pick(self, avoid: int | None = None) -> int:
        with self._lock:
            order = sorted(range(len(self.actors)), key=lambda i: (i == avoid, self.in_flight[i]))
            self.in_flight[order[0]] += 1
            return order[0]

    def suggest_stream(self, image: str | Path | bytes | None, keywords, sampling: SamplingConfig | None = None, k: int = 3,
                       exclude_group: str | None = None, writer: str = "modict", reference_id: str | None = None,
                       overlay: None = None) -> Iterator:
        """`Pipeline.suggest_stream` on a replica, retried once on another if its replica dies. A demo visitor's
        overlay lives in this process only (config refuses the demo mode on Ray): there is none here."""
        from ray.exceptions import RayActorError, RayTaskError

        if overlay is not None:
            raise ValueError("the replicas cannot search a demo session's own products")
        if isinstance(image, (str, Path)):
            image = Path(image).read_bytes()  # the replica may be on another machine
        failed = None
        for attempt in (1, 2):
            i, request_id = self._pick(avoid=failed), uuid.uuid4().hex
            try:
                stream = self.actors[i].suggest.remote(request_id, image, keywords, sampling, k, exclude_group, writer, reference_id)
                for ref in stream:
                    yield self.ray.get(ref)
                return
            except RayTaskError as e:  # the replica's own error (a bad photo...): as the local pipeline raises it
                raise e.cause if isinstance(e.cause, BaseException) else ReplicaError(str(e)) from None
            except RayActorError as e:
                log.warning("replica %d died during a request (attempt %d): %s", i, attempt, type(e).__name__)
                failed = i
            except GeneratorExit:
                self.actors[i].cancel.options(concurrency_group="control").remote(request_id)
                raise
            finally:
                with self._lock:
                    self.in_flight[i] -= 1
        raise ReplicaError("The drafting server stopped twice while writing these drafts; please try again.")
