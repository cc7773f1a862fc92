"""Approvals survive a crash: the app is SIGKILLed in the middle of a stream of approvals and restarted."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from gradio_client import Client, handle_file

from conftest import ROOT, SHARED, add_team, free_port, signed_in


def _start(data_dir, port, sign_in=False):
    env = {**os.environ, "ECOMCOPY_DATA": str(data_dir)} | ({"ECOMCOPY_AUTH": "on", "ECOMCOPY_LM": "smollm2-135m"} if sign_in else {})
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the app exited during start-up")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start in 300 s")


@pytest.mark.parametrize("sign_in", [False, True], ids=["sign-in off", "sign-in on"])
def test_sigkill_during_approvals_loses_nothing_acknowledged(tmp_path, sign_in):
    photo = SHARED / "hm" / "images" / "0111586001.jpg"
    if not photo.is_file():
        pytest.skip("../shared/data is not beside the checkout")
    data = tmp_path / "data"
    if sign_in:
        add_team(data)  # approvals by the editor, signed in
    port = free_port()
    proc = _start(data, port, sign_in)
    acked: dict[int, str] = {}

    def connect():
        url = f"http://127.0.0.1:{port}/"
        return signed_in(url, "ed") if sign_in else Client(url, verbose=False)

    try:
        client = connect()
        result = client.predict(handle_file(str(photo)), "Leggings, Black", 1, 0.8, 0.9, 20, "modict", "", "", api_name="/generate")
        stop = threading.Event()

        def approve_forever():
            i = 0
            while not stop.is_set():
                text = f"Approval number {i}: soft black leggings."
                try:
                    a = client.predict(result, text, "", handle_file(str(photo)), i % 2 == 0, api_name="/approve")
                except Exception:  # noqa: BLE001 - the server died mid-request: not acknowledged
                    return
                acked[a["id"]] = text
                i += 1

        worker = threading.Thread(target=approve_forever, daemon=True)
        worker.start()
        while len(acked) < 5:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
        proc.wait(timeout=30)
        stop.set()
        worker.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 5
    db = data / "catalog.db"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    proc = _start(data, port, sign_in)  # the app starts again on the same data
    try:
        client = connect()
        client.predict(None, "mug", 1, 0.8, 0.9, 20, "modict", "", "", api_name="/generate")  # serving
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with sqlite3.connect(db) as con:
        rows = dict(con.execute("SELECT id, final FROM approvals"))
        for aid, text in acked.items():
            assert rows.get(aid) == text  # every acknowledged approval, intact
        joined = con.execute("SELECT product_id FROM approvals WHERE product_id IS NOT NULL").fetchall()
        for (pid,) in joined:  # the catalog and the approvals agree
            assert con.execute("SELECT COUNT(*) FROM products p JOIN vectors v ON v.product_id = p.id WHERE p.id = ?", (pid,)).fetchone()[0] == 1
        assert con.execute("SELECT COUNT(*) FROM products WHERE id LIKE 'approved-%'").fetchone()[0] == len(joined)
