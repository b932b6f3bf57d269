"""The real server as a subprocess (`xindang serve`) on a free loopback port: browser and durability tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
