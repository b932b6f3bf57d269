"""The command line as a new user meets it: a SQLite URL of their own gets the safe settings, and every start that
fails (unsafe settings, a database that cannot be opened, reached or migrated, a port in use) ends within seconds
with exit status 1 and one Chinese sentence, never a traceback or a process that hangs; import-roster lists the
problems of bad rows. Real subprocesses with a timeout: the bug was a process that never exited."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
from contextlib import closing

import pytest

from _formdata import CJK
from _server import PROJECT_ROOT, free_port, xindang

SECONDS = 25  # each failure must end well before this; the hang was forever


def environment(tmp_path, database_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    env.pop("XINDANG_DATABASE_URL", None)
    if database_url is not None:
        env["XINDANG_DATABASE_URL"] = database_url
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*xindang(), *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=SECONDS)


def assert_one_chinese_sentence(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit status 1 and one line on stderr, in Chinese, with the words that say what is wrong."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and CJK.search(lines[0]) and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_a_sqlite_url_given_by_the_user_gets_the_safe_settings(tmp_path):
    database = tmp_path / "school.sqlite3"
    started = time.monotonic()
    made = run(["init", "--admin-password", "Long-enough-9"], environment(tmp_path, f"sqlite://{database}"))
    assert made.returncode == 0, made.stderr
    assert time.monotonic() - started < SECONDS
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent: the file was opened with our settings
    # The user's own safe values win: a longer busy wait and EXTRA synchronous are kept and pass the start-up check.
    own = run(["audit", "verify"], environment(tmp_path, f"sqlite://{database}?busy_timeout=30000&synchronous=extra"))
    assert own.returncode == 0 and CJK.search(own.stdout), own.stderr


def test_the_users_safe_values_win_and_unsafe_ones_are_named():
    from server.settings import SettingsError, safe_sqlite_url, sqlite_pragmas

    url = safe_sqlite_url("sqlite:///srv/xd.sqlite3?busy_timeout=30000&journal_size_limit=1000")
    assert sqlite_pragmas(url) == {"journal_mode": "wal", "synchronous": "FULL", "foreign_keys": "ON", "secure_delete": "ON",
                                   "busy_timeout": "30000"}
    assert "journal_size_limit=1000" in url and url.startswith("sqlite:///srv/xd.sqlite3?")
    for unsafe in ("synchronous=OFF", "journal_mode=delete", "foreign_keys=off", "secure_delete=fast", "busy_timeout=5000"):
        with pytest.raises(SettingsError, match=unsafe.split("=")[0]):
            safe_sqlite_url(f"sqlite:///srv/xd.sqlite3?{unsafe}")


def test_unsafe_settings_are_refused_by_every_command_with_one_sentence(tmp_path):
    env = environment(tmp_path, f"sqlite://{tmp_path / 'x.sqlite3'}?synchronous=OFF")
    for args in (["init"], ["serve", "--port", str(free_port())], ["audit", "verify"]):
        assert_one_chinese_sentence(run(args, env), "synchronous=OFF")
    assert not (tmp_path / "x.sqlite3").exists()  # refused before anything was opened


@pytest.fixture
def unmigratable(tmp_path) -> str:
    """A SQLite file whose tables conflict with the first migration (a foreign or half-restored database)."""
    database = tmp_path / "foreign.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        db.execute("CREATE TABLE school (x INTEGER)")
        db.commit()
    return f"sqlite://{database}"


def test_every_command_ends_with_one_sentence_when_the_database_cannot_be_migrated(tmp_path, unmigratable):
    """All the commands that open the database, at once (each used to hang once the database had been opened)."""
    env = environment(tmp_path, unmigratable)
    roster = tmp_path / "名单.csv"
    roster.write_text("学籍号,姓名,性别,年级,班级\nC1,甲,女,7,1班\n", encoding="utf-8")
    commands = [["init"], ["serve", "--port", str(free_port())], ["audit", "verify"], ["token", "create", "admin"],
                ["user", "create", "u1", "--role", "admin", "--password", "Long-enough-9"], ["import-roster", str(roster)],
                ["promote", "--from", "2026-2027", "--graduating-grade", "9", "--left-on", "2027-07-01"],
                ["print", "--student", "1", "-o", str(tmp_path / "a.pdf")], ["diff-form", str(PROJECT_ROOT / "form_defs" / "monthly_mood")]]
    started = time.monotonic()
    procs = [subprocess.Popen([*xindang(), *args], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for args in commands]
    try:
        for args, proc in zip(commands, procs):
            out, err = proc.communicate(timeout=max(1, SECONDS + 20 - (time.monotonic() - started)))
            assert_one_chinese_sentence(subprocess.CompletedProcess(args, proc.returncode, out, err), "foreign.sqlite3")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def test_a_folder_that_does_not_exist_and_an_unreachable_postgresql_end_at_once(tmp_path):
    missing = run(["init"], environment(tmp_path, f"sqlite://{tmp_path / 'no-such-folder' / 'x.sqlite3'}"))
    assert_one_chinese_sentence(missing, "no-such-folder")
    nobody = free_port()  # nothing listens there
    unreachable = run(["init"], environment(tmp_path, f"postgres://xd:secret-word@127.0.0.1:{nobody}/school"))
    assert_one_chinese_sentence(unreachable, f"127.0.0.1:{nobody}/school")
    assert "secret-word" not in unreachable.stderr


def test_serve_on_a_port_in_use_ends_with_one_sentence(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = run(["serve", "--host", "127.0.0.1", "--port", str(port)], environment(tmp_path))
    assert_one_chinese_sentence(refused, str(port), "--port")


def test_import_roster_lists_every_bad_row_and_imports_nothing(tmp_path):
    env = environment(tmp_path)
    assert run(["init", "--admin-password", "Long-enough-9"], env).returncode == 0
    roster = tmp_path / "名单.csv"
    roster.write_text("学籍号,姓名,性别,出生日期,年级,班级\n"
                      "C1,好行,女,2013-05-01,7,1班\n"
                      "C2,坏性别,未知,2013-05-01,7,1班\n"
                      "C3,坏日期,男,2013-13-45,7,1班\n", encoding="utf-8")
    refused = run(["import-roster", str(roster), "--create-classes"], env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "第 3 行，性别" in refused.stderr and "未知" in refused.stderr, refused.stderr
    assert "第 4 行，出生日期" in refused.stderr, refused.stderr
    assert "问题 2 处" in refused.stdout and "未导入任何内容" in refused.stderr, refused.stdout
    with closing(sqlite3.connect(tmp_path / "data" / "xindang.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM student").fetchone()[0] == 0
