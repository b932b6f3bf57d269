"""Requests per second: the engine's registration pages vs the hand-written ones (bench/handwritten.py).

One uvicorn worker serves `create_app()` plus the hand-written routes (same middleware:
auth, server-side session, CSRF, security headers). A small keep-alive HTTP/1.1 client on
loopback sends a bounded number of requests with fixed concurrency. On a machine with two
or more cores the server is pinned to CPU 0 and the load client to CPU 1.

Prints figures only; never asserts timings.

    python bench/throughput.py [--requests 2000] [--warmup 200] [--concurrency 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_PASSWORD, BENCH_USER, ROOT, demo_env, example, flatten, free_port, stop, wait_until_serving  # noqa: E402

import httpx  # noqa: E402


class RawClient:
    """Minimal keep-alive HTTP/1.1 client: much lighter than httpx, so the server is what is measured."""

    def __init__(self, port: int):
        self.port = port

    async def __aenter__(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc):
        self.writer.close()

    async def send(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status


def request_bytes(method: str, path: str, cookie: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Cookie: {cookie}", "Connection: keep-alive"]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def load(port: int, raw: bytes, total: int, concurrency: int, expect: int) -> float:
    """Send `total` copies of `raw` over `concurrency` connections; requests per second."""
    remaining = total
    bad: list[int] = []

    async def worker() -> None:
        nonlocal remaining
        async with RawClient(port) as client:
            while remaining > 0:
                remaining -= 1
                status = await client.send(raw)
                if status != expect:
                    bad.append(status)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    if bad:
        raise RuntimeError(f"{len(bad)} responses were not {expect}: {sorted(set(bad))}")
    return total / elapsed


def start_server(env: dict, port: int, pin: bool) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "bench.handwritten:create_bench_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"]
    preexec = (lambda: os.sched_setaffinity(0, {0})) if pin else None
    proc = subprocess.Popen(command, env=env, cwd=ROOT, preexec_fn=preexec)
    return wait_until_serving(proc, port, timeout=30)


def login(base: str) -> tuple[str, str]:
    """A logged-in session: (Cookie header, CSRF token)."""
    with httpx.Client(base_url=base) as client:
        client.get("/login")
        csrf = client.cookies["xd_csrf"]
        response = client.post("/login", data={"username": BENCH_USER, "password": BENCH_PASSWORD, "_csrf_token": csrf})
        assert response.status_code == 303, response.text
        client.get("/forms")
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return cookie, client.cookies["xd_csrf"]


def sanity(base: str, cookie: str, body: bytes, data_dir: Path, expected: dict) -> None:
    """Both POSTs store the same data (the full example); both GETs answer a page with every input."""
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    ids = {}
    for name, path in (("engine", "/forms/registration"), ("hand", "/bench/hand")):
        response = httpx.post(base + path, content=body, headers=headers)
        assert response.status_code == 303, (name, response.status_code, response.text[:2000])
        ids[name] = int(response.headers["location"].split("/records/")[1].split("?")[0])
    with sqlite3.connect(data_dir / "xindang.sqlite3") as db:
        stored = {name: json.loads(db.execute("select data from record where id = ?", (rid,)).fetchone()[0])
                  for name, rid in ids.items()}
    assert stored["engine"] == stored["hand"] == expected, "the two paths stored different data"
    sizes = {}
    for name, path in (("engine", "/forms/registration/new"), ("hand", "/bench/hand/new")):
        response = httpx.get(base + path, headers={"Cookie": cookie})
        assert response.status_code == 200, (name, response.status_code)
        sizes[name] = (len(response.content), response.text.count("<input") + response.text.count("<textarea"))
    print(f"sanity: both POSTs store full.json identically; page bytes/inputs engine {sizes['engine']}, hand {sizes['hand']}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    pin = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2
    env, data_dir = demo_env()
    port = free_port()
    proc = start_server(env, port, pin)
    affinity = os.sched_getaffinity(0) if pin else None
    if pin:
        os.sched_setaffinity(0, {1})
    base = f"http://127.0.0.1:{port}"
    try:
        cookie, csrf = login(base)
        with sqlite3.connect(data_dir / "xindang.sqlite3") as db:
            student_id = db.execute("select id from student order by id limit 1").fetchone()[0]
        payload = [("_csrf_token", csrf), ("_student", str(student_id)), ("_action", "save"), *flatten(example("registration"))]
        body = urlencode(payload).encode()
        sanity(base, cookie, body, data_dir, example("registration"))

        cases = [
            ("GET entry page", request_bytes("GET", "/forms/registration/new", cookie), request_bytes("GET", "/bench/hand/new", cookie), 200),
            ("POST valid record", request_bytes("POST", "/forms/registration", cookie, body), request_bytes("POST", "/bench/hand", cookie, body), 303),
        ]
        results = []
        print(f"\nthroughput: 1 uvicorn worker{' on CPU 0, client on CPU 1' if pin else ' (client on the same cores)'}; "
              f"{args.requests} requests per run after {args.warmup} warm-up, concurrency {args.concurrency}, {args.rounds} rounds")
        for label, engine_raw, hand_raw, expect in cases:
            runs: dict[str, list[float]] = {"engine": [], "hand": []}
            for which, raw in (("engine", engine_raw), ("hand", hand_raw)):
                asyncio.run(load(port, raw, args.warmup, args.concurrency, expect))
            for _round in range(args.rounds):  # interleaved, so drift hits both alike
                for which, raw in (("engine", engine_raw), ("hand", hand_raw)):
                    runs[which].append(asyncio.run(load(port, raw, args.requests, args.concurrency, expect)))
            engine, hand = statistics.mean(runs["engine"]), statistics.mean(runs["hand"])
            results.append({"case": label, "engine": engine, "hand": hand, "ratio": engine / hand,
                            "engine_runs": runs["engine"], "hand_runs": runs["hand"]})
        print(f"\n{'case':<20} {'engine req/s':>13} {'hand-written req/s':>19} {'ratio':>7}")
        for r in results:
            print(f"{r['case']:<20} {r['engine']:>13.0f} {r['hand']:>19.0f} {r['ratio']:>6.2f}x"
                  f"   (runs: engine {', '.join(f'{x:.0f}' for x in r['engine_runs'])}; hand {', '.join(f'{x:.0f}' for x in r['hand_runs'])})")
        return results
    finally:
        stop(proc)
        if affinity:
            os.sched_setaffinity(0, affinity)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
