"""Typed work is never lost to an ended session.

A save posted after the session ended (idle or absolute timeout, logout elsewhere) is kept for the
user who opened the form, encrypted with AES-GCM under a key derived from the server's secret, for
KEEP_HOURS; after signing in again that user gets the form back filled, and the kept copy is deleted.

Whose work it is cannot come from the ended session: the entry page carries an owner token, an HMAC
of the user's id, the path the form posts to and the time, made with the server's secret. Nobody can
make one for another user or another form, and the stash is only ever given back to that user signed in.
The audit log names the user, the form or record and what happened, never what was typed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server import audit
from server.models import UnsavedPost, User

log = logging.getLogger("xindang")

KEEP_HOURS = 24  # then the kept work is deleted, used or not
OWNER_TOKEN_HOURS = 24  # a form opened longer ago than this is no longer anyone's to keep
MAX_KEPT_PER_USER = 20  # the oldest go first: a flood of posts cannot fill the database
MAX_KEPT_BYTES = 2_000_000  # never more than one request body may carry (server.app.MAX_BODY_BYTES)
PURGE_SECONDS = 600
OWNER_FIELD = "_owner"
RESTORE_PARAM = "restore"
# where the entry pages post a save, and the page that shows the same form again
SAVE_TARGETS = (
    (re.compile(r"^/forms/(?P<form>[A-Za-z0-9_-]{1,64})$"), "/forms/{form}/new"),
    (re.compile(r"^/records/(?P<record>[0-9]{1,9})$"), "/records/{record}/edit"),
    (re.compile(r"^/records/(?P<record>[0-9]{1,9})/upgrade$"), "/records/{record}/upgrade"),
)


def _key(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"xindang", info=purpose).derive(secret.encode())


def owner_token(secret: str, user_id: int, path: str, now: float | None = None) -> str:
    """`<user id>.<issued>.<mac>` for a form that posts to `path` (carried in the form as OWNER_FIELD)."""
    issued = int(now if now is not None else time.time())
    return f"{user_id}.{issued}.{_owner_mac(secret, user_id, path, issued)}"


def _owner_mac(secret: str, user_id: int, path: str, issued: int) -> str:
    message = f"{user_id}|{path}|{issued}".encode()
    return hmac.new(_key(secret, b"owner token"), message, hashlib.sha256).hexdigest()[:32]


def owner_of(secret: str, token: str, path: str) -> int | None:
    """The user a form posted to `path` was opened for, when its token is ours, for this path, and recent."""
    parts = token.split(".") if isinstance(token, str) and len(token) < 100 else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    user_id, issued = int(parts[0]), int(parts[1])
    if not 0 < user_id < 2**31 or not 0 <= time.time() - issued <= OWNER_TOKEN_HOURS * 3600:
        return None
    return user_id if hmac.compare_digest(parts[2], _owner_mac(secret, user_id, path, issued)) else None


def resume_page(path: str) -> str | None:
    """The page that shows the form a save was posted from, or None when `path` is no save."""
    for pattern, page in SAVE_TARGETS:
        if found := pattern.match(path):
            return page.format(**found.groupdict())
    return None


def subject_of(path: str) -> str:
    """How the audit log names what the kept work is for ("form:…" or "record:…")."""
    parts = path.strip("/").split("/")
    return f"{'form' if parts[0] == 'forms' else 'record'}:{parts[1]}" if len(parts) > 1 else path[:100]


def _associated(key: str, user_id: int, target: str) -> bytes:
    """Bound into the ciphertext: a row moved to another user or target no longer decrypts."""
    return f"{key}|{user_id}|{target}".encode()


def _seal(secret: str, key: str, user_id: int, target: str, pairs: list[list[str]]) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_key(secret, b"unsaved work")).encrypt(nonce, orjson.dumps(pairs), _associated(key, user_id, target))


def _open(secret: str, row: UnsavedPost) -> list[tuple[str, str]] | None:
    data = bytes(row.data)
    try:
        plain = AESGCM(_key(secret, b"unsaved work")).decrypt(data[:12], data[12:], _associated(row.key, row.user_id, row.target))
    except (InvalidTag, ValueError):
        return None
    return [(str(k), str(v)) for k, v in orjson.loads(plain)]


def posted_pairs(form: Any) -> list[list[str]]:
    """The text fields of a form post, in order (files and the control fields that must be fresh are left out)."""
    skip = {"_csrf_token", OWNER_FIELD}
    return [[key, value] for key, value in form.multi_items() if isinstance(value, str) and key not in skip]


async def keep(secret: str, user_id: int, path: str, query: str, pairs: list[list[str]], scope: dict | None = None) -> str | None:
    """Keep what was posted to `path` for this user; the key to ask for it again, or None when it is not kept
    (an unknown or disabled user, more than a body may hold)."""
    user = await User.get_or_none(id=user_id, is_active=True)
    if user is None:
        return None
    target = path + (f"?{query}" if query else "")
    if len(target) > 300 or sum(len(k) + len(v) for k, v in pairs) > MAX_KEPT_BYTES:
        return None
    await purge_expired()
    key = secrets.token_urlsafe(24)
    now = dt.datetime.now(dt.timezone.utc)
    async with audit.transaction() as entries:
        await UnsavedPost.create(key=key, user_id=user.id, school_id=user.school_id, target=target,
                                 data=_seal(secret, key, user.id, target, pairs), expires_at=now + dt.timedelta(hours=KEEP_HOURS))
        older = await UnsavedPost.filter(user_id=user.id).order_by("-created_at", "-key").offset(MAX_KEPT_PER_USER).values_list("key", flat=True)
        if older:
            await UnsavedPost.filter(key__in=list(older)).delete()
        await entries.append("keep-unsaved", subject_of(path), user=user, detail=f"session ended; kept {KEEP_HOURS} h", scope=scope)
    return key


async def take(secret: str, user: User, key: str, path: str, scope: dict | None = None) -> tuple[list[tuple[str, str]], str] | None:
    """The fields kept under `key` for this user, posted to `path` (and the query they were posted with),
    deleted as they are handed back; None when there is none (another user's, used, expired, elsewhere)."""
    if not isinstance(key, str) or not 0 < len(key) <= 64:
        return None
    row = await UnsavedPost.get_or_none(key=key, user_id=user.id)
    if row is None or row.expires_at <= dt.datetime.now(dt.timezone.utc) or row.target.split("?", 1)[0] != path:
        return None
    pairs = _open(secret, row)
    async with audit.transaction() as entries:
        if not await UnsavedPost.filter(key=row.key).delete():
            return None  # handed back a moment ago, to another tab
        await entries.append("restore-unsaved", subject_of(path), user=user, result="ok" if pairs is not None else "failed", scope=scope)
    return (pairs, row.target.partition("?")[2]) if pairs is not None else None


async def keep_unsaved_post(connection: Any, receive: Any) -> str | None:
    """A save that reached us with no session: kept for the user the form was opened for (its owner token).
    The page to go back to after signing in, or None when the post is no save or nobody's to keep."""
    path = connection.scope["path"]
    if resume_page(path) is None:
        return None
    from litestar import Request  # the body, read here: the request goes no further

    try:
        form = await Request(connection.scope, receive=receive).form()
    except Exception:  # too large, malformed: nothing to keep, the login page as before
        return None
    secret = connection.scope["app"].state.settings.secret_key
    token = form.get(OWNER_FIELD)
    owner = owner_of(secret, token, path) if isinstance(token, str) else None
    if owner is None:
        return None
    query = connection.scope.get("query_string", b"").decode("latin-1")
    key = await keep(secret, owner, path, query, posted_pairs(form), scope=connection.scope)
    return resume_url(path, query, key) if key else None


async def waiting_for(user: User) -> list[dict[str, Any]]:
    """This user's kept work not yet put back, newest first: where it goes (`url`), what it is for (`subject`,
    "form:…" or "record:…"), when it was kept and until when (nothing of what was typed)."""
    now = dt.datetime.now(dt.timezone.utc)
    rows = await UnsavedPost.filter(user_id=user.id, expires_at__gt=now).order_by("-created_at") \
        .values("key", "target", "created_at", "expires_at")
    found = []
    for row in rows:
        path, _sep, query = row["target"].partition("?")
        found.append({"url": resume_url(path, query, row["key"]), "subject": subject_of(path), "kept_at": row["created_at"],
                      "expires_at": row["expires_at"]})
    return found


def resume_url(path: str, query: str, key: str) -> str:
    page = resume_page(path) or "/forms"
    params = [(k, v) for k, v in _query_pairs(query) if k == "student"] if page.endswith("/new") else []
    return page + "?" + urlencode([*params, (RESTORE_PARAM, key)])


def _query_pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=False)[:500]


async def purge_expired() -> int:
    """Delete kept work past its time, each noted in the audit log (whose, for what; never what)."""
    now = dt.datetime.now(dt.timezone.utc)
    expired = await UnsavedPost.filter(expires_at__lte=now).values("key", "user_id", "school_id", "target")
    if not expired:
        return 0
    deleted = 0
    async with audit.transaction() as entries:
        for row in expired:  # one by one: of two server processes purging at once, only the one that deletes notes it
            if await UnsavedPost.filter(key=row["key"], expires_at__lte=now).delete():
                deleted += 1
                await entries.append("purge-unsaved", subject_of(row["target"].split("?", 1)[0]), actor_name="system",
                                     school_id=row["school_id"], detail=f"user:{row['user_id']} expired after {KEEP_HOURS} h")
    return deleted


async def purge_now_and_then() -> None:
    """Runs beside the server: expired kept work goes within PURGE_SECONDS even when nobody signs in."""
    while True:
        try:
            await purge_expired()
        except Exception:  # a purge that fails is tried again; it must not stop the server
            log.exception("purging expired unsaved work failed")
        await asyncio.sleep(PURGE_SECONDS)
