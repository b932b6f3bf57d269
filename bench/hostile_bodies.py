"""Hostile request bodies at the body limit (issue 14, items 1–3): the worst request time each one
produces, and how long a `GET /login` sent meanwhile waits (it must not wait for the hostile one).

    python bench/hostile_bodies.py [--timeout S]

Cases: a check box list of mixed items under `uniqueItems` (API, 1 MB); an object with 100,000 made-up
keys (API); 110,000 invalid check box values in one entry-page post (2 MB); a record key that makes a
definition's `patternProperties` regex `^(a+)+$` backtrack (a form from XINDANG_FORM_DIRS). Prints the
figures; never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_USER, ROOT, demo_env, free_port, stop, wait_until_serving  # noqa: E402
from throughput import login  # noqa: E402

API_LIMIT, PAGE_LIMIT = 1_000_000, 2_000_000


def regex_form(folder: Path) -> Path:
    """A school's form (a copy of 课堂观察记录) whose schema also accepts keys matching `^(a+)+$`."""
    target = folder / "regex_probe"
    shutil.copytree(ROOT / "form_defs" / "classroom_observation", target, ignore=shutil.ignore_patterns("examples"))
    schema = json.loads((target / "schema.json").read_text(encoding="utf-8"))
    schema["patternProperties"] = {"^(a+)+$": {"type": "string", "maxLength": 10}}
    (target / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    return folder


def start(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT)
    return wait_until_serving(proc, port)


def timed(base: str, method: str, path: str, headers: dict, body: bytes, timeout: float) -> dict:
    """The hostile request, with a `GET /login` sent 0.2 s after it: both times, status and answer size."""
    figures: dict = {}

    def probe() -> None:
        time.sleep(0.2)
        started = time.perf_counter()
        try:
            httpx.get(base + "/login", timeout=timeout)
            figures["login"] = time.perf_counter() - started
        except httpx.HTTPError:
            figures["login"] = float("inf")

    side = threading.Thread(target=probe)
    side.start()
    started = time.perf_counter()
    try:
        response = httpx.request(method, base + path, content=body, headers=headers, timeout=timeout)
        figures.update(seconds=time.perf_counter() - started, status=response.status_code, answer=len(response.content))
    except httpx.TimeoutException:
        figures.update(seconds=float("inf"), status="timeout", answer=0)
    side.join()
    figures["bytes"] = len(body)
    return figures


def fill(prefix: bytes, item: callable, suffix: bytes, limit: int) -> bytes:
    """prefix + as many items as fit under `limit` + suffix."""
    parts, size, n = [], len(prefix) + len(suffix), 0
    while True:
        piece = item(n)
        if size + len(piece) > limit:
            break
        parts.append(piece)
        size += len(piece)
        n += 1
    return prefix + b"".join(parts) + suffix


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on one request after this many seconds")
    args = parser.parse_args(argv)
    env, data_dir = demo_env()
    forms = Path(tempfile.mkdtemp(prefix="xindang-bench-forms-"))
    env["XINDANG_FORM_DIRS"] = str(regex_form(forms))
    token = subprocess.run([sys.executable, "-c", "from server.cli import main; main()", "token", "create", BENCH_USER],
                           env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with sqlite3.connect(data_dir / "xindang.sqlite3") as db:
        student = db.execute("select id from student order by id limit 1").fetchone()[0]
    port = free_port()
    proc = start(env, port)
    base = f"http://127.0.0.1:{port}"
    api = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results = []
    try:
        cookie, csrf = login(base)
        page = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        head = b'{"students": [%d], "data": {"date": "2026-03-02", "next_step": ["x"' % student
        cases = [
            ("1 uniqueItems, 6,000 mixed items (35 KB, the issue's)", "POST", "/api/forms/classroom_observation/records", api,
             head + b"".join(b", %d" % n for n in range(6000)) + b"]}}"),
            ("1 uniqueItems, mixed items at the API limit (1 MB)", "POST", "/api/forms/classroom_observation/records", api,
             fill(head, lambda n: b", %d" % n, b"]}}", API_LIMIT)),
            ("1 100,000+ made-up keys at the API limit (1 MB)", "POST", "/api/forms/classroom_observation/records", api,
             fill(b'{"students": [%d], "data": {"date": "2026-03-02"' % student, lambda n: b', "k%d": 1' % n, b"}}", API_LIMIT)),
            ("2 15,000 invalid check box values, entry page (630 KB)", "POST", "/forms/classroom_observation", page,
             urlencode({"_csrf_token": csrf, "_student": student, "_action": "save"}).encode()
             + b"".join(b"&next_step=%E6%89%93%E6%B8%B8%E6%88%8F" + b"%d" % n for n in range(15_000))),
            ("2 invalid check box values, entry page (2 MB)", "POST", "/forms/classroom_observation", page,
             fill(urlencode({"_csrf_token": csrf, "_student": student, "_action": "save"}).encode(),
                  lambda n: b"&next_step=%E6%89%93%E6%B8%B8%E6%88%8F" + b"%d" % n, b"", PAGE_LIMIT)),
        ]
        for a_count in (22, 24, 26):
            key = "a" * a_count + "!"
            cases.append((f"3 patternProperties ^(a+)+$, key of {a_count} a and !", "POST", "/api/forms/regex_probe/records", api,
                          json.dumps({"students": [student], "data": {"date": "2026-03-02", key: "x"}}).encode()))
        cases.append(("3 patternProperties, 1,000 keys of 1,000 a and ! (1 MB)", "POST", "/api/forms/regex_probe/records", api,
                      fill(b'{"students": [%d], "data": {"date": "2026-03-02"' % student,
                           lambda n: b', "' + b"a" * 990 + b'%d!": "x"' % n, b"}}", API_LIMIT)))
        print(f"\nhostile bodies: 1 uvicorn worker (SQLite), a concurrent GET /login 0.2 s after each; timeout {args.timeout:.0f} s")
        print(f"{'case':<62} {'bytes':>9} {'status':>7} {'seconds':>8} {'answer':>9} {'GET /login':>11}")
        for label, method, path, headers, body in cases:
            row = timed(base, method, path, headers, body, args.timeout)
            if row["status"] == "timeout":  # the server is still busy with it: start afresh for the next case
                proc.kill()
                proc.wait()
                proc = start(env, port)
            row["case"] = label
            results.append(row)
            print(f"{label:<62} {row['bytes']:>9,} {row['status']!s:>7} {row['seconds']:>8.2f} {row['answer']:>9,} {row['login']:>10.2f}s",
                  flush=True)
        worst = max(results, key=lambda r: r["seconds"])
        print(f"worst request: {worst['seconds']:.2f} s ({worst['case']}); worst GET /login meanwhile: "
              f"{max(r['login'] for r in results):.2f} s")
        return results
    finally:
        stop(proc)
        shutil.rmtree(forms, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
