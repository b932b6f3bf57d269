"""Server-side sessions kept in the database, with the fixation fix of docs/SECURITY.md F1.

Litestar's backend accepts any session id a browser sends and keeps it across login.
Ours only reuses an id the store already knows, and issues a new one when the
session asks for it (`rotate_session`), e.g. at login.

Litestar's CSRF check (a signed double-submit cookie, F2) is not bound to a session: a
token pair from another session or an anonymous visit would pass. A new session id comes
with a new CSRF token kept in the session and sent as the CSRF cookie, and
`csrf_session_binding` refuses an unsafe request whose CSRF cookie is not its session's.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hmac import compare_digest

import orjson

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import generate_csrf_token
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.dataclass import extract_dataclass_items

from server.models import SessionEntry

ROTATE_FLAG = "_rotate"
CSRF_KEY = "csrf"  # the CSRF token this session was given (see csrf_session_binding)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KNOWN_ID_STATE = "xindang_session_id"


def _expiry(expires_in: int | timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _owner(data: bytes) -> int | None:
    """The user a session belongs to, signed in or halfway (the password given, the code not yet), so all
    of a user's sessions can be ended."""
    try:
        session = orjson.loads(data)
        user_id = session.get("user_id", session.get("pending_user"))
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return user_id if type(user_id) is int else None


async def end_sessions(user_id: int) -> int:
    """End every session of this user (logout, password change, account disabled)."""
    return await SessionEntry.filter(user_id=user_id).delete()


class DatabaseStore(Store):
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        await SessionEntry.update_or_create(key=key, defaults={"data": data, "expires_at": _expiry(expires_in),
                                                               "user_id": _owner(data)})

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        entry = await SessionEntry.get_or_none(key=key)
        if entry is None:
            return None
        if entry.expires_at and entry.expires_at <= datetime.now(timezone.utc):
            await entry.delete()
            return None
        if renew_for and entry.expires_at:
            entry.expires_at = _expiry(renew_for)
            await entry.save(update_fields=["expires_at"])
        return bytes(entry.data)

    async def delete(self, key: str) -> None:
        await SessionEntry.filter(key=key).delete()

    async def delete_all(self) -> None:
        await SessionEntry.all().delete()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        entry = await SessionEntry.get_or_none(key=key)
        if entry is None or entry.expires_at is None:
            return None
        return int((entry.expires_at - datetime.now(timezone.utc)).total_seconds())

    async def delete_expired(self) -> None:
        await SessionEntry.filter(expires_at__lte=datetime.now(timezone.utc)).delete()


def current_session_key(connection: ASGIConnection) -> str | None:
    """The id of the session this request came with (when the store knew it)."""
    return connection.scope.get("state", {}).get(KNOWN_ID_STATE, (None, None))[0]


def rotate_session(connection: ASGIConnection, data: dict[str, Any]) -> None:
    """Replace the session's contents and ask for a fresh id (login, logout, privilege change), with a
    fresh CSRF token bound to it (sent as the CSRF cookie with the response)."""
    fresh = {**data, ROTATE_FLAG: True}
    if data:
        fresh[CSRF_KEY] = generate_csrf_token(secret=connection.app.csrf_config.secret)
    connection.set_session(fresh)


def _is_signed_in(session: dict) -> bool:
    return bool(session.get("user_id") or session.get("pending_user"))


def csrf_session_binding(app: ASGIApp) -> ASGIApp:
    """Unsafe requests of a signed-in (or half signed-in) session must carry that session's own CSRF
    cookie; Litestar's CSRF middleware, which runs after this one, then checks the token sent against
    the cookie. A session made before tokens were bound adopts its current cookie on its next safe request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        if isinstance(session, dict) and _is_signed_in(session) and not scope["path"].startswith("/api/"):
            config = scope["app"].csrf_config
            cookie = ASGIConnection(scope).cookies.get(config.cookie_name)
            bound = session.get(CSRF_KEY)
            if scope["method"] in SAFE_METHODS:
                if not bound and cookie:
                    session[CSRF_KEY] = cookie
            elif not (bound and cookie and compare_digest(bound, cookie)):
                raise PermissionDeniedException("CSRF token does not belong to this session")
        await app(scope, receive, send)

    return middleware


class RotatingSessionBackend(ServerSideSessionBackend):
    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id:
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope.setdefault("state", {})[KNOWN_ID_STATE] = (session_id, data)
                return self.deserialize_data(data)
        return {}

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        store = self.config.get_store_from_app(connection.scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        known_id, loaded = connection.scope.get("state", {}).get(KNOWN_ID_STATE, (None, None))
        cookie_params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        if scope_session is Empty or not scope_session:
            if known_id:
                await self.delete(known_id, store=store)
                headers.add("Set-Cookie", Cookie(value="", key=self.config.key, expires=0, **cookie_params).to_header(header=""))
            return
        session = dict(scope_session)
        if session.pop(ROTATE_FLAG, False) and known_id:
            await self.delete(known_id, store=store)
            known_id = None
        session_id = known_id or self.generate_session_id()
        serialized = self.serialize_data(session, connection.scope)
        if session_id != known_id or serialized != loaded:  # unchanged sessions cost no write
            await self.set(session_id=session_id, data=serialized, store=store)
        if session_id != connection.cookies.get(self.config.key):
            headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key, **cookie_params).to_header(header=""))
        csrf = connection.app.csrf_config
        if session.get(CSRF_KEY) and session[CSRF_KEY] != connection.cookies.get(csrf.cookie_name):
            headers.add("Set-Cookie", Cookie(key=csrf.cookie_name, value=session[CSRF_KEY], path=csrf.cookie_path, secure=csrf.cookie_secure,
                                             httponly=csrf.cookie_httponly, samesite=csrf.cookie_samesite,
                                             domain=csrf.cookie_domain).to_header(header=""))


class DatabaseSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
