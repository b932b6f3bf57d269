"""Backup while the server writes, and restore into an empty database (docs/SECURITY.md item 16)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from contextlib import closing

import pytest
from click.testing import CliRunner

from _formdata import example
from conftest import PG_URL, _pg_admin
from server.backup import BackupError, backup, restore
from server.cli import main as cli
from server.settings import Settings


def post_records(world, token: str, count: int, acknowledged: list[int]) -> None:
    for _ in range(count):
        response = world.client.post("/api/forms/monthly_mood/records", headers={"Authorization": f"Bearer {token}"},
                                     json={"students": [world.student_ids[0]], "data": example("monthly_mood")})
        assert response.status_code == 201, response.text
        acknowledged.append(response.json()["id"])


async def make_token() -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username="admin"))


def restored_settings(world, tmp_path) -> Settings:
    env = {"XINDANG_DATA_DIR": str(tmp_path / "restored"), "XINDANG_SECRET_KEY": "x"}
    if not world.settings.is_sqlite:
        name = "xd_restore_" + uuid.uuid4().hex[:10]
        _pg_admin(f"CREATE DATABASE {name}")
        env["XINDANG_DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + name
    return Settings.from_env(env)


def record_ids(settings: Settings) -> set[int]:
    if settings.is_sqlite:
        from server.backup import sqlite_path

        with closing(sqlite3.connect(sqlite_path(settings))) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return {row[0] for row in db.execute("SELECT id FROM record")}
    import subprocess

    from server.backup import pg_url

    out = subprocess.run(["psql", "-At", "-c", "SELECT id FROM record", pg_url(settings)], capture_output=True, text=True, check=True)
    return {int(line) for line in out.stdout.split()}


def test_a_backup_taken_during_writes_restores_every_acknowledged_record(world, tmp_path):
    token = world.run(make_token)
    before: list[int] = []
    post_records(world, token, 5, before)
    during: list[int] = []
    writer = threading.Thread(target=post_records, args=(world, token, 10, during))
    writer.start()
    target = tmp_path / "backup.db"
    backup(world.settings, target)
    writer.join()
    with pytest.raises(BackupError):
        backup(world.settings, target)  # never overwrites a file

    restored = restored_settings(world, tmp_path)
    restore(restored, target)
    found = record_ids(restored)
    assert set(before) <= found  # everything acknowledged before the backup began
    assert found <= set(before) | set(during)  # and nothing that was never written
    with pytest.raises(BackupError):
        restore(restored, target)  # only into an empty database
    if not restored.is_sqlite:
        _pg_admin(f"DROP DATABASE IF EXISTS {restored.database_url.rsplit('/', 1)[1]} WITH (FORCE)")


def test_backup_and_restore_commands(tmp_path):
    env = {"XINDANG_DATA_DIR": str(tmp_path / "school"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    target = tmp_path / "备份.sqlite3"
    made = runner.invoke(cli, ["backup", str(target)], env=env)
    assert made.exit_code == 0 and target.exists(), made.output
    again = runner.invoke(cli, ["backup", str(target)], env=env)
    assert again.exit_code == 1 and "已存在" in again.output
    elsewhere = {"XINDANG_DATA_DIR": str(tmp_path / "new"), "XINDANG_SECRET_KEY": "x"}
    restored = runner.invoke(cli, ["restore", str(target)], env=elsewhere)
    assert restored.exit_code == 0, restored.output
    with closing(sqlite3.connect(tmp_path / "new" / "xindang.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM record").fetchone()[0] > 0
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-1] == "restore" and "backup" not in actions  # the backup's own entry came after the copy
    refused = runner.invoke(cli, ["restore", str(target)], env=elsewhere)
    assert refused.exit_code == 1 and "不是空的" in refused.output
    assert runner.invoke(cli, ["audit", "verify"], env=elsewhere).exit_code == 0


def test_the_postgres_password_never_appears_on_a_command_line():
    from server.backup import pg_env, pg_url
    from server.settings import Settings

    settings = Settings.from_env({"XINDANG_DATABASE_URL": "postgres://xd:s%40cret@db.example:5432/school?sslmode=require",
                                  "XINDANG_SECRET_KEY": "x", "XINDANG_DATA_DIR": "/tmp/xd-backup-url-test"})
    assert pg_url(settings) == "postgresql://xd@db.example:5432/school"  # argv: readable by every local user in `ps`
    assert pg_env(settings)["PGPASSWORD"] == "s@cret"


def test_several_workers_on_sqlite_are_refused(tmp_path):
    from click.testing import CliRunner
    from server.cli import main as cli

    result = CliRunner().invoke(cli, ["serve", "--workers", "2"], env={"XINDANG_DATA_DIR": str(tmp_path), "XINDANG_SECRET_KEY": "x",
                                                                      "XINDANG_DATABASE_URL": ""})
    assert result.exit_code == 2 and "PostgreSQL" in result.output
