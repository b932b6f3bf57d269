"""Each school's forms: the shipped definitions as a base, the school's published versions on top.

A school serves, for each form, its newest published `FormVersion`. The first time a school is
served, each shipped definition is written down as its version 1 (the records made so far are
version 1), so an upgrade of xindang that changes a shipped definition can never change how an
old record reads. Such an upgrade is taken over as a new version while the school has not
changed the form; once it has, the school's version stays and the editor offers the change.

Versions are immutable, so their compiled definitions are cached for the life of the process.
The newest version numbers are read again at most once a second (HEADS_TTL), one small query:
that keeps several server processes (`serve --workers N`) in step after a publish without a
query on every request.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from server import audit
from server.checks import Problem, check_definition, check_publishable
from server.definition_diff import Change, compare
from server.definitions import Definition
from server.i18n import gettext as _
from server.models import FormVersion, Record, User
from server.registry import Registry, order_parts

log = logging.getLogger("xindang.forms")

SHIPPED = ("base", "upstream")  # origins of versions the school did not make itself
HEADS_TTL = 1.0  # seconds: how stale another server process's publish may be seen (`serve --workers N`)


def definition_hash(schema: dict, layout: dict) -> str:
    """The identity of a definition's content, independent of key order and spacing."""
    text = json.dumps({"schema": schema, "layout": layout}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Head:
    """The newest version of one form at one school, as listed (without its JSON)."""

    form_id: str
    version: int
    origin: str
    base_hash: str


@dataclass(frozen=True)
class Compiled:
    definition: Definition | None
    checked: bool  # passes the checks of this release: may be served for new records


class DefinitionRejected(Exception):
    """The definition has problems (the same checks as `xindang check-forms`, and more for publishing)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class CriticalChanges(Exception):
    """Publishing would change what stored records mean; it needs a 系统管理员's explicit confirmation."""

    def __init__(self, changes: list[Change]):
        super().__init__(f"{sum(c.critical for c in changes)} critical changes")
        self.changes = changes


@dataclass
class Published:
    version: FormVersion
    changes: list[Change] = field(default_factory=list)


class FormLibrary:
    """The base registry (form_defs/) and the compiled versions of every school, cached."""

    def __init__(self, base: Registry):
        self.base = base
        self.base_hashes = {form_id: definition_hash(d.schema, d.layout) for form_id, d in base.forms.items()}
        self._compiled: dict[tuple[int, str, int], Compiled] = {}
        self._views: dict[int, tuple[tuple, Registry]] = {}
        self._pinned: dict[tuple[int, str, int, int], Definition] = {}
        self._checked: dict[int, float] = {}  # when each school's version numbers were last read
        self._building = asyncio.Lock()  # many requests at start-up build a school's view once, not once each

    async def school_forms(self, school_id: int) -> Registry:
        """The school's registry: for each form its newest good version, in the handbook's order. The version
        numbers are read again at most every HEADS_TTL seconds (at once after a publish in this process)."""
        cached = self._views.get(school_id)
        if cached and time.monotonic() - self._checked.get(school_id, 0.0) < HEADS_TTL:
            return cached[1]
        heads = await self._heads(school_id)
        key = tuple(sorted((h.form_id, h.version) for h in heads.values()))
        if not (cached and cached[0] == key):
            async with self._building:
                cached = self._views.get(school_id)
                if not (cached and cached[0] == key):
                    cached = (key, await self._build_view(school_id, heads, key))
                    self._views[school_id] = cached
        self._checked[school_id] = time.monotonic()
        return cached[1]

    def forget(self, school_id: int) -> None:
        """A version was published here: read the version numbers again at the next request."""
        self._checked.pop(school_id, None)

    async def _build_view(self, school_id: int, heads: dict[str, Head], key: tuple) -> Registry:
        forms: dict[str, Definition] = {}
        for form_id, head in heads.items():
            definition = await self.good_version(school_id, form_id, head.version)
            if definition is not None:
                forms[form_id] = definition
        upstream = frozenset(form_id for form_id, head in heads.items()
                             if head.origin not in SHIPPED and form_id in self.base_hashes and head.base_hash != self.base_hashes[form_id])
        return Registry(forms=forms, parts=order_parts(self.base.catalog, forms), problems=self.base.problems, catalog=self.base.catalog,
                        library=self, school_id=school_id, upstream=upstream, versions=key)

    async def version(self, school_id: int, form_id: str, version: int, *, strict: bool = True) -> Definition | None:
        """One version, compiled once per process; None when there is no such version (not remembered: it may
        be published next) or, `strict`, when it no longer passes the checks (a stricter release)."""
        key = (school_id, form_id, version)
        if key not in self._compiled:
            row = await FormVersion.get_or_none(school_id=school_id, form_id=form_id, version=version)
            if row is None:
                return None
            self._compiled[key] = self._compile(row)
        found = self._compiled[key]
        if found.checked or not strict:
            return found.definition
        return None

    async def pinned(self, school_id: int, form_id: str, version: int, current: Definition | None) -> Definition | None:
        """The version a record was made with, under the access rules of the version in use: a school that
        tightens who may read a form or a field protects its old records too. A version that a stricter
        release no longer passes is still used here: the record was made with it."""
        made_with = await self.version(school_id, form_id, version, strict=False)
        if made_with is None or current is None or made_with is current:
            return made_with
        key = (school_id, form_id, version, current.version)
        if key not in self._pinned:
            self._pinned[key] = with_access_of(made_with, current)
        return self._pinned[key]

    async def good_version(self, school_id: int, form_id: str, version: int) -> Definition | None:
        """The version, or the newest older one that still passes the checks (a broken definition is never served)."""
        while version > 0:
            definition = await self.version(school_id, form_id, version)
            if definition is not None:
                return definition
            version -= 1
        return None

    def _compile(self, row: FormVersion) -> "Compiled":
        base = self.base.get(row.form_id)
        shipped = base is not None and row.base_hash == self.base_hashes.get(row.form_id) and row.origin in SHIPPED
        if shipped and base is not None and base.version == row.version:
            return Compiled(base, True)  # the shipped definition itself, checked and compiled at start-up
        problems = check_definition(row.form_id, row.schema, row.layout)
        for problem in problems:
            log.error("version %s of %s is not served: %s", row.version, row.form_id, problem)
        try:
            definition = Definition(form_id=row.form_id, schema=row.schema, layout=row.layout, version=row.version,
                                    source_dir=base.source_dir if base else None, examples=base.examples if shipped and base else {})
        except Exception:  # a definition that does not even compile any more: nothing can show it
            log.exception("version %s of %s does not compile", row.version, row.form_id)
            return Compiled(None, False)
        return Compiled(definition, not problems)

    async def _heads(self, school_id: int) -> dict[str, Head]:
        """The newest version of each form; the shipped definitions written down (or taken over) first."""
        heads, shipped = await self._read_heads(school_id, with_shipped=True)
        new_rows = []
        for form_id, definition in self.base.forms.items():
            head = heads.get(form_id)
            if head is None:
                new_rows.append(self._shipped_row(school_id, definition, 1, "base"))
            elif head.origin in SHIPPED and head.base_hash != self.base_hashes[form_id] \
                    and self.base_hashes[form_id] not in shipped.get(form_id, set()):
                # (a definition this school already had and moved past is never taken over again: during a rolling
                # upgrade, processes with the old and the new form_defs/ would otherwise take turns)
                log.info("school %s takes over the changed shipped definition of %s as version %s", school_id, form_id, head.version + 1)
                new_rows.append(self._shipped_row(school_id, definition, head.version + 1, "upstream"))
        if new_rows:  # another process may write the same rows at the same moment: the first one stays
            await FormVersion.bulk_create(new_rows, ignore_conflicts=True)
            heads = await self._read_heads(school_id)
        return heads

    def _shipped_row(self, school_id: int, definition: Definition, version: int, origin: str) -> FormVersion:
        return FormVersion(school_id=school_id, form_id=definition.form_id, version=version, schema=definition.schema,
                           layout=definition.layout, origin=origin, base_hash=self.base_hashes[definition.form_id])

    @staticmethod
    async def _read_heads(school_id: int, with_shipped: bool = False) -> Any:
        """The newest version of each form; `with_shipped`: also the shipped definitions each form has had."""
        heads: dict[str, Head] = {}
        shipped: dict[str, set[str]] = {}
        for row in await FormVersion.filter(school_id=school_id).values("form_id", "version", "origin", "base_hash"):
            if row["form_id"] not in heads or row["version"] > heads[row["form_id"]].version:
                heads[row["form_id"]] = Head(**row)
            if row["origin"] in SHIPPED:
                shipped.setdefault(row["form_id"], set()).add(row["base_hash"])
        return (heads, shipped) if with_shipped else heads

    async def publish(self, school_id: int, form_id: str, schema: Any, layout: Any, user: User | None, *, origin: str,
                      confirm_critical: bool = False, note: str = "", base_hash: str | None = None,
                      based_on: int | None = None) -> Published:
        """Check, compare with the version in use and store a new immutable version.

        Raises DefinitionRejected with the problems, or CriticalChanges unless `confirm_critical`
        (the caller decides who may confirm), or DraftOutdated when `based_on` (the version a draft started
        from) is no longer the version in use. Records keep the version they were made with."""
        problems = check_publishable(form_id, schema, layout)
        if problems:
            raise DefinitionRejected(problems)
        self.forget(school_id)  # compared with the version in use now, not a second-old view
        forms = await self.school_forms(school_id)
        current = forms.get(form_id)
        if based_on is not None and (current.version if current else 0) != based_on:
            raise DraftOutdated(current.version if current else 0)
        new = Definition(form_id=form_id, schema=schema, layout=layout)
        changes: list[Change] = []
        if current is not None:
            changes = compare(current, new, await stored_answers(school_id, form_id))
            if any(c.critical for c in changes) and not confirm_critical:
                raise CriticalChanges(changes)
        heads = await self._read_heads(school_id)
        head = heads.get(form_id)
        base_hash = base_hash if base_hash is not None else head.base_hash if head else ""
        row = FormVersion(school_id=school_id, form_id=form_id, version=(head.version if head else 0) + 1, schema=schema, layout=layout,
                          origin=origin, base_hash=base_hash, note=note[:200], critical=sum(c.critical for c in changes),
                          published_by=user)
        await FormVersion.bulk_create([row], ignore_conflicts=True)  # a version number is taken once
        stored_row = await FormVersion.get_or_none(school_id=school_id, form_id=form_id, version=row.version)
        self.forget(school_id)
        if stored_row is None or definition_hash(stored_row.schema, stored_row.layout) != definition_hash(schema, layout):
            raise VersionRace(_("Someone else published this form at the same moment. Reload the page and review their version first."))
        return Published(stored_row, changes)


def with_access_of(old: Definition, current: Definition) -> Definition:
    """`old` with the form's, its groups' and its fields' `x-access` taken from `current`
    (what only `old` has keeps its own)."""
    schema = copy.deepcopy(old.schema)

    def overlay(mine: dict, now: dict) -> None:
        if "x-access" in now:
            mine["x-access"] = now["x-access"]
        else:
            mine.pop("x-access", None)
        mine_properties, now_properties = mine.get("properties"), now.get("properties")
        if isinstance(mine_properties, dict) and isinstance(now_properties, dict):
            for name, sub in mine_properties.items():
                if isinstance(sub, dict) and isinstance(now_properties.get(name), dict):
                    overlay(sub, now_properties[name])

    overlay(schema, current.schema)
    return Definition(form_id=old.form_id, schema=schema, layout=old.layout, version=old.version, source_dir=old.source_dir)


class DraftOutdated(Exception):
    """A draft started from an older version than the one published since: publishing it would undo that one."""

    def __init__(self, current: int):
        super().__init__(f"a newer version {current} was published")
        self.current = current


class VersionRace(Exception):
    """Two publishes of the same form at once: the second one is refused, never merged silently."""


async def stored_answers(school_id: int, form_id: str) -> list[dict]:
    """The stored answers a new version is checked against: every record of the form, whichever version it was
    made with. An old record keeps its version, but carrying it over later meets the same change."""
    return list(await Record.filter(school_id=school_id, form_id=form_id).values_list("data", flat=True))


async def audit_publish(user: User, scope: Any, form_id: str, published: Published) -> None:
    """The publish, and a permission entry when it changes who may do what (what the audit log's readers look for)."""
    row = published.version
    await audit.append("publish", f"form:{form_id}", user=user, scope=scope, detail=f"version:{row.version} {row.origin} critical:{row.critical}")
    access = [c for c in published.changes if c.kind in ("access_widened", "access_changed")]
    if access:
        widened = any(c.kind == "access_widened" for c in access)
        await audit.append("permission", f"form:{form_id}", user=user, scope=scope,
                           detail=f"version:{row.version} access {'widened' if widened else 'narrowed'}")


def version_label(row: FormVersion | Head) -> str:
    names = {"base": _("shipped"), "upstream": _("shipped update"), "edit": _("edited"), "import": _("imported"),
             "api": _("published by a script"), "rollback": _("rolled back"), "merge": _("merged with the shipped update")}
    return names.get(row.origin, row.origin)


FORM_EDITORS = frozenset({"admin", "moral_education"})  # 系统管理员 and 德育处 change forms
CRITICAL_CONFIRMERS = frozenset({"admin"})  # only a 系统管理员 confirms a change that touches stored data


def may_confirm_critical(user: User | None) -> bool:
    return user is not None and bool(CRITICAL_CONFIRMERS & set(user.roles or []))


async def history(school_id: int, form_id: str) -> list[FormVersion]:
    """Every version of the form at this school, newest first, with who published it."""
    return list(await FormVersion.filter(school_id=school_id, form_id=form_id).order_by("-version").select_related("published_by"))


def version_json(row: FormVersion, current: int | None = None) -> dict:
    by = row.published_by if isinstance(row.published_by, User) else None
    return {"version": row.version, "origin": row.origin, "label": version_label(row), "note": row.note, "critical": row.critical,
            "published_by": by.username if by else None, "published_at": row.published_at.isoformat() if row.published_at else None,
            "current": row.version == current}


def change_json(change: Change) -> dict:
    return {"field": change.path, "kind": change.kind, "message": change.message, "critical": change.critical, "records": change.records}
