"""Database set-up: Tortoise config, migrations, and the durability checks run at start-up."""

from __future__ import annotations

import logging

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as run_migrations

from server.settings import SQLITE_PRAGMAS, Settings

log = logging.getLogger("xindang.db")


class StartupCheckError(RuntimeError):
    """The database is not configured safely; the server refuses to start."""


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
    config = tortoise_config(settings.database_url)
    if migrate:
        await run_migrations(config=config)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    await assert_durable(settings)


async def close_database() -> None:
    await Tortoise.close_connections()


async def assert_durable(settings: Settings) -> None:
    """SQLite pragmas (F9, F10) and PostgreSQL synchronous_commit must be what we promise."""
    conn = connections.get("default")
    if settings.is_sqlite:
        for pragma, wanted in SQLITE_PRAGMAS.items():
            # nosemgrep: sql-formatted-into-raw-query (a PRAGMA takes no parameters; names from our constant)
            _, rows = await conn.execute_query(f"PRAGMA {pragma}")
            actual = str(next(iter(dict(rows[0]).values()))).lower()
            if actual != _pragma_value(pragma, wanted):
                raise StartupCheckError(f"SQLite PRAGMA {pragma} is {actual}, expected {wanted}")
    else:
        _, rows = await conn.execute_query("SHOW synchronous_commit")
        if dict(rows[0])["synchronous_commit"] != "on":
            raise StartupCheckError("PostgreSQL synchronous_commit must be on")


def _pragma_value(pragma: str, wanted: str) -> str:
    """PRAGMA answers numbers for some settings (synchronous FULL = 2, ON = 1)."""
    numeric = {"synchronous": {"full": "2", "extra": "3"}, "foreign_keys": {"on": "1"}, "secure_delete": {"on": "1"}}
    return numeric.get(pragma, {}).get(wanted.lower(), wanted.lower())
