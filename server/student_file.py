"""One student's file (一生一档): every record about the student the user may read, by the handbook's
parts and as a timeline, with each form's state (missing, draft, done, due for renewal).

What a role may not read is neither listed nor counted: a form the user cannot read is left out
entirely, and a record outside the user's reach does not exist for the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from renderers.archive import ArchiveEntry, ArchivePart, archive_html
from renderers.forms import LedgerRow
from renderers.environment import fmt_date
from server.access import Actor, can, hidden_fields, records_filter
from server.context import subject_context
from server.definitions import Definition
from server.i18n import gettext as _, local_today, ngettext, to_local
from server.models import Record, School, Student
from server.records import record_number
from server.registry import Registry
from server.roster import school_year_of

PER_STUDENT = ("student", "students")  # x-subject values of forms about individual students


@dataclass
class FormState:
    definition: Definition
    records: list[Record]
    state: str  # done | draft | missing | renew | none (optional form with no record)
    can_create: bool


@dataclass
class PartView:
    title: str
    forms: list[FormState] = field(default_factory=list)


@dataclass
class StudentFile:
    student: Student
    parts: list[PartView]
    level: tuple[Any, Definition, str] | None  # (value, the form it comes from, the field) of the newest level record
    forms: Registry  # each record is printed with the version of its form it was made with

    @property
    def timeline(self) -> list[tuple[Record, Definition]]:
        """Newest first by the day each record is about (its save date when the form declares none)."""
        rows = [(r, f.definition) for part in self.parts for f in part.forms for r in f.records]
        return sorted(rows, key=lambda pair: (record_day(pair[1], pair[0])[0], pair[0].created_at), reverse=True)

    @staticmethod
    def day(definition: Definition, record: Record) -> tuple[dt.date, bool]:
        return record_day(definition, record)


def record_day(definition: Definition, record: Record) -> tuple[dt.date, bool]:
    """The day a record is about (`x-record-date`) and True; or, when the form declares none or the record
    leaves it empty, the day it was first saved and False (pages mark that date as a save date)."""
    declared = definition.record_date(record.data)
    return (declared, True) if declared else (to_local(record.created_at).date(), False)


def day_label(definition: Definition, record: Record) -> str:
    """The record's day as the file's contents show it: a save date is marked as one."""
    day, declared = record_day(definition, record)
    return fmt_date(day) if declared else _("saved on %(day)s", day=fmt_date(day))


def expected_state(definition: Definition, records: list[Record], today: dt.date) -> str:
    """`x-expected`: "once" (a file needs one) or "yearly" (one each school year, e.g. the consent)."""
    expected = definition.schema.get("x-expected")
    done = [r for r in records if r.status == "done"]
    if expected == "yearly":
        start = dt.date(int(school_year_of(today)[:4]), 9, 1)
        # a form kept once per student is renewed by updating it; any other by a new record each year
        renewed = (lambda r: r.updated_at or r.created_at) if definition.schema.get("x-once-per-student") else (lambda r: r.created_at)
        if done and not any(renewed(r).date() >= start for r in done):
            return "renew"
    if done:
        return "done"
    if records:
        return "draft"
    return "missing" if expected in ("once", "yearly") else "none"


async def student_file(registry: Registry, actor: Actor, student: Student) -> StudentFile:
    today = local_today()
    parts: list[PartView] = []
    level = None
    for part in registry.parts:
        view = PartView(part.title)
        for definition in part.forms:
            if definition.subject not in PER_STUDENT:
                continue
            readable = can(actor, definition, "read")
            if not readable and not can(actor, definition, "create"):
                continue  # not listed, not counted
            records: list[Record] = []
            if readable:
                query = Record.filter(school_id=student.school_id, form_id=definition.form_id, students__id=student.id)
                if student.file_state == "open":  # a group record shared with a sealed file is opened from that file
                    query = query.filter(sealed=False)
                scope = await records_filter(actor, definition, "read")
                if scope is not None:
                    query = query.filter(scope)
                records = list(await query.order_by("-created_at").distinct())
                records.sort(key=lambda r: (record_day(definition, r)[0], r.created_at), reverse=True)
                level = _newer_level(level, definition, records, actor)
            state = expected_state(definition, records, today) if readable else "none"
            view.forms.append(FormState(definition, records, state, can(actor, definition, "create")))
        if view.forms:
            parts.append(view)
    return StudentFile(student, parts, level[1:] if level else None, registry)


def _newer_level(current: tuple | None, definition: Definition, records: list[Record], actor: Actor) -> tuple | None:
    """The newest finished record carrying the student's level (`x-current-level` names its field)."""
    path = definition.schema.get("x-current-level")
    if not path or path in hidden_fields(actor, definition):
        return current
    for record in records:
        value = record.data.get(path)
        if record.status == "done" and value is not None:
            if current is None or record.created_at > current[0]:
                return (record.created_at, value, definition, path)
            break
    return current


