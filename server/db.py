"""Database set-up: Tortoise config, migrations, and the durability checks run at start-up."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from urllib.parse import urlsplit

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as run_migrations

from server.i18n import gettext as _
from server.settings import Settings, StartError, sqlite_pragmas

log = logging.getLogger("xindang.db")


class StartupCheckError(StartError):
    """The database is not configured safely; the server refuses to start."""


class DatabaseStartError(StartError):
    """The database cannot be reached or brought up to date; the server does not start."""


def tortoise_config(database_url: str) -> dict:
    return {
        "connections": {"default": database_url},
        "apps": {"models": {"models": ["server.models"], "migrations": "server.migrations", "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


def __getattr__(name: str) -> dict:
    """`TORTOISE_ORM` for Tortoise's own CLI (`tortoise -c server.db.TORTOISE_ORM makemigrations`),
    built on first use so importing this module touches no files."""
    if name == "TORTOISE_ORM":
        return tortoise_config(Settings.from_env().database_url)
    raise AttributeError(name)


async def open_database(settings: Settings, migrate: bool = True) -> None:
    """Migrate, connect and check; on any failure the connections are closed again (an open SQLite
    connection's thread would keep the process alive) and the failure is one sentence (StartError)."""
    config = tortoise_config(settings.database_url)
    if settings.is_sqlite:
        _check_sqlite_file(settings)
    try:
        try:
            if migrate:
                await run_migrations(config=config)
            await Tortoise.init(config=config, _enable_global_fallback=True)
            await assert_durable(settings)
        except StartError:
            raise
        except Exception as error:
            log.debug("the database could not be opened", exc_info=True)
            await close_database()
            raise await _start_failure(settings, config, error) from error
    except BaseException:
        await close_database()
        raise


async def _start_failure(settings: Settings, config: dict, error: Exception) -> DatabaseStartError:
    """Tell an unreachable database from one that is reachable but cannot be migrated."""
    detail = " ".join(str(error).split())[:300] or type(error).__name__
    try:
        await Tortoise.init(config=config)
        await connections.get("default").execute_query("SELECT 1")
    except Exception as unreachable:  # noqa: BLE001 (any failure to connect is told the same way)
        detail = " ".join(str(unreachable).split())[:300] or type(unreachable).__name__
        return DatabaseStartError(_("The database %(where)s cannot be opened (%(error)s); check XINDANG_DATABASE_URL and that "
                                    "the database server is running.", where=_database_place(settings), error=detail))
    finally:
        await close_database()
    return DatabaseStartError(_("The database %(where)s could not be brought up to date (%(error)s); nothing was started: "
                                "restore the latest backup or ask for help.", where=_database_place(settings), error=detail))


def _check_sqlite_file(settings: Settings) -> None:
    """Open the SQLite file once before Tortoise does: Tortoise keeps its connection lock when the first connect
    fails (a folder that does not exist, no permission), and the next query then waits forever."""
    try:
        with closing(sqlite3.connect(_database_place(settings))) as db:
            db.execute("PRAGMA schema_version").fetchone()
    except sqlite3.Error as error:
        raise DatabaseStartError(_("The SQLite database %(where)s cannot be opened (%(error)s); check the path in "
                                   "XINDANG_DATABASE_URL, that its folder exists and that this account may write there.",
                                   where=_database_place(settings), error=error)) from error


def _database_place(settings: Settings) -> str:
    """Where the database is, for a message: the SQLite file, or PostgreSQL's host and database without the password."""
    url = urlsplit(settings.database_url)
    if settings.is_sqlite:
        return url.netloc + url.path
    return f"{url.hostname or ''}{':' + str(url.port) if url.port else ''}{url.path}"


async def close_database() -> None:
    await Tortoise.close_connections()


async def assert_durable(settings: Settings) -> None:
    """SQLite pragmas (F9, F10) and PostgreSQL synchronous_commit must be what we promise."""
    conn = connections.get("default")
    if settings.is_sqlite:
        for pragma, wanted in sqlite_pragmas(settings.database_url).items():
            # nosemgrep: sql-formatted-into-raw-query (a PRAGMA takes no parameters; names from our constant)
            _, rows = await conn.execute_query(f"PRAGMA {pragma}")
            actual = str(next(iter(dict(rows[0]).values()))).lower()
            if actual != _pragma_value(pragma, wanted):
                raise StartupCheckError(_("The SQLite database answers %(setting)s=%(actual)s instead of %(wanted)s; the server "
                                          "does not run on a database that could lose saved records.",
                                          setting=pragma, actual=actual, wanted=wanted))
    else:
        _, rows = await conn.execute_query("SHOW synchronous_commit")
        if dict(rows[0])["synchronous_commit"] != "on":
            raise StartupCheckError(_("PostgreSQL's synchronous_commit is off; the server does not run on a database that "
                                      "could lose saved records (set synchronous_commit = on)."))


def _pragma_value(pragma: str, wanted: str) -> str:
    """PRAGMA answers numbers for some settings (synchronous FULL = 2, ON = 1)."""
    numeric = {"synchronous": {"full": "2", "extra": "3"}, "foreign_keys": {"on": "1"}, "secure_delete": {"on": "1"}}
    return numeric.get(pragma, {}).get(wanted.lower(), wanted.lower())
