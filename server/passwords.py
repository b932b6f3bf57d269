"""Password rules (docs/SECURITY.md item 6): long enough, any characters, not a common one."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from server.i18n import gettext as _

MIN_LENGTH = 8
MAX_LENGTH = 256  # long pass-phrases are welcome; this only bounds the work per login
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def normalized(password: str) -> str:
    """The same password however the keyboard composed it (NFC)."""
    return unicodedata.normalize("NFC", password)


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password may not be used, in the user's language, or None."""
    password = normalized(password)
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(count)s characters.", count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password may have at most %(count)s characters.", count=MAX_LENGTH)
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2 or (username and username.lower() in lowered):
        return _("This password is too easy to guess; choose a longer or less common one.")
    return None
