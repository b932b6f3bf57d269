"""Settings from the environment, with defaults a single school can run on."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FORM_DEFS_DIR = PROJECT_ROOT / "form_defs"
STATIC_DIR = PROJECT_ROOT / "static"
I18N_DIR = PROJECT_ROOT / "i18n"

# Pinned on every SQLite connection and asserted at start-up (docs/SECURITY.md F9, F10).
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "FULL",
    "foreign_keys": "ON",
    "secure_delete": "ON",
    "busy_timeout": "10000",
}



class StartError(RuntimeError):
    """xindang cannot start with this configuration or database; the message is one sentence for the operator,
    which the command line prints instead of a traceback."""


class SettingsError(StartError, ValueError):
    """A setting the server refuses to run with."""


def _sqlite_url(path: Path) -> str:
    params = "&".join(f"{k}={v}" for k, v in SQLITE_PRAGMAS.items())
    return f"sqlite://{path}?{params}"


def _safe_pragma_value(pragma: str, value: str) -> str | None:
    """The canonical form of a safe value the user gave for one of our pragmas, or None when it is unsafe."""
    word = value.strip().lower()
    if pragma == "journal_mode":
        return "wal" if word == "wal" else None
    if pragma == "synchronous":
        return {"full": "FULL", "2": "FULL", "extra": "EXTRA", "3": "EXTRA"}.get(word)
    if pragma in ("foreign_keys", "secure_delete"):
        return "ON" if word in ("on", "1", "true", "yes") else None
    if pragma == "busy_timeout":  # a shorter wait turns a busy moment into a refused save
        return str(int(word)) if word.isdigit() and int(word) >= int(SQLITE_PRAGMAS["busy_timeout"]) else None
    return value


def safe_sqlite_url(url: str) -> str:
    """A SQLite URL the user gave, with the safe settings (docs/SECURITY.md F9, F10) added where it names none;
    the user's own safe values win, an unsafe one is refused with a sentence."""
    base, _, query = url.partition("?")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        pragma = key.strip().lower()
        if pragma in SQLITE_PRAGMAS:
            safe = _safe_pragma_value(pragma, value)
            if safe is None:
                from server.i18n import gettext as _

                wanted = f"≥ {SQLITE_PRAGMAS[pragma]}" if pragma == "busy_timeout" else SQLITE_PRAGMAS[pragma]
                raise SettingsError(_("XINDANG_DATABASE_URL sets the SQLite setting %(setting)s=%(value)s, which could lose or "
                                      "damage saved records or make saves fail; remove it or set it to %(safe)s.",
                                      setting=key, value=value, safe=wanted))
            params[pragma] = safe
        else:
            params[key] = value
    merged = {**SQLITE_PRAGMAS, **params}
    return f"{base}?{urlencode(merged, safe='/:')}"


def sqlite_pragmas(url: str) -> dict[str, str]:
    """The safety pragmas a (safe_sqlite_url) SQLite URL asks for: what the start-up check expects."""
    given = {key.lower(): value for key, value in parse_qsl(url.partition("?")[2])}
    return {pragma: given.get(pragma, wanted) for pragma, wanted in SQLITE_PRAGMAS.items()}


@dataclass
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str
    locale: str = "zh_Hans_CN"
    form_dirs: list[Path] = field(default_factory=list)
    secure_cookies: bool = False
    page_size: int = 50
    print_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # batch printing: one WeasyPrint per core
    print_keep_hours: float = 24  # a batch print's file is deleted this long after it is made

    @property
    def school_forms_dir(self) -> Path:
        """What the school adds to the shipped definitions (a scale's imported item texts)."""
        return self.data_dir / "forms"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("XINDANG_DATA_DIR", PROJECT_ROOT / "data")).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = env.get("XINDANG_DATABASE_URL") or _sqlite_url(data_dir / "xindang.sqlite3")
        if database_url.startswith("postgresql://"):
            database_url = "postgres://" + database_url.removeprefix("postgresql://")
        if database_url.startswith("sqlite"):
            database_url = safe_sqlite_url(database_url)
        extra = [Path(p) for p in env.get("XINDANG_FORM_DIRS", "").split(os.pathsep) if p]
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=env.get("XINDANG_SECRET_KEY") or _stored_secret(data_dir),
            locale=env.get("XINDANG_LOCALE", "zh_Hans_CN"),
            form_dirs=[FORM_DEFS_DIR, *extra],
            secure_cookies=env.get("XINDANG_SECURE_COOKIES", "") == "1",
            print_workers=int(env.get("XINDANG_PRINT_WORKERS") or os.cpu_count() or 1),
            print_keep_hours=float(env.get("XINDANG_PRINT_KEEP_HOURS") or 24),
        )


def _stored_secret(data_dir: Path) -> str:
    """Generate the secret on first run and keep it, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
