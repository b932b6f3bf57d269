"""Nothing acknowledged is ever lost (docs/SECURITY.md item 12): the real server, 50 concurrent
submissions, SIGKILL at a random moment, a restart; every submission that got its 201 is there
exactly once, nothing is half-written, and SQLite's integrity check passes. Five rounds."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing

from _formdata import example
from _server import run_cli, start_server

SUBMISSIONS = 50
ROUNDS = 5


def submit(base: str, token: str, student: int, marker: str, acknowledged: list[str], lock: threading.Lock) -> None:
    data = {**example("monthly_mood", "sparse"), "homeroom_teacher": marker}  # a short text field carries the marker
    body = json.dumps({"students": [student], "data": data}).encode()
    request = urllib.request.Request(base + "/api/forms/monthly_mood/records", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            if response.status == 201:
                with lock:
                    acknowledged.append(marker)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        pass  # the server died before answering: this submission was never acknowledged


def test_a_killed_server_loses_no_acknowledged_submission(tmp_path):
    env = {**os.environ, "XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    env.pop("XINDANG_DATABASE_URL", None)
    assert run_cli(["init", "--demo", "--admin-password", "Long-enough-9"], env).returncode == 0
    made = run_cli(["user", "create", "writer", "--role", "psych_teacher", "--password", "Long-enough-9", "--final-password"], env)
    assert made.returncode == 0, made.stderr
    token = run_cli(["token", "create", "writer"], env).stdout.strip()
    database = tmp_path / "data" / "xindang.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        student = db.execute("SELECT id FROM student ORDER BY id LIMIT 1").fetchone()[0]
    log = tmp_path / "server.log"
    rng = random.Random(20261129)
    acknowledged: list[str] = []
    sent = 0
    for round_number in range(ROUNDS):
        proc, base = start_server(env, log)
        lock = threading.Lock()
        threads = [threading.Thread(target=submit, args=(base, token, student, f"d-{round_number}-{n}", acknowledged, lock))
                   for n in range(SUBMISSIONS)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.05, 0.6))  # somewhere in the middle of the writes
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
        sent += SUBMISSIONS

    proc, base = start_server(env, log)  # the restart: migrations and start-up checks on the crashed file
    try:
        with urllib.request.urlopen(urllib.request.Request(base + "/api/forms/monthly_mood/records?page=1",
                                                           headers={"Authorization": f"Bearer {token}"}), timeout=20) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = [row[0] for row in db.execute("SELECT json_extract(data, '$.homeroom_teacher') FROM record WHERE form_id = 'monthly_mood'")]
        revisions = db.execute("SELECT count(*) FROM record r LEFT JOIN record_revision v ON v.record_id = r.id "
                               "WHERE r.form_id = 'monthly_mood' AND v.id IS NULL").fetchone()[0]
        unaudited = db.execute("SELECT count(*) FROM record r WHERE r.form_id = 'monthly_mood' AND NOT EXISTS "
                               "(SELECT 1 FROM audit_log a WHERE a.action = 'create' AND a.target = 'record:' || r.id)").fetchone()[0]
    for marker in acknowledged:
        assert stored.count(marker) == 1, marker
    assert revisions == 0  # no record without its first revision: nothing half-written
    assert unaudited == 0  # nor without its audit entry: they commit in one transaction
    assert 0 < len(acknowledged) <= sent
