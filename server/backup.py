"""Online backup and restore: SQLite's own backup API (a consistent copy while the server writes),
`pg_dump` / `pg_restore` for PostgreSQL. A restore goes only into an empty database."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit

from server.i18n import gettext as _
from server.settings import Settings


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is for the person at the console."""


def sqlite_path(settings: Settings) -> Path:
    return Path(urlsplit(settings.database_url).path)


def pg_url(settings: Settings) -> str:
    """The PostgreSQL URL as libpq tools take it: no query parameters of ours, and no password (argv is
    readable by every local user in `ps`; the password travels in the tools' environment, `pg_env`)."""
    parts = urlsplit("postgresql://" + settings.database_url.split("://", 1)[1].split("?", 1)[0])
    host = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{parts.path}"


def pg_env(settings: Settings) -> dict[str, str]:
    password = urlsplit(settings.database_url).password
    return {**os.environ, **({"PGPASSWORD": unquote(password)} if password else {})}


def backup(settings: Settings, target: Path) -> None:
    if target.exists():
        raise BackupError(_("%(path)s already exists; choose a new file name.", path=target))
    if settings.is_sqlite:
        source = sqlite_path(settings)
        if not source.exists():
            raise BackupError(_("There is no database at %(path)s yet.", path=source))
        partial = target.with_name(target.name + ".partial")
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as reading, closing(sqlite3.connect(partial)) as writing:
            reading.backup(writing)  # page by page, consistent even while the server writes
        os.chmod(partial, 0o600)  # the whole school's records: readable by this account only
        os.replace(partial, target)
        return
    target.touch(mode=0o600)
    result = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target), pg_url(settings)],
                            capture_output=True, text=True, timeout=3600, env=pg_env(settings))
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(_("pg_dump failed: %(error)s", error=result.stderr.strip()[:500]))


def restore(settings: Settings, source: Path) -> None:
    if not source.is_file():
        raise BackupError(_("There is no backup file at %(path)s.", path=source))
    if settings.is_sqlite:
        target = sqlite_path(settings)
        if target.exists() and _sqlite_has_tables(target):
            raise BackupError(_("The database %(path)s is not empty; restore only into a new one.", path=target))
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as check:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(_("The backup file is damaged: %(verdict)s", verdict=verdict))
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
            shutil.copyfile(source, partial.name)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(partial.name, target)
        return
    tables = subprocess.run(["psql", "-At", "-c", "select count(*) from pg_tables where schemaname = 'public'", pg_url(settings)],
                            capture_output=True, text=True, timeout=60, env=pg_env(settings))
    if tables.returncode != 0:
        raise BackupError(_("The database cannot be reached: %(error)s", error=tables.stderr.strip()[:500]))
    if tables.stdout.strip() != "0":
        raise BackupError(_("The database is not empty; restore only into a new one."))
    result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", pg_url(settings), str(source)],
                            capture_output=True, text=True, timeout=3600, env=pg_env(settings))
    if result.returncode != 0:
        raise BackupError(_("pg_restore failed: %(error)s", error=result.stderr.strip()[:500]))


def _sqlite_has_tables(path: Path) -> bool:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
