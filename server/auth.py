"""Who is asking: session login for pages, bearer tokens for the API, argon2id passwords."""

from __future__ import annotations

import hashlib
import secrets
import time
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Receive, Scope, Send
from tortoise.expressions import Q

from server.models import ApiToken, User
from server.i18n import gettext as _
from server.passwords import normalized
from server.unsaved_work import keep_unsaved_post

PASSWORD_HASHER = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = PASSWORD_HASHER.hash("not a real password")
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
IDLE_SECONDS = 30 * 60  # a page session unused this long ends
ABSOLUTE_SECONDS = 8 * 3600  # and any page session this long after its sign-in, however busy (keep-alives included)
SEEN_RESOLUTION = 60


class SessionEndedWorkKept(NotAuthorizedException):
    """The session had ended when a form was saved: what was posted is kept (server.unsaved_work) and
    `resume` gives the form back filled once its owner has signed in again."""

    def __init__(self, resume: str):
        super().__init__("需要登录")
        self.resume = resume


class PasswordChangeRequired(NotAuthorizedException):
    """The user signed in with an initial password someone else set: they must choose their own first."""


class AccountGateClosed(NotAuthorizedException):
    """A rule of the school keeps this account out (no agreement in force, a token where a code is required)."""


class SecondFactorSetupRequired(NotAuthorizedException):
    """The school requires a second factor for one of the user's roles, and the user has none yet."""


PASSWORD_PAGES = ("/account/password", "/logout", "/language")
SECOND_FACTOR_PAGES = (*PASSWORD_PAGES, "/account/totp", "/account/totp/setup")


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(normalized(password))


FREE_FAILURES = 5  # wrong passwords in a row before the account waits
MAX_LOCK = timedelta(minutes=15)


def lock_after(failures: int) -> timedelta | None:
    """Back-off per account (not per IP, F3: a school shares one address): 1, 2, 4 … up to 15 minutes."""
    if failures < FREE_FAILURES:
        return None
    return min(timedelta(minutes=2 ** (failures - FREE_FAILURES)), MAX_LOCK)


async def authenticate_password(username: str, password: str) -> tuple[User | None, User | None]:
    """(the user when the password is right, the account the name belongs to). An unknown name, a wrong
    password and a waiting account look the same and cost the same hash work (run off the event loop).
    Each try on an account is reserved before the slow hash (`reserve_attempt`), so parallel guesses get
    no more tries than sequential ones; a right password in a reserved try signs in and ends the wait."""
    account = await User.get_or_none(username=username, is_active=True)
    reserved = await reserve_attempt(account.id) if account else False
    checked_hash = account.password_hash if account and reserved else _DUMMY_HASH
    correct = await anyio.to_thread.run_sync(_verify, checked_hash, normalized(password))
    if account is None or not reserved or not correct:
        return None, account
    await User.filter(id=account.id).update(failed_logins=0, locked_until=None)
    return account, account


RESERVE_TRIES = 20  # compare-and-set rounds before a try is refused as if the account were waiting


async def reserve_attempt(user_id: int, counter: str = "failed_logins", lock: str = "locked_until") -> bool:
    """Count a try (password or second-factor code) before it is checked: one conditional UPDATE per count
    (compare-and-set), so of parallel tries each gets its own number; the try that reaches the free limit
    sets the wait, and tries arriving during a wait are refused unchecked. A right answer resets the count."""
    for _round in range(RESERVE_TRIES):
        now = datetime.now(timezone.utc)
        current = await User.get_or_none(id=user_id).only("id", counter, lock)
        locked_until = getattr(current, lock, None)
        if current is None or (locked_until and locked_until > now):
            return False
        count = getattr(current, counter)
        wait = lock_after(count + 1)
        free = Q(**{f"{lock}__isnull": True}) | Q(**{f"{lock}__lte": now})
        if await User.filter(Q(id=user_id, **{counter: count}) & free).update(
                **{counter: count + 1, lock: now + wait if wait else None}) == 1:
            return True
    return False


