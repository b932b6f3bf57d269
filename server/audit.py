"""The audit log: who did what to which record, student or form, when, and with what result.

Append-only and tamper-evident: each entry carries the SHA-256 of its own fields and of the entry
before it, so changing or deleting an entry breaks every link after it (`xindang audit verify`
finds the first). Entries name their target by id ("record:12"); answer text, search text,
student names and passwords never go in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, AsyncIterator

import anyio
from tortoise import connections
from tortoise.transactions import in_transaction

from server.models import AuditEntry

GENESIS = "0" * 64
_append_lock: anyio.Lock | None = None  # one writer at a time in this process; PostgreSQL adds a lock across workers


def entry_digest(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at.astimezone(dt.timezone.utc) if entry.at.tzinfo else entry.at.replace(tzinfo=dt.timezone.utc)
    return {"at": at.isoformat(timespec="microseconds"), "request_id": entry.request_id, "school_id": entry.school_id,
            "actor_id": entry.actor_id, "actor": entry.actor, "roles": entry.roles, "action": entry.action,
            "target": entry.target, "result": entry.result, "detail": entry.detail}


def request_id(scope: dict) -> str:
    """One id per request, shared by its entries (and by nothing else)."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = uuid.uuid4().hex
    return state["request_id"]


def _entry(action: str, target: str, user: Any, result: str, detail: str, scope: dict | None, actor_name: str,
           school_id: int | None) -> AuditEntry:
    return AuditEntry(
        at=dt.datetime.now(dt.timezone.utc),
        request_id=request_id(scope) if scope is not None else "",
        school_id=getattr(user, "school_id", school_id), actor_id=getattr(user, "id", None),
        actor=(getattr(user, "username", "") or actor_name)[:80], roles=",".join(getattr(user, "roles", None) or [])[:200],
        action=action[:32], target=target[:100], result=result[:16], detail=detail[:200])


class Log:
    """Appends entries inside one open transaction (see `transaction`)."""

    def __init__(self, connection: Any):
        self.connection = connection

    async def append(self, action: str, target: str = "", *, user: Any = None, result: str = "ok", detail: str = "",
                     scope: dict | None = None, actor_name: str = "", school_id: int | None = None) -> AuditEntry:
        entry = _entry(action, target, user, result, detail, scope, actor_name, school_id)
        last = await AuditEntry.all().using_db(self.connection).order_by("-id").only("hash").first()
        entry.prev_hash = last.hash if last else GENESIS
        entry.hash = entry_digest(entry.prev_hash, hashed_fields(entry))
        await entry.save(using_db=self.connection)
        return entry


_open_log: ContextVar[Log | None] = ContextVar("open_audit_log", default=None)


@asynccontextmanager
async def transaction() -> AsyncIterator[Log]:
    """A transaction whose audit entries commit (or roll back) with its other writes: a change is never
    stored unaudited, even when the process dies between the two. Locks are taken in one order, the
    append lock and then the transaction (on PostgreSQL an advisory lock orders the workers too), and
    a transaction() or append() inside an open one joins it instead of waiting for itself."""
    global _append_lock
    joined = _open_log.get()
    if joined is not None:
        yield joined
        return
    if _append_lock is None:
        _append_lock = anyio.Lock()
    async with _append_lock:
        async with in_transaction() as connection:
            if connections.get("default").capabilities.dialect == "postgres":
                await connection.execute_query("SELECT pg_advisory_xact_lock(7243001)")  # workers append in turn
            log = Log(connection)
            token = _open_log.set(log)
            try:
                yield log
            finally:
                _open_log.reset(token)


async def append(action: str, target: str = "", *, user: Any = None, result: str = "ok", detail: str = "",
                 scope: dict | None = None, actor_name: str = "", school_id: int | None = None) -> AuditEntry:
    """Write one entry, chained to the last one, in a transaction of its own."""
    async with transaction() as log:
        return await log.append(action, target, user=user, result=result, detail=detail, scope=scope,
                                actor_name=actor_name, school_id=school_id)


async def verify() -> tuple[int, int | None]:
    """(entries checked, id of the first entry whose link is broken, or None)."""
    previous = GENESIS
    checked = 0
    last_id = 0
    while True:
        batch = await AuditEntry.filter(id__gt=last_id).order_by("id").limit(1000)
        if not batch:
            return checked, None
        for entry in batch:
            if entry.prev_hash != previous or entry.hash != entry_digest(previous, hashed_fields(entry)):
                return checked, entry.id
            previous, last_id = entry.hash, entry.id
            checked += 1
