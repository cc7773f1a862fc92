"""The bulk job on Ray: the same `process_row` as the in-process path, spread over pipeline replicas.

Each Ray actor loads its own pipeline (models + a read-only catalog) once and writes drafts for batches of
rows. The driver reads the photos from the upload and ships their bytes with each batch, so workers on
other machines need no access to the ZIP; they do need the catalog file and the pip-installed backbones.
Results come back in the order of the CSV. Without a cluster address, Ray starts on this machine only.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from .bulk import BulkOptions, BulkResult, BulkRow, PhotoArchive, process_row
from .errors import InputError
from .config import SamplingConfig
from .pipeline import Pipeline, PipelineConfig


class PhotoBatch:
    """The photos of one batch of rows, read on the driver; a photo that cannot be read keeps its error,
    raised where `process_row` reads it, so the row's message is the one the in-process path gives."""

    def __init__(self, archive: PhotoArchive, rows: list[BulkRow]) -> None:
        self.items: dict[str, bytes | InputError] = {}
        for row in rows:
            if row.error is None and row.image not in self.items:
                try:
                    self.items[row.image] = archive.read(row.image)
                except InputError as e:
                    self.items[row.image] = e

    def read(self, name: str) -> bytes:
        item = self.items[name]
        if isinstance(item, InputError):
            raise item
        return item


class BulkWriter:
    """One pipeline replica (a Ray actor)."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.pipeline = Pipeline(cfg)

    def run(self, rows: list[BulkRow], photos: PhotoBatch, sampling: SamplingConfig, options: BulkOptions) -> list[BulkResult]:
        return [process_row(self.pipeline, row, photos, sampling, options) for row in rows]


def start_ray(address: str | None, num_cpus: int, what: str):
    """The `ray` module, connected once per process: to the cluster at `address` ("auto", "ray://host:10001"), or
    to a Ray started on this machine with `num_cpus` CPUs. `what` names the caller in the message when Ray is missing."""
    try:
        import ray
    except ImportError:
        raise InputError(f"{what} needs Ray: pip install -r requirements-ray.txt") from None
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": num_cpus}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
    return ray


def run_bulk_ray(
    cfg: PipelineConfig,
    rows: Iterable[BulkRow],
    archive: PhotoArchive,
    sampling: SamplingConfig,
    workers: int = 1,
    address: str | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
    options: BulkOptions = BulkOptions(),
) -> Iterator[BulkResult]:
    """Yields one result per row, in order. `cfg.threads` cores are reserved per worker.

    address: a running Ray cluster ("auto", "ray://host:10001"); None starts a local Ray on this machine.
    """
    if cfg.photos is not None:  # refused before Ray starts
        raise InputError("The Ray bulk runner reads the catalog only; approvals stay with the app.")
    ray = start_ray(address, cfg.threads * max(1, workers), "The Ray runner")
    from ray.util import ActorPool

    rows = list(rows)
    actor = ray.remote(num_cpus=cfg.threads)(BulkWriter)
    pool = ActorPool([actor.remote(cfg) for _ in range(max(1, workers))])
    batches = iter([rows[i : i + batch_size] for i in range(0, len(rows), batch_size)])

    def submit_next() -> None:  # photos are read per batch, so a big job never holds them all in memory
        batch = next(batches, None)
        if batch is not None:
            pool.submit(lambda a, job: a.run.remote(job[0], job[1], sampling, options), (batch, PhotoBatch(archive, batch)))

    for _ in range(2 * max(1, workers)):  # one batch running and one waiting per worker
        submit_next()
    done = 0
    while pool.has_next():
        results = pool.get_next()  # in submission order
        submit_next()
        for r in results:
            done += 1
            yield r
            if progress:
                progress(done, len(rows))
