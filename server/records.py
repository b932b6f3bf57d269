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
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count

from server import audit
from server.access import AccessRefused
from server.definitions import Definition
from server.i18n import gettext as _, local_today
from server.validation import FieldError, validate_off_loop
from server.models import Disposal, Record, RecordRevision, School, SchoolClass, Student, User


class VersionConflict(Exception):
    """The record changed since the editor loaded it."""

    def __init__(self, current: Record):
        super().__init__(f"record {current.id} is at version {current.version}")
        self.current = current


def field_diff(before: dict | None, after: dict) -> dict[str, list]:
    """{field: [before, after]} for every top-level field that changed."""
    before = before or {}
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}


DONE, DRAFT = "done", "draft"  # a record's status: finished, or a 草稿 saved without its required answers


class StatusRefused(ValueError):
    """A status a record cannot take (unknown, or a finished record sent back to draft)."""


def next_status(requested: Any, current: str | None) -> str:
    """The status a save gives a record: "draft" (only a new record or a draft stays one) or "done" (finished:
    everything required). Nothing asked keeps the record's status (a new record is finished). Pages and the API
    both ask here, and validate with `draft=` the answer's being DRAFT (server.validation.DRAFT_MAY_SKIP)."""
    if requested is None or requested == "":
        return current or DONE
    if requested not in (DONE, DRAFT):
        raise StatusRefused(_("The status must be done or draft."))
    if requested == DRAFT and current == DONE:
        raise StatusRefused(_("A finished record cannot go back to being a draft."))
    return requested


async def checked_save(definition: Definition, data: Any, requested: Any, current: str | None,
                 status_field: tuple = ("status",)) -> tuple[str, list[FieldError]]:
    """The status a save gives the record and the problems of its data for that status: a draft may skip its
    required answers (server.validation.DRAFT_MAY_SKIP), a finished record needs everything. The one rule the
    entry pages and the API both follow; a refused status is a problem under `status_field`. Checked in a worker
    thread: a large body never holds up other requests."""
    try:
        status = next_status(requested, current)
    except StatusRefused as refused:
        status = current or DONE
        return status, [FieldError(status_field, str(refused)), *await validate_off_loop(definition, data, draft=status == DRAFT)]
    return status, await validate_off_loop(definition, data, draft=status == DRAFT)


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
                        status: str = "done", *, scope: dict | None = None, via: str = "", klass: SchoolClass | None = None) -> Record:
    """The record, its first revision and its audit entry commit together (or not at all).
    `klass`: the class a record about a class is about."""
    check_files_open(definition, students)
    if (refused := students_refusal(definition, students)) is not None:
        raise StudentsRefused(refused)
    async with audit.transaction() as log:
        record = await Record.create(school=school, form_id=definition.form_id, form_version=definition.version,
                                     data=data, status=status, version=1, created_by=user, updated_by=user, klass=klass)
        if students:
            await record.students.add(*students)
        await RecordRevision.create(record=record, version=1, action="create", form_version=definition.version, data_before=None, data_after=data,
                                    diff=field_diff(None, data), changed_by=user)
        await log.append("create", f"record:{record.id}", user=user, detail=f"form:{definition.form_id}{via}{' draft' if status == DRAFT else ''}",
                         scope=scope)
    return record