async def archive_parts(actor: Actor, found: StudentFile, form_id: str | None = None) -> list[ArchivePart]:
    """The records of the file this user may print, in handbook order (oldest first within a form),
    each with the fields the user may not read left out; `form_id`: that form's records only. Another
    student of a group record whose file is sealed appears as 「已封存学生」 (the file's own student as is:
    a sealed file is printed only once opened with a reason)."""
    from server.disposal import hide_closed_students

    school = await School.get(id=found.student.school_id)
    parts = []
    for part in found.parts:
        printed = ArchivePart(part.title)
        for form in part.forms:
            definition = form.definition
            if not form.records or not can(actor, definition, "print") or form_id not in (None, definition.form_id):
                continue
            scope = await records_filter(actor, definition, "print")
            allowed = {r.id for r in form.records} if scope is None else \
                set(await Record.filter(scope, id__in=[r.id for r in form.records]).values_list("id", flat=True))
            entries, days = [], []
            for record in sorted((r for r in form.records if r.id in allowed), key=lambda r: (record_day(definition, r)[0], r.created_at)):
                students = list(await record.students.all().select_related("klass"))
                made_with = await found.forms.at(record.form_id, record.form_version) or definition
                hide_closed_students(made_with, record, students, {found.student.id})
                days.append(day_label(made_with, record))
                label = f"{record_number(record)} · {days[-1]}"
                entries.append(ArchiveEntry(made_with, record.id, label, record.data, subject_context(school, students, record),
                                            hidden_fields(actor, made_with)))
            if definition.ledger_block and len(entries) > 1:
                entries = [_one_ledger(definition, entries, days[0], days[-1])]  # a ledger's records are rows of one table, as on paper
            printed.entries += entries
        if printed.entries:
            parts.append(printed)
    return parts


def _one_ledger(definition: Definition, entries: list[ArchiveEntry], first: str, last: str) -> ArchiveEntry:
    """A ledger form's records in the file: one ledger with a row each, labelled with their count and first and last days."""
    rows = [LedgerRow(e.definition, e.data, e.context, e.hidden) for e in entries]
    label = ngettext("%(num)d record", "%(num)d records", len(entries)) + f" · {first}～{last}"
    return ArchiveEntry(definition, entries[0].record_id, label, {}, entries[-1].context, entries[-1].hidden, rows)


def archive_student_line(student: Student) -> dict[str, str]:
    return {"name": student.name, "number": student.student_number, "class": student.klass.name if student.klass else ""}


async def student_archive(registry: Registry, actor: Actor, student: Student, school: School,
                          form_id: str | None = None) -> tuple[str, int]:
    """The printable HTML of the student's file as this user may print it, and how many records it
    holds. With `form_id`, that form's records alone, without cover and contents."""
    parts = await archive_parts(actor, await student_file(registry, actor, student), form_id)
    definition = registry.get(form_id) if form_id else None
    html = archive_html(title=definition.title if definition else _("Student mental-health file"), school_name=school.name,
                        student=archive_student_line(student), parts=parts, printed_on=local_today(), cover=definition is None)
    return html, sum(len(entry.ledger) if entry.ledger else 1 for part in parts for entry in part.entries)
