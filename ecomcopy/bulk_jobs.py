"""Bulk jobs that survive a crash: every finished row is committed to SQLite as it finishes, so a job killed or
restarted resumes at its first unfinished row, and no finished row is written twice.

A job is named by what it computes: the CSV's bytes, the ZIP's bytes and the settings. Uploading the same files
with the same settings (in the app, or re-running the same `bulk` command) is the same job and resumes it;
anything else is a new one. Rows are stored under (job, row index) as their result's JSON; WAL with
synchronous=FULL, one transaction per row, as the approvals are kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .bulk import INTERNAL_ERROR, BulkResult, BulkRow

KEEP_DAYS = 30  # a job untouched this long is forgotten

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, total INTEGER NOT NULL, started_at REAL NOT NULL, touched_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    job TEXT NOT NULL REFERENCES jobs(key) ON DELETE CASCADE,
    idx INTEGER NOT NULL,            -- the row's place in the CSV (0 = first product)
    result TEXT NOT NULL,            -- JSON of bulk.BulkResult
    approval INTEGER,                -- the approval it became ("approve all that pass"), NULL = none
    PRIMARY KEY (job, idx)
);
"""


def job_key(csv_path: str | Path, zip_path: str | Path, settings: dict) -> str:
    """The job's name: a hash of the two uploads' bytes and the settings (JSON, sorted)."""
    h = hashlib.sha256()
    for path in (csv_path, zip_path):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


class JobStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a row reported done is on disk
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self.db.execute("DELETE FROM jobs WHERE touched_at < ?", (time.time() - KEEP_DAYS * 86_400,))

    def finished(self, key: str, total: int) -> dict[int, BulkResult]:
        """The job's finished rows by index (none for a new job, which is recorded now)."""
        now = time.time()
        self.db.execute("INSERT INTO jobs VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET touched_at = ?", (key, total, now, now, now))
        rows = self.db.execute("SELECT idx, result FROM rows WHERE job = ?", (key,)).fetchall()
        return {i: BulkResult(**json.loads(r)) for i, r in rows}

    def record(self, key: str, idx: int, result: BulkResult) -> None:
        """One finished row, committed; a row already recorded keeps its first result."""
        self.db.execute("INSERT OR IGNORE INTO rows (job, idx, result) VALUES (?, ?, ?)",
                        (key, idx, json.dumps(dataclasses.asdict(result), ensure_ascii=False)))

    def approvals(self, key: str) -> dict[int, int]:
        return dict(self.db.execute("SELECT idx, approval FROM rows WHERE job = ? AND approval IS NOT NULL", (key,)).fetchall())

    def mark_approved(self, key: str, idx: int, approval_id: int) -> None:
        self.db.execute("UPDATE rows SET approval = ? WHERE job = ? AND idx = ?", (approval_id, key, idx))

    def close(self) -> None:
        self.db.close()


def resumable(rows: list[BulkRow], store: JobStore | None, key: str,
              run: Callable[[list[BulkRow]], Iterable[BulkResult]],
              on_resume: Callable[[int, int], None] | None = None) -> Iterator[BulkResult]:
    """Every row's result in CSV order: the finished ones from `store`, the others from `run` (given only the
    unfinished rows, in order), each recorded the moment it arrives, except an internal failure, which the next
    run retries. `on_resume(done, total)` is told how many rows an earlier run finished."""
    done = store.finished(key, len(rows)) if store is not None else {}
    if on_resume and done:
        on_resume(len(done), len(rows))
    todo = [r for i, r in enumerate(rows) if i not in done]
    pending = iter(run(todo)) if todo else iter(())  # nothing left: no models loaded
    for i in range(len(rows)):
        if i in done:
            yield done[i]
            continue
        result = next(pending, None)
        if result is None:
            raise RuntimeError(f"the job's runner returned {i - sum(j < i for j in done)} results for {len(todo)} rows")
        if store is not None and result.message != INTERNAL_ERROR:
            store.record(key, i, result)
        yield result
