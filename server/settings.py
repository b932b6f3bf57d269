"""Settings from the environment, with defaults a single school can run on."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FORM_DEFS_DIR = PROJECT_ROOT / "form_defs"
STATIC_DIR = PROJECT_ROOT / "static"
I18N_DIR = PROJECT_ROOT / "i18n"

# Pinned on every SQLite connection and asserted at start-up (SECURITY.md F9, F10).
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "FULL",
    "foreign_keys": "ON",
    "secure_delete": "ON",
    "busy_timeout": "10000",
}


def _sqlite_url(path: Path) -> str:
    params = "&".join(f"{k}={v}" for k, v in SQLITE_PRAGMAS.items())
    return f"sqlite://{path}?{params}"


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