def _verify(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOKEN_DAYS = 90  # a token stops working after this; a script asks for a new one


async def create_token(user: User, days: int = TOKEN_DAYS) -> str:
    token = "xd_" + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, token_hash=token_digest(token),
                          expires_at=datetime.now(timezone.utc) + timedelta(days=days))
    return token


async def user_for_token(token: str) -> User | None:
    row = await ApiToken.get_or_none(token_hash=token_digest(token)).select_related("user__school")
    now = datetime.now(timezone.utc)
    expires = row.expires_at or row.created_at + timedelta(days=TOKEN_DAYS) if row else None  # tokens older than expiry dates
    if row is None or not row.user.is_active or expires <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:  # a write per minute, not per call
        row.last_used_at = now
        await row.save(update_fields=["last_used_at"])
    return row.user


def second_factor_required(user: User) -> bool:
    """Does the user's school (loaded with the user) require a second factor for one of the user's roles?"""
    return bool(set(user.school.totp_roles or []) & set(user.roles or []))


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def is_api_description(path: str) -> bool:
    """The OpenAPI description (/schema…): for signed-in users and token holders only."""
    return path == "/schema" or path.startswith("/schema/")


_request_receive: ContextVar[Receive | None] = ContextVar("request_receive", default=None)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Every route requires a user: pages from the session, `/api/` from a bearer token only, the API's
    description from either."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _request_receive.set(receive)  # a save that comes with no session is read here, to be kept
        try:
            await super().__call__(scope, receive, send)
        finally:
            _request_receive.reset(token)

    async def _check_agreement(self, connection: ASGIConnection, user: User, session: dict | None = None) -> None:
        """An account the school opens only on a recorded confidentiality agreement closes as soon as the
        agreement ends, for its sessions and tokens alike (a query per request, only while the rule is on)."""
        if user.school.require_agreement:
            from server.accounts import agreement_missing  # accounts imports this module

            forms = await connection.scope["app"].state.forms.school_forms(user.school.id)
            if await agreement_missing(forms, user):
                if session is not None:
                    connection.scope["session"] = {}
                raise AccountGateClosed(_("Your account is not open: the school opens an account only while its holder's confidentiality agreement is recorded and in force."))

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        path = connection.scope["path"]
        header = connection.headers.get("authorization", "")
        if is_api(path) or (header and is_api_description(path)):  # the OpenAPI description: a token or a session
            scheme, _space, token = header.partition(" ")
            user = await user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
            if user is None:
                raise NotAuthorizedException("需要有效的 API 令牌")
            if user.must_change_password:
                raise PasswordChangeRequired()
            if second_factor_required(user):
                raise AccountGateClosed(_("The school requires a second factor for your role; a token cannot replace it."))
            await self._check_agreement(connection, user)
            return AuthenticationResult(user=user, auth="token")
        session = connection.scope.get("session") or {}
        user_id = session.get("user_id")
        user = await User.get_or_none(id=user_id, is_active=True).select_related("school") if user_id else None
        now = int(time.time())
        if user is not None and (now - int(session.get("seen", 0)) > IDLE_SECONDS or now - int(session.get("since", now)) > ABSOLUTE_SECONDS):
            connection.scope["session"] = {}  # idle too long, or signed in too long ago: the session ends here
            user = None
        if user is None:
            receive = _request_receive.get()
            if connection.scope["method"] == "POST" and receive and (resume := await keep_unsaved_post(connection, receive)):
                raise SessionEndedWorkKept(resume)
            raise NotAuthorizedException("需要登录")
        if now - int(session.get("seen", 0)) > SEEN_RESOLUTION:
            session["seen"] = now  # at most one session write a minute
        await self._check_agreement(connection, user, session)
        if user.must_change_password and path not in PASSWORD_PAGES:
            raise PasswordChangeRequired()
        if not user.totp_secret and path not in SECOND_FACTOR_PAGES and second_factor_required(user):
            raise SecondFactorSetupRequired()
        return AuthenticationResult(user=user, auth="session")
