"""Shared by the benchmarks: the project root on sys.path, a fresh demo data dir, payloads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_PASSWORD = "admin password for the benchmarks"
BENCH_USER, BENCH_PASSWORD = "bench", "a long pass phrase 2026"  # a 心理教师: the administrator reads no records


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(proc: subprocess.Popen, port: int, timeout: float = 60) -> subprocess.Popen:
    """The server process once GET /login answers 200 (killed and an error when it exits or takes too long)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    """Ask the server to stop; kill it when it does not within ten seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def demo_env() -> tuple[dict[str, str], Path]:
    """A temporary data dir with the demo school, an admin and a 心理教师 `bench` (same password)."""
    data_dir = Path(tempfile.mkdtemp(prefix="xindang-bench-"))
    env = {**os.environ, "XINDANG_DATA_DIR": str(data_dir), "XINDANG_SECRET_KEY": "bench-secret",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    env.pop("XINDANG_DATABASE_URL", None)
    script = Path(sys.executable).parent / "xindang"
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from server.cli import main; main()"]
    subprocess.run([*command, "init", "--demo", "--admin-user", "admin", "--admin-password", ADMIN_PASSWORD],
                   env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*command, "user", "create", BENCH_USER, "--role", "psych_teacher", "--password", BENCH_PASSWORD,
                    "--final-password"], env=env, cwd=ROOT, check=True, capture_output=True)
    return env, data_dir


def example(form_id: str, name: str = "full") -> dict:
    return json.loads((ROOT / "form_defs" / form_id / "examples" / f"{name}.json").read_text(encoding="utf-8"))


def flatten(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Record data → the (name, value) pairs a browser posts from the entry page."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = prefix + key
        if isinstance(value, dict):
            pairs += flatten(value, name + ".")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs += flatten(item, f"{name}.{index}.")
                else:
                    pairs.append((name, _form_text(item)))
        else:
            pairs.append((name, _form_text(value)))
    return pairs


def _form_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
