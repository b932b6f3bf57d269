"""Who is asking: session login for pages, bearer tokens for the API, argon2id passwords."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server.models import ApiToken, User

PASSWORD_HASHER = PasswordHasher()  # argon2id with the library's current parameters
_DUMMY_HASH = PASSWORD_HASHER.hash("not a real password")
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


async def authenticate_password(username: str, password: str) -> User | None:
    """The user, or None; an unknown name costs the same hash work as a wrong password."""
    user = await User.get_or_none(username=username, is_active=True)
    try:
        PASSWORD_HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(user: User) -> str:
    token = "xd_" + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, token_hash=token_digest(token))
    return token


async def user_for_token(token: str) -> User | None:
    row = await ApiToken.get_or_none(token_hash=token_digest(token)).select_related("user__school")
    if row is None or not row.user.is_active:
        return None
    now = datetime.now(timezone.utc)
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:  # a write per minute, not per call
        row.last_used_at = now
        await row.save(update_fields=["last_used_at"])
    return row.user


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Every route requires a user: pages from the session, `/api/` from a bearer token only."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        path = connection.scope["path"]
        if is_api(path):
            header = connection.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            user = await user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
            if user is None:
                raise NotAuthorizedException("需要有效的 API 令牌")
            return AuthenticationResult(user=user, auth="token")
        user_id = connection.session.get("user_id") if "session" in connection.scope else None
        user = await User.get_or_none(id=user_id, is_active=True).select_related("school") if user_id else None
        if user is None:
            raise NotAuthorizedException("需要登录")
        return AuthenticationResult(user=user, auth="session")
