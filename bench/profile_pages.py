"""Where the time of one request goes: pyinstrument over N in-process requests (no network).

    python bench/profile_pages.py [engine-get|hand-get|engine-post|hand-post] [-n 300]

Needs `pip install pyinstrument` (not a dependency of the project). Prints per-request
time and pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_PASSWORD, BENCH_USER, demo_env, example, flatten  # noqa: E402

CASES = {"engine-get": ("GET", "/forms/registration/new", 200), "hand-get": ("GET", "/bench/hand/new", 200),
         "engine-post": ("POST", "/forms/registration", 303), "hand-post": ("POST", "/bench/hand", 303)}


async def run(case: str, count: int, data_dir: Path) -> None:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from pyinstrument import Profiler

    from bench.handwritten import create_bench_app
    from server.db import close_database, open_database
    from server.settings import Settings

    app = create_bench_app()
    await open_database(Settings.from_env(), migrate=False)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.get("/login")
            csrf = client.cookies["xd_csrf"]
            response = await client.post("/login", data={"username": BENCH_USER, "password": BENCH_PASSWORD, "_csrf_token": csrf})
            assert response.status_code == 303
            with sqlite3.connect(data_dir / "xindang.sqlite3") as db:
                student_id = db.execute("select id from student order by id limit 1").fetchone()[0]
            body = urlencode([("_csrf_token", csrf), ("_student", str(student_id)), ("_action", "save"),
                              *flatten(example("registration"))])
            method, path, expect = CASES[case]

            async def one() -> None:
                if method == "GET":
                    r = await client.get(path)
                else:
                    r = await client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
                assert r.status_code == expect, (r.status_code, r.text[:500])

            for _ in range(30):
                await one()
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            start = time.perf_counter()
            profiler.start()
            for _ in range(count):
                await one()
            profiler.stop()
            elapsed = time.perf_counter() - start
            print(f"{case}: {1000 * elapsed / count:.2f} ms per request (in process, profiled)")
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    finally:
        await close_database()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=list(CASES))
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    env, data_dir = demo_env()
    os.environ.update({k: env[k] for k in ("XINDANG_DATA_DIR", "XINDANG_SECRET_KEY")})
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        asyncio.run(run(args.case, args.n, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
