"""Record storage: create and update with revisions and optimistic locking, and list queries.

An update is a conditional UPDATE on the row version (F9: SQLite has no row locks), so
of two concurrent saves exactly one wins and the other is told, never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, RawSQL

from server import audit
from server.access import AccessRefused
from server.definitions import Definition
from server.i18n import gettext as _, local_today
from server.models import Disposal, Record, RecordRevision, School, Student, User


class VersionConflict(Exception):
    """The record changed since the editor loaded it."""

    def __init__(self, current: Record):
        super().__init__(f"record {current.id} is at version {current.version}")
        self.current = current


def field_diff(before: dict | None, after: dict) -> dict[str, list]:
    """{field: [before, after]} for every top-level field that changed."""
    before = before or {}
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}


IN_PROGRESS = ("applied", "reviewed")  # a decision (server/disposal.py) being reviewed and approved: locked


class FileSealed(AccessRefused):
    """A write that would change a sealed, transferred or destroyed file, or a decision under review."""


def check_files_open(definition: Definition, students: list[Student]) -> None:
    """No new record about a closed file; a decision about the file (x-disposal) is the one still written."""
    if not definition.schema.get("x-disposal") and any(s.file_state != "open" for s in students):
        raise FileSealed(_("This student's file is sealed (or was transferred or destroyed): no records can be added to it."))


class StudentsRefused(AccessRefused):
    """Students a record of this form may not be about (`x-students`: only students who have left school)."""


def students_refusal(definition: Definition, students: list[Student]) -> str | None:
    """Why these students cannot be the ones a record of this form is about (None: they can). One rule for the
    entry page, the API, the save itself and every step of a decision (server/disposal.py)."""
    if definition.students_rule.get("left_school"):
        today = local_today()
        staying = [s for s in students if s.left_on is None or s.left_on > today]  # a leaving date ahead: not left yet
        if staying:
            klass = {s.id: getattr(getattr(s, "klass", None), "name", "") for s in staying}
            names = "、".join(f"{s.name}（{' '.join(filter(None, (klass[s.id], s.student_number)))}）" for s in staying)
            return _("Only students who have left school can be chosen here; still at school: %(names)s. "
                     "Record their leaving in the roster first.", names=names)
    return None


async def check_writable(record: Record, deciding: bool = False) -> None:
    """A record of a sealed file is read-only; a decision under review is locked but to the workflow (`deciding`)."""
    if record.sealed:
        raise FileSealed(_("This record belongs to a sealed file: it is read-only."))
    if not await Disposal.filter(record_id=record.id).exists() and \
            await Student.filter(records__id=record.id, file_state__in=("sealed", "transferred")).exists():
        raise FileSealed(_("A student in this group record has a sealed file: "
                           "the record is kept for the others and can no longer be changed."))
    if not deciding and await Disposal.filter(record_id=record.id, state__in=IN_PROGRESS).exists():
        raise FileSealed(_("This decision is being reviewed and approved: it cannot be changed now. The reviewer can return it to the applicant."))


async def create_record(definition: Definition, school: School, user: User, data: dict, students: list[Student],
                        status: str = "done", *, scope: dict | None = None, via: str = "") -> Record:
    """The record, its first revision and its audit entry commit together (or not at all)."""
    check_files_open(definition, students)
    if (refused := students_refusal(definition, students)) is not None:
        raise StudentsRefused(refused)
    async with audit.transaction() as log:
        record = await Record.create(school=school, form_id=definition.form_id, form_version=definition.version,
                                     data=data, status=status, version=1, created_by=user, updated_by=user)
        if students:
            await record.students.add(*students)
        await RecordRevision.create(record=record, version=1, action="create", form_version=definition.version, data_before=None, data_after=data,
                                    diff=field_diff(None, data), changed_by=user)
        await log.append("create", f"record:{record.id}", user=user, detail=f"form:{definition.form_id}{via}", scope=scope)
    return record


async def update_record(record: Record, expected_version: int, data: dict, user: User, *, scope: dict | None = None,
                        via: str = "", deciding: bool = False, form_version: int | None = None) -> Record:
    """A conditional UPDATE on the row version, the revision and the audit entry, in one transaction.
    `deciding`: the disposal workflow writes its opinions into a decision that is locked for everyone else.
    `form_version`: the record is carried to that version of its form (an "upgrade" revision)."""
    await check_writable(record, deciding)
    async with audit.transaction() as log:
        carried = {"form_version": form_version} if form_version is not None else {}
        updated = await Record.filter(id=record.id, version=expected_version, sealed=False).update(
            data=data, version=expected_version + 1, updated_by_id=user.id, updated_at=datetime.now(timezone.utc), **carried)
        if updated != 1:
            current = await Record.get(id=record.id)
            if current.sealed:  # sealed between the page's load and this save
                raise FileSealed(_("This record belongs to a sealed file: it is read-only."))
            raise VersionConflict(current)
        await RecordRevision.create(record_id=record.id, version=expected_version + 1, action="upgrade" if carried else "update",
                                    form_version=form_version if carried else record.form_version,
                                    data_before=record.data, data_after=data, diff=field_diff(record.data, data),
                                    changed_by=user)
        upgraded = f" form_version:{record.form_version}→{form_version}" if carried else ""
        await log.append("update", f"record:{record.id}", user=user, detail=f"version:{expected_version + 1}{via}{upgraded}", scope=scope)
    return await Record.get(id=record.id)


async def students_of(school: School, ids: list[Any], reachable: Q | None = None) -> list[Student] | None:
    """The students with these ids in this school (and within `reachable`), or None if any id is not."""
    wanted = set()
    for value in ids:  # ids come from forms (digits) or JSON (integers, never booleans)
        number = value if type(value) is int else int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None
        if number is None or not 0 < number < 2**31:
            return None
        wanted.add(number)
    query = Student.filter(school=school, id__in=wanted)
    if reachable is not None:
        query = query.filter(reachable)
    found = await query.select_related("klass") if wanted else []
    return list(found) if len(found) == len(wanted) else None


async def student_choices(school: School, limit: int = 3000, grades: list[int] | None = None,
                          chosen: list[int] | None = None, reachable: Q | None = None, with_left: bool = False,
                          only_left: bool = False) -> list[dict]:
    """Students a new record can be about (a picker), as plain rows: no model objects to build.
    With `grades`, only students of those grades (and any already chosen); never beyond `reachable`.
    `with_left`: students who left too, whose files are not destroyed (a decision on their files);
    `only_left`: those alone."""
    query = Student.filter(school=school).exclude(file_state="destroyed") if with_left or only_left \
        else Student.filter(school=school, left_on__isnull=True)
    if only_left:
        query = query.filter(left_on__lte=local_today())
    if reachable is not None:
        query = query.filter(reachable)
    if grades:
        query = query.filter(Q(klass__grade__in=grades) | Q(id__in=chosen or []))
    rows = await query.order_by("klass__grade", "klass__name", "name") \
        .limit(limit).values("id", "name", "student_number", klass="klass__name")
    return [{"id": r["id"], "name": r["name"], "number": r["student_number"], "klass": r["klass"] or ""} for r in rows]


# --- list queries -----------------------------------------------------------------

@dataclass
class ListQuery:
    filters: dict[str, str]  # field → the option chosen (enum, boolean, multiple choice)
    search: str = ""
    sort: str = ""
    page: int = 1
    page_size: int = 50
    date_from: dict[str, str] = field(default_factory=dict)  # date field → first day shown (ISO)
    date_to: dict[str, str] = field(default_factory=dict)  # date field → last day shown (ISO)
    scope: Q | None = None  # the records the user reaches (server.access.records_filter); None: all the school's
    hidden: frozenset[str] = frozenset()  # fields the user may not read: neither filtered, searched nor sorted by


@dataclass
class ListPage:
    records: list[Record]
    total: int
    page: int
    pages: int


def json_value_sql(path: str, dialect: str) -> str:
    """SQL for one JSON key of `data`. Paths are checked against `^[a-z][a-z0-9_.]*$` by the layout meta-schema."""
    if not all(part.isidentifier() and part.isascii() for part in path.split(".")):
        raise ValueError(f"unsafe path {path!r}")
    if dialect == "sqlite":
        return f"json_extract(\"record\".\"data\", '$.{path}')"
    keys = path.split(".")
    head = "".join(f"->'{k}'" for k in keys[:-1])
    return f"(\"record\".\"data\"{head}->>'{keys[-1]}')"


def _dialect() -> str:
    return "sqlite" if "sqlite" in type(connections.get("default")).__module__ else "postgres"


async def list_records(definition: Definition, school: School, query: ListQuery) -> ListPage:
    dialect = _dialect()
    qs = Record.filter(school=school, form_id=definition.form_id, sealed=False)  # a sealed file is opened from the student's page
    if query.scope is not None:
        qs = qs.filter(query.scope)
    allowed = set(definition.list_config.get("filters", [])) - query.hidden
    for index, (path, value) in enumerate(sorted(query.filters.items())):
        if path not in allowed or value == "":
            continue
        spec = definition.fields[path]
        alias = f"f{index}"
        if spec.type == "array":
            # membership in a multiple-choice answer: that field's JSON array text holds the quoted option
            answer = _as_text(json_value_sql(path, dialect))
            qs = qs.annotate(**{alias: RawSQL(answer)}).filter(**{f"{alias}__contains": _json_quoted(value)})
        else:
            qs = qs.annotate(**{alias: RawSQL(_as_text(json_value_sql(path, dialect)))}).filter(**{alias: _filter_text(spec, value, dialect)})
    for bound, lookup in ((query.date_from, "gte"), (query.date_to, "lte")):
        for index, (path, day) in enumerate(sorted(bound.items())):
            if path in allowed and is_iso_date(day):  # ISO dates compare as text
                alias = f"d{lookup}{index}"
                qs = qs.annotate(**{alias: RawSQL(_as_text(json_value_sql(path, dialect)))}).filter(**{f"{alias}__{lookup}": day})
    if query.search.strip():
        qs = qs.filter(id__in=await _search_ids(definition, school, query.search.strip(), dialect, query.hidden))
    total = await qs.count()
    sort = effective_sort(definition, query.sort, query.hidden)
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key.startswith("@"):
        qs = qs.order_by(("-" if descending else "") + "created_at", "-id")
    else:
        value = json_value_sql(key, dialect)
        if dialect == "postgres" and definition.fields[key].type in ("integer", "number"):
            value = f"CAST({value} AS NUMERIC)"  # ->> answers text: "10" would sort before "9"
        # nosemgrep: sql-formatted-into-raw-query (value is json_value_sql's: checked identifiers, no user text)
        qs = qs.annotate(sort_missing=RawSQL(f"CASE WHEN {value} IS NULL THEN 1 ELSE 0 END"), sort_key=RawSQL(value))
        # unanswered last in both directions, the same on SQLite and PostgreSQL
        qs = qs.order_by("sort_missing", ("-" if descending else "") + "sort_key", "-id")
    pages = max(1, -(-total // query.page_size))
    page = min(max(1, query.page), pages)
    records = await qs.offset((page - 1) * query.page_size).limit(query.page_size).prefetch_related("students__klass")
    return ListPage(records=list(records), total=total, page=page, pages=pages)


def effective_sort(definition: Definition, requested: str, hidden: frozenset[str] = frozenset()) -> str:
    """The sort a list uses: the one asked for when the layout allows it, else the layout's default."""
    if requested and requested.lstrip("-") in sortable_keys(definition, hidden):
        return requested
    default = definition.list_config.get("sort", "-@record.created_on")
    return default if default.lstrip("-") not in hidden else "-@record.created_on"


