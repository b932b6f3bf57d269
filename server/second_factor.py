"""The TOTP second factor (RFC 6238, pyotp): a six-digit code from an authenticator app.

A school chooses the roles whose holders must use it (School.totp_roles): those that read
sensitive records. A code is accepted once (the last used time step is stored, and only a
later step passes), and wrong codes count into the same per-account back-off as wrong passwords.
"""

from __future__ import annotations

import time

import pyotp
import segno
from markupsafe import Markup
from tortoise.expressions import Q

from server.auth import reserve_attempt
from server.models import School, User

ISSUER = "心档"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def setup_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def setup_qr(secret: str, username: str) -> Markup:
    """The set-up QR code as an inline SVG drawn on the server (no script, no outside service)."""
    svg = segno.make(setup_uri(secret, username), error="m").svg_inline(scale=5, border=2, omitsize=True)  # a viewBox: the code scales to its box whole
    return Markup(svg)  # segno writes only the path data of the code: nothing from the user but escaped text


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code this is (the current one, or one step either side for clock drift)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp, now = pyotp.TOTP(secret), time.time() if at is None else at
    for offset in (0, -1, 1):
        step = int(now // STEP_SECONDS) + offset
        if totp.at(step * STEP_SECONDS) == code:
            return step
    return None


async def accept_code(user: User, code: str) -> bool:
    """True once per code. Each try is first reserved on the account's own
    second-factor counter (never reset by a right password): five tries, then one try per wait of
    1, 2, 4 … 15 minutes, however many requests arrive at once."""
    if not await reserve_attempt(user.id, "totp_failures", "totp_locked_until"):
        return False
    step = matching_step(user.totp_secret or "", code) if user.totp_secret else None
    if step is None:
        return False
    newer = Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step)
    return await User.filter(Q(id=user.id) & newer).update(totp_last_step=step, totp_failures=0, totp_locked_until=None) == 1


def required_roles(user: User, school: School) -> set[str]:
    """The user's roles for which the school requires a second factor."""
    return set(school.totp_roles or []) & set(user.roles or [])


async def required_for(user: User) -> bool:
    """Does the user's school require a second factor for one of the user's roles?"""
    school = user.school if isinstance(user.school, School) else await user.school
    return bool(required_roles(user, school))