async def update_record(record: Record, expected_version: int, data: dict, user: User, *, scope: dict | None = None,
                        via: str = "", deciding: bool = False, form_version: int | None = None, status: str | None = None) -> Record:
    """A conditional UPDATE on the row version, the revision and the audit entry, in one transaction.
    `deciding`: the disposal workflow writes its opinions into a decision that is locked for everyone else.
    `form_version`: the record is carried to that version of its form (an "upgrade" revision).
    `status`: the record's new status (see `next_status`); None keeps it."""
    await check_writable(record, deciding)
    if form_version is None and data == record.data and expected_version == record.version and status in (None, record.status):
        return record  # a save that changes nothing writes no revision and keeps the version
    async with audit.transaction() as log:
        carried = {"form_version": form_version} if form_version is not None else {}
        if status is not None:
            carried["status"] = status
        updated = await Record.filter(id=record.id, version=expected_version, sealed=False).update(
            data=data, version=expected_version + 1, updated_by_id=user.id, updated_at=datetime.now(timezone.utc), **carried)
        if updated != 1:
            current = await Record.get(id=record.id)
            if current.sealed:  # sealed between the page's load and this save
                raise FileSealed(_("This record belongs to a sealed file: it is read-only."))
            raise VersionConflict(current)
        await RecordRevision.create(record_id=record.id, version=expected_version + 1, action="upgrade" if form_version is not None else "update",
                                    form_version=form_version if form_version is not None else record.form_version,
                                    data_before=record.data, data_after=data, diff=field_diff(record.data, data),
                                    changed_by=user)
        upgraded = f" form_version:{record.form_version}→{form_version}" if form_version is not None else ""
        status_change = f" status:{record.status}→{status}" if status is not None and status != record.status else ""
        await log.append("update", f"record:{record.id}", user=user, detail=f"version:{expected_version + 1}{via}{upgraded}{status_change}",
                         scope=scope)
    return await Record.get(id=record.id)


async def once_only_records(definition: Definition, students: list[Student]) -> list[Record]:
    """Records already about any of these students of a form kept once per student (`x-once-per-student`):
    a second one is made only deliberately (the pages warn and link these; the API asks for a flag)."""
    if not definition.schema.get("x-once-per-student") or not students:
        return []
    return list(await Record.filter(form_id=definition.form_id, school_id=students[0].school_id, sealed=False,
                                    students__id__in=[s.id for s in students]).distinct().order_by("id"))


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


def pickable_students(school: School, reachable: Q | None = None, grades: list[int] | None = None,
                      chosen: list[int] | None = None, with_left: bool = False, only_left: bool = False):
    """The students a new record can be about: the one rule behind the picker, its search and a whole class.
    At school with an open file (a closed file takes no new record); `with_left`: students who left
    too, whose files are not destroyed (a decision on their files); `only_left`: those alone (x-students'
    left_school). With `grades`, only students of those grades (and any already chosen); never beyond `reachable`."""
    if only_left:
        query = Student.filter(school=school, left_on__lte=local_today()).exclude(file_state="destroyed")
    elif with_left:
        query = Student.filter(school=school).exclude(file_state="destroyed")
    else:
        query = Student.filter(school=school, left_on__isnull=True, file_state="open")
    if reachable is not None:
        query = query.filter(reachable)
    if grades:
        query = query.filter(Q(klass__grade__in=grades) | Q(id__in=chosen or []))
    return query


async def student_choices(school: School, limit: int = 3000, grades: list[int] | None = None,
                          chosen: list[int] | None = None, reachable: Q | None = None, with_left: bool = False,
                          only_left: bool = False) -> list[dict]:
    """Students a new record can be about (a picker), as plain rows: no model objects to build."""
    rows = await pickable_students(school, reachable, grades, chosen, with_left, only_left).order_by("klass__grade", "klass__name", "name") \
        .limit(limit).values("id", "name", "student_number", klass="klass__name")
    return [{"id": r["id"], "name": r["name"], "number": r["student_number"], "klass": r["klass"] or ""} for r in rows]


PICKER_LIMIT = 20  # suggestions shown for one search: more words narrow it down


def _class_name_variants(text: str) -> set[str]:
    """Class names are typed with full-width or ASCII brackets: 七年级（1）班 finds 七年级(1)班 and back."""
    return {text, text.replace("（", "(").replace("）", ")"), text.replace("(", "（").replace(")", "）")}


@dataclass
class StudentSearch:
    students: list[dict]  # {"id", "name", "number", "klass"}
    total: int  # all the students that matched (only PICKER_LIMIT are listed)
    classes: list[dict]  # {"id", "name", "count"}: whole classes whose name matched, with their pickable students