def sortable_keys(definition: Definition, hidden: frozenset[str] = frozenset()) -> set[str]:
    """What a list may be sorted by: its field columns (not repeating rows) and the record's date."""
    columns = definition.list_config.get("columns", [])
    return {c for c in columns if c in definition.fields and not definition.fields[c].item_fields and c not in hidden} \
        | {"@record.created_on"}


def _as_text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)"


def _filter_text(spec, value: str, dialect: str) -> str:
    """The filter value as the database prints the JSON value (SQLite: booleans are 1/0)."""
    if spec.type == "boolean" and dialect == "sqlite":
        return {"true": "1", "false": "0"}.get(value, value)
    return value


def _json_quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


STUDENT_SEARCH = {"@student.name": "students__name", "@student.number": "students__student_number",
                  "@student.class": "students__klass__name"}


def is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


async def _search_ids(definition: Definition, school: School, text: str, dialect: str, hidden: frozenset[str]) -> list[int]:
    """Records whose search fields (or their student's name, 学籍号, class) contain the text."""
    paths = [p for p in definition.list_config.get("search", ["@student.name"]) if p not in hidden]
    ids: set[int] = set()
    mine = Record.filter(school=school, form_id=definition.form_id)
    for path in paths:
        if path in STUDENT_SEARCH:  # a sealed file's student is not found by their name in a group record
            ids.update(await mine.filter(**{f"{STUDENT_SEARCH[path]}__icontains": text, "students__file_state": "open"})
                       .values_list("id", flat=True))
    for path in (p for p in paths if not p.startswith("@")):
        found = await mine.annotate(
            s=RawSQL(_as_text(json_value_sql(path, dialect)))).filter(s__icontains=text).values_list("id", flat=True)
        ids.update(found)
    return list(ids)


def record_number(record: Record) -> str:
    return f"{record.created_at:%Y}-{record.id:06d}" if record.created_at else str(record.id)

