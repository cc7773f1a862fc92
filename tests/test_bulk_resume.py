"""Bulk jobs survive a crash: a job killed with SIGKILL mid-run (the app's bulk handler, and the CLI on Ray) resumes
at its first unfinished row, and every row is finished exactly once.

The Ray job writes with the smallest shipped LM (Gemma 3 270M, plain prompt) so that a start costs seconds;
what is tested is the job store, which does not depend on the writer.
"""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SHARED, needs_shared
from ecomcopy.bulk import BulkResult, BulkRow
from ecomcopy.bulk_jobs import JobStore, job_key, resumable

ROWS = 6


def _job(tmp_path):
    import zipfile

    photos = sorted((SHARED / "hm" / "images").iterdir())[:ROWS]
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        for p in photos:
            z.write(p, p.name)
    with (tmp_path / "products.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "keywords", "image", "description"])
        for i, p in enumerate(photos):
            w.writerow([f"p{i}", "Top, Black, jersey", p.name, "Our own copy." if i == 3 else ""])
    return tmp_path / "products.csv", tmp_path / "photos.zip"


def _env(tmp_path):
    return os.environ | {"ECOMCOPY_DATA": str(tmp_path / "data"), "ECOMCOPY_LM": "gemma3-270m", "PYTHONPATH": str(ROOT)}  # small: starts fast


def _finished_rows(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _kill_after(cmd: list[str], env: dict, db, rows: int, timeout: float = 400) -> int:
    """Start `cmd`, SIGKILL its whole process group once `rows` rows are finished; the rows finished by then."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    while _finished_rows(db) < rows:
        if proc.poll() is not None:
            pytest.fail(f"the job ended before it was killed:\n{proc.stdout.read()[-3000:]}")
        if time.time() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the job did not finish its first rows in time")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return _finished_rows(db)


def _each_row_once(db, total: int) -> None:
    with sqlite3.connect(db) as c:
        idx = [i for (i,) in c.execute("SELECT idx FROM rows ORDER BY idx")]
    assert idx == list(range(total))  # none lost, none twice (the primary key would refuse a second)


def test_resumable_yields_finished_rows_and_runs_only_the_rest(tmp_path):
    rows = [BulkRow(i + 2, f"p{i}", "mug", f"{i}.jpg") for i in range(5)]
    store = JobStore(tmp_path / "jobs.db")
    ran: list[list[str]] = []

    def run(todo):
        ran.append([r.id for r in todo])
        for r in todo:
            if r.id == "p2" and len(ran) == 1:
                raise KeyboardInterrupt  # the first run dies at its third row
            yield BulkResult(r.id, "ok", best_draft=f"draft of {r.id}")

    with pytest.raises(KeyboardInterrupt):
        list(resumable(rows, store, "job", run))
    told = []
    again = list(resumable(rows, store, "job", run, on_resume=lambda k, n: told.append((k, n))))
    assert told == [(2, 5)] and ran[1] == ["p2", "p3", "p4"]
    assert [r.best_draft for r in again] == [f"draft of p{i}" for i in range(5)]
    _each_row_once(tmp_path / "jobs.db", 5)
    assert list(resumable(rows, store, "job", lambda todo: pytest.fail("nothing is left to run"))) == again
    store.record("job", 0, BulkResult("p0", "ok", best_draft="a second result"))
    assert store.finished("job", 5)[0].best_draft == "draft of p0"  # a finished row is never written twice


def test_a_job_is_named_by_its_files_and_settings(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.zip"
    a.write_text("id,keywords,image\n1,mug,x.jpg\n")
    b.write_bytes(b"zip")
    key = job_key(a, b, {"n": 2})
    assert job_key(a, b, {"n": 2}) == key and job_key(a, b, {"n": 3}) != key
    a.write_text("id,keywords,image\n1,mug,y.jpg\n")
    assert job_key(a, b, {"n": 2}) != key


@needs_shared
def test_the_apps_bulk_job_killed_mid_run_resumes_where_it_stopped(tmp_path, pipeline, monkeypatch):
    """An app process (the session's LM, its own data folder) is killed mid-job; this process, configured alike,
    is the restarted app: given the same files it finishes the job."""
    import app

    csv_path, zip_path = _job(tmp_path)
    env = os.environ | {"ECOMCOPY_DATA": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    db = tmp_path / "data" / "bulk_jobs.db"
    code = f"import app; print(app.bulk({str(csv_path)!r}, {str(zip_path)!r}, 1)[2])"
    killed_at = _kill_after([sys.executable, "-c", code], env, db, rows=2)
    assert 2 <= killed_at < ROWS
    monkeypatch.setenv("ECOMCOPY_DATA", str(tmp_path / "data"))
    table, _, status = app.bulk(str(csv_path), str(zip_path), 1)
    assert status.startswith(f"Resumed an earlier run of this job: {killed_at} product(s) were already done.")
    assert [r[1] for r in table] == ["ok"] * 3 + ["skipped"] + ["ok"] * (ROWS - 4)  # p3's own copy is not overwritten
    _each_row_once(db, ROWS)


@needs_shared
def test_a_bulk_job_on_ray_killed_mid_run_resumes_where_it_stopped(tmp_path):
    pytest.importorskip("ray")
    csv_path, zip_path = _job(tmp_path)
    env = _env(tmp_path)
    db = tmp_path / "jobs.db"
    out = tmp_path / "results.csv"
    cmd = [sys.executable, "-m", "ecomcopy", "bulk", "--csv", str(csv_path), "--zip", str(zip_path), "--out", str(out), "--n", "1",
           "--max-tokens", "16", "--seed", "0", "--ray", "--ray-batch", "1", "--threads", "1", "--jobs-db", str(db), "--channel", "ebay"]
    try:
        killed_at = _kill_after(cmd, env, db, rows=2)
        assert 2 <= killed_at < ROWS
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "stop", "--force"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resuming: {killed_at} of {ROWS} products were done by an earlier run." in done.stdout
    _each_row_once(db, ROWS)
    results = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in results] == [f"p{i}" for i in range(ROWS)]
    assert results[3]["status"] == "skipped" and {r["channel"] for r in results if r["status"] == "ok"} == {"ebay"}
    assert all("description" in r["machine_written"] for r in results if r["status"] == "ok")


def test_an_internal_failure_is_not_kept_and_the_next_run_retries_it(tmp_path):
    from ecomcopy.bulk import INTERNAL_ERROR

    rows = [BulkRow(i + 2, f"p{i}", "mug", f"{i}.jpg") for i in range(3)]
    store = JobStore(tmp_path / "jobs.db")
    first = list(resumable(rows, store, "job", lambda todo: [BulkResult(r.id, "error", INTERNAL_ERROR) if r.id == "p1"
                                                             else BulkResult(r.id, "ok") for r in todo]))
    assert [r.status for r in first] == ["ok", "error", "ok"]
    ran = []
    second = list(resumable(rows, store, "job", lambda todo: ran.extend(r.id for r in todo) or [BulkResult(r.id, "ok") for r in todo]))
    assert ran == ["p1"] and [r.status for r in second] == ["ok", "ok", "ok"]
    with pytest.raises(RuntimeError, match="returned 0 results for 3 rows"):
        list(resumable(rows, None, "job", lambda todo: []))