async def search_students(school: School, text: str, reachable: Q | None = None, grades: list[int] | None = None,
                          with_left: bool = False, with_classes: bool = False, limit: int = PICKER_LIMIT,
                          only_left: bool = False) -> StudentSearch:
    """Students a new record can be about whose name, 学籍号 or class contains the text (three queries whatever
    the school's size: count, first rows, and the matching classes when a whole class may be chosen)."""
    text = text.strip()[:50]
    if not text:
        return StudentSearch([], 0, [])
    in_class = Q()
    for variant in _class_name_variants(text):
        in_class |= Q(klass__name__icontains=variant)
    base = pickable_students(school, reachable, grades, None, with_left, only_left)
    query = base.filter(Q(name__icontains=text) | Q(student_number__icontains=text) | in_class)
    total = await query.count()
    rows = await query.order_by("klass__grade", "klass__name", "name", "id").limit(limit) \
        .values("id", "name", "student_number", klass="klass__name")
    classes = []
    if with_classes:
        found = await base.filter(in_class).annotate(count=Count("id")).group_by("klass_id", "klass__name") \
            .values("klass_id", "klass__name", "count")
        classes = sorted(({"id": c["klass_id"], "name": c["klass__name"], "count": c["count"]} for c in found if c["klass_id"]),
                         key=lambda c: c["name"])[:limit]
    return StudentSearch([{"id": r["id"], "name": r["name"], "number": r["student_number"], "klass": r["klass"] or ""} for r in rows],
                         total, classes)


async def pickable(school: School, ids: list[int], reachable: Q | None = None, grades: list[int] | None = None,
                   with_left: bool = False, only_left: bool = False) -> list[Student]:
    """Those of these students a new record can be about (a pick checked with the suggestions' own rule)."""
    ids = [i for i in ids if isinstance(i, int) and 0 < i < 2**31]
    if not ids:
        return []
    return list(await pickable_students(school, reachable, grades, None, with_left, only_left).filter(id__in=ids).select_related("klass"))


async def class_students(school: School, class_id: int, reachable: Q | None = None, grades: list[int] | None = None,
                         with_left: bool = False, only_left: bool = False) -> list[Student]:
    """The students of one class a new record can be about (a whole class chosen in one step)."""
    if not 0 < class_id < 2**31:
        return []
    query = pickable_students(school, reachable, grades, None, with_left, only_left).filter(klass_id=class_id)
    return list(await query.order_by("name", "id").select_related("klass"))


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
    class_id: int | None = None  # records about this class's students (or about the class itself)


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
    if query.class_id:
        qs = qs.filter(in_class(definition, school, query.class_id))
    if query.search.strip():
        annotations, condition = _search_condition(definition, school, query.search.strip(), dialect, query.hidden)
        qs = qs.annotate(**annotations).filter(condition)
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
    records = await qs.offset((page - 1) * query.page_size).limit(query.page_size).prefetch_related("students__klass", "klass")
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


def _search_condition(definition: Definition, school: School, text: str, dialect: str,
                      hidden: frozenset[str]) -> tuple[dict[str, RawSQL], Q]:
    """Records whose search fields, or whose students' name, 学籍号 or class (or, for a record about a class,
    its class) contain the text: annotations and one condition, so the list stays one query."""
    paths = [p for p in definition.list_config.get("search", ["@student.name"]) if p not in hidden]
    condition = Q(id=-1)
    if definition.subject in ("student", "students") or any(p in STUDENT_SEARCH for p in paths):
        about = Q(students__name__icontains=text) | Q(students__student_number__icontains=text)
        for variant in _class_name_variants(text):
            about |= Q(students__klass__name__icontains=variant)
        about &= Q(students__file_state="open")  # a sealed file's student is not found in a group record
        mine = Record.filter(school=school, form_id=definition.form_id).filter(about)
        condition |= Q(id__in=Subquery(mine.values("id")))
    if definition.subject == "class":
        for variant in _class_name_variants(text):
            condition |= Q(klass__name__icontains=variant)
    annotations = {}
    for index, path in enumerate(p for p in paths if not p.startswith("@")):
        annotations[f"s{index}"] = RawSQL(_as_text(json_value_sql(path, dialect)))
        condition |= Q(**{f"s{index}__icontains": text})
    return annotations, condition


def in_class(definition: Definition, school: School, class_id: int) -> Q:
    """Records about a class's students (their class today), or about the class itself."""
    about = Record.filter(school=school, form_id=definition.form_id, students__klass_id=class_id)
    return Q(klass_id=class_id) | Q(id__in=Subquery(about.values("id")))


def record_number(record: Record) -> str:
    return f"{record.created_at:%Y}-{record.id:06d}" if record.created_at else str(record.id)

