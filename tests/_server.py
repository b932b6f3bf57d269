"""The real server as a subprocess (`xindang serve`) on a free loopback port: browser and durability tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def xindang() -> list[str]:
    script = Path(sys.executable).parent / "xindang"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from server.cli import main; main()"]


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*xindang(), *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def start_server(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([*xindang(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/login", proc, log)
    return proc, base


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {timeout} s:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    """Ask the server to stop; kill it when it does not within ten seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def demo_server(tmp: Path, *commands: list[str], timeout: int = 120) -> Iterator[str]:
    """A server of its own for browser tests: the given `xindang` commands (e.g. `init --demo`, `user create …`)
    in a fresh data folder under `tmp`, then `xindang serve` on a free port; its address, stopped whatever happens."""
    env = {**os.environ, "XINDANG_DATA_DIR": str(tmp / "data"), "XINDANG_SECRET_KEY": "x"}
    env.pop("XINDANG_DATABASE_URL", None)
    for args in commands:
        done = subprocess.run([*xindang(), *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
    proc, base = start_server(env, tmp / "server.log")
    try:
        yield base
    finally:
        stop(proc)
