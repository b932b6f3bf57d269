"""Leaving school (handbook 7.2): a file is sealed, destroyed or transferred by a decision that the
心理教师 applies for, the 德育处 reviews and a 校领导 approves, never the same person twice.
Approval carries the decision out at once:

- 封存 (seal): every record about the student becomes read-only and is opened only with a reason,
  which is audited; the sealing's expiry date is listed when due.
- 销毁 (destroy): the records and their revisions are deleted and the freed space overwritten
  (secure_delete, WAL checkpoint and VACUUM on SQLite; VACUUM FULL on PostgreSQL). A tombstone keeps
  who, when, on what basis and which kinds of records; the audit log keeps the event, never content.
- 移交 (transfer): with the guardian's consent recorded, the file is sealed here and handed over as a
  package (the archive PDF and the records as JSON) for the receiving school.

Which form drives it and which of its fields hold the decision, the dates and the opinions is data:
the definition's `x-disposal` key (form_defs/README.md). Nothing here names a form.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tortoise import connections

from server import audit
from server.access import AccessRefused, Actor
from server.definitions import Definition, unanswered
from server.i18n import gettext as _, local_today
from server.batch_print import withdraw
from server.models import Disposal, FileTombstone, Record, RecordRevision, Student, User
from server.records import IN_PROGRESS, students_refusal, update_record  # noqa: F401  (IN_PROGRESS: the pages import it from here)
from server.validation import date_order_errors, field_title
from server.registry import Registry
from server.settings import Settings

log = logging.getLogger("xindang.disposal")
STEPS = ("apply", "review", "approve")
CLOSED_STATES = ("sealed", "transferred")  # files read only with a reason
OPEN_FOR_SECONDS = 30 * 60  # a reason opens a sealed file for this long, in this session only


class DisposalRefused(AccessRefused):
    """A step this user may not take now, with the reason in the user's language."""


class SealedFileClosed(AccessRefused):
    """Reading a sealed file without having given a reason in this session."""

    def __init__(self, students: list[Student]):
        super().__init__(_("This student's file is sealed. Give a reason to open it; the opening is recorded."))
        self.students = students


def spec_of(definition: Definition) -> dict | None:
    return definition.schema.get("x-disposal")


def disposal_form_ids(registry: Registry) -> set[str]:
    """Forms that record decisions about files: never sealed or destroyed with the files they decide on."""
    return {form_id for form_id, definition in registry.forms.items() if spec_of(definition)}


def step_roles(registry: Registry) -> set[str]:
    return {role for d in registry.forms.values() if (spec := spec_of(d)) for step in STEPS for role in spec[step]["roles"]}


def next_step(disposal: Disposal | None) -> str | None:
    if disposal is None or disposal.state == "returned":
        return "apply"
    return {"applied": "review", "reviewed": "approve"}.get(disposal.state)


def refusal(spec: dict, step: str, actor: Actor, disposal: Disposal | None, writers: set[int] = frozenset()) -> str | None:
    """Why this user may not take this step now (None: they may). Nobody decides on a request they wrote,
    changed, applied for or already took a step of: `writers` are everyone who changed the record."""
    if step != next_step(disposal):
        return _("This step is not due now.")
    if not set(spec[step]["roles"]) & actor.roles:
        return _("Your role does not take this step.")
    if disposal is not None and step != "apply":
        if disposal.applied_by_id == actor.user_id or actor.user_id in writers:
            return _("You wrote or applied for this request: someone else must review and approve it.")
        if step == "approve" and disposal.reviewed_by_id == actor.user_id:
            return _("You reviewed this decision: another person must approve it.")
    return None


async def writers_of(record_id: int) -> set[int]:
    return set(await RecordRevision.filter(record_id=record_id).values_list("changed_by_id", flat=True))


def decided_fields(spec: dict, after_apply: bool) -> set[str]:
    """The fields only the workflow writes: the review's and the approval's; once applied for, also the
    decision and what it rests on (the applicant's own name and date are stamped at applying)."""
    names = {spec[step][key] for step in ("review", "approve") for key in ("opinion", "by", "on", "note") if key in spec[step]}
    if after_apply:
        names |= {spec[key] for key in ("decision", "seal_until", "basis", "guardian_consent") if key in spec}
        names |= {spec["apply"]["by"], spec["apply"]["on"]}
    return names


STUDENT_VALUES = {  # what a `students_table` column may be filled with, from the linked student
    "name": lambda s: s.name,
    "number": lambda s: s.student_number,
    "class": lambda s: s.klass.name if getattr(s, "klass", None) else "",
    "left_on": lambda s: s.left_on.isoformat() if s.left_on else "",
    "left_reason": lambda s: s.left_reason,
}


def fill_students_table(definition: Definition, data: dict, students: list[Student]) -> None:
    """`x-disposal.students_table`: the form's list of students is written from the students the decision is
    linked to (name, 学籍号, class, leaving), so the paper shows whose files it acts on, never a typed name.
    What was typed in other columns (a note) stays with the row of the same student."""
    spec = spec_of(definition) or {}
    table = spec.get("students_table")
    if not table or not students:
        return
    columns = table["columns"]
    item_schema = definition.fields[table["field"]].schema.get("items", {}).get("properties", {})
    key_column = next((c for c, source in columns.items() if source == "number"), None)
    typed = {str(row.get(key_column)): row for row in data.get(table["field"]) or [] if isinstance(row, dict) and key_column}
    rows = []
    for student in sorted(students, key=lambda s: (s.left_on or dt.date.max, s.student_number)):
        row = {k: v for k, v in typed.get(student.student_number, {}).items() if k not in columns}
        for column, source in columns.items():
            value = STUDENT_VALUES[source](student)
            options = item_schema.get(column, {}).get("enum")
            if options and value not in options:
                value = options[-1] if value else ""  # e.g. a reason the form does not list: 其他
            limit = item_schema.get(column, {}).get("maxLength")
            if value:
                row[column] = value[:limit] if limit else value
        rows.append(row)
    data[table["field"]] = rows


async def keep_decided(definition: Definition, stored: dict, posted: dict, record_id: int | None = None,
                       students: list[Student] | None = None) -> None:
    """Once a request is in the workflow, a save by hand cannot change what the workflow wrote: no one
    types an approval, and a decision taken stays as taken; once decided, only the execution fields
    (`execution`: who carried it out, when, the inventory) are still filled in. (Before that, the record
    is a transcription of paper, and applying wipes any review or approval typed into it.)"""
    spec = spec_of(definition)
    if spec and isinstance(posted, dict) and students:
        fill_students_table(definition, posted, students)
    disposal = await Disposal.get_or_none(record_id=record_id) if spec and record_id else None
    if disposal is None or not isinstance(posted, dict):
        return
    if disposal.state in ("approved", "refused"):
        fixed = (set(stored) | set(posted) | decided_fields(spec, True)) - set(spec.get("execution", []))
    else:
        fixed = decided_fields(spec, after_apply=disposal.state != "returned")
    if any(name in posted and posted[name] != stored.get(name) and not (unanswered(posted[name]) and unanswered(stored.get(name)))
           for name in fixed):
        raise DisposalRefused(_("Once submitted, the decision and its review and approval are fixed; after the decision only its "
                                "carrying out (who, when, the inventory) is filled in."))
    for name in fixed:
        posted.pop(name, None)
        if name in stored:
            posted[name] = stored[name]


async def take_step(registry: Registry, settings: Settings, record: Record, definition: Definition, user: User, actor: Actor,
                    step: str, opinion: str, scope: dict | None = None, note: str = "") -> Disposal:
    """Apply, review or approve; on approval the decision is carried out in the same transaction."""
    spec = spec_of(definition)
    if spec is None or step not in STEPS:
        raise DisposalRefused(_("This form records no decision about files."))
    async with audit.transaction() as log_entries:
        disposal = await Disposal.get_or_none(record_id=record.id)
        if (reason := refusal(spec, step, actor, disposal, await writers_of(record.id))) is not None:
            raise DisposalRefused(reason)
        record = await Record.get(id=record.id)
        students = list(await record.students.all().select_related("klass"))
        if any(s.file_state == "destroyed" for s in students):
            raise DisposalRefused(_("A file in this request was destroyed already."))
        if (refused := students_refusal(definition, students)) is not None:
            raise DisposalRefused(refused)
        data = dict(record.data)
        now = dt.datetime.now(dt.timezone.utc)
        stamp = {spec[step]["by"]: user.display_name[:20], spec[step]["on"]: local_today().isoformat()}
        if step == "apply":
            action = spec["actions"].get(data.get(spec["decision"]))
            if record.status != "done" or action is None or not students:
                raise DisposalRefused(_("Finish the record first: the decision and the students it concerns."))
            if action == "transfer" and data.get(spec["guardian_consent"]) is not True:
                raise DisposalRefused(_("A transfer needs the guardian's consent recorded on the form first."))
            if disposal is None:
                disposal = await Disposal.create(school_id=record.school_id, record=record, action=action, applied_by=user, applied_at=now)
            else:
                disposal.action, disposal.state, disposal.applied_by_id, disposal.applied_at = action, "applied", user.id, now
                disposal.reviewed_by_id = disposal.reviewed_at = None
                await disposal.save()
            for name in decided_fields(spec, after_apply=False):  # whatever was typed there before is not a decision
                data.pop(name, None)
            data.update(stamp)
            fill_students_table(definition, data, students)
            if problems := date_order_errors(definition, data):  # e.g. a sealing that would end before today's application
                raise DisposalRefused(_("The record does not hold as submitted today: %(problems)s Correct it first.",
                                        problems=" ".join(f"{field_title(definition, p.path)}：{p.message}" for p in problems)))
        else:
            options = [option.value for option in definition.fields[spec[step]["opinion"]].options]
            if opinion not in options:
                raise DisposalRefused(_("Choose one of the opinions offered."))
            agreed = opinion in spec[step]["yes"]
            data.update({spec[step]["opinion"]: opinion, **stamp})
            if (note_field := spec[step].get("note")) and note.strip():
                data[note_field] = " ".join(note.split())[: definition.fields[note_field].schema.get("maxLength", 200)]
            if step == "review":
                disposal.state, disposal.reviewed_by_id, disposal.reviewed_at = ("reviewed" if agreed else "returned"), user.id, now
            else:
                disposal.state, disposal.approved_by_id, disposal.approved_at = ("approved" if agreed else "refused"), user.id, now
            await disposal.save()
        await update_record(record, record.version, data, user, scope=scope, via=f" disposal {step}", deciding=True)
        await log_entries.append(f"disposal-{step}", f"record:{record.id}", user=user, scope=scope,
                                 detail=f"{disposal.action} {disposal.state} students:{len(students)}")
        if disposal.state == "approved":
            disposal.outcome = await carry_out(registry, disposal, record, definition, students, user, scope)
            await disposal.save()
    if disposal.state == "approved":
        why = {"seal": _("a student's file was sealed"), "transfer": _("a student's file was transferred"),
               "destroy": _("a student's file was destroyed")}[disposal.action]
        await withdraw(settings, {s.id for s in students}, why)
        if disposal.action == "destroy":
            try:
                await erase_freed_space()
            except Exception:  # the records are gone already; the space is overwritten at the next destruction or VACUUM
                log.exception("overwriting the space freed by disposal %s failed", disposal.id)
    return disposal


async def carry_out(registry: Registry, disposal: Disposal, record: Record, definition: Definition, students: list[Student],
                    user: User, scope: dict | None) -> str:
    spec = spec_of(definition)
    ids = [s.id for s in students]
    kept_forms = disposal_form_ids(registry)
    linked = [r for r in await Record.filter(students__id__in=ids, school_id=record.school_id).distinct().prefetch_related("students")
              if r.form_id not in kept_forms]
    if disposal.action in ("seal", "transfer"):
        until = _date(record.data.get(spec.get("seal_until", ""))) if disposal.action == "seal" else None
        closed = set(ids) | {s.id for r in linked for s in r.students if s.file_state in CLOSED_STATES}
        # a record about these files alone is sealed; a group record stays for the others, these students' part hidden
        await Record.filter(id__in=[r.id for r in linked if {s.id for s in r.students} <= closed]).update(sealed=True)
        await Student.filter(id__in=ids).update(file_state="sealed" if disposal.action == "seal" else "transferred", sealed_until=until)
        for student in students:
            await audit.append(disposal.action, f"student:{student.id}", user=user, scope=scope,
                               detail=f"disposal {disposal.id}" + (f" until {until.isoformat()}" if until else ""))
        return _("%(num)s files sealed, %(records)s records read-only.", num=len(ids), records=len(linked)) if disposal.action == "seal" \
            else _("%(num)s files transferred and sealed here; download the transfer package below.", num=len(ids))
    return await destroy_files(registry, disposal, record, spec, students, linked, user, scope)


async def destroy_files(registry: Registry, disposal: Disposal, record: Record, spec: dict, students: list[Student],
                        linked: list[Record], user: User, scope: dict | None) -> str:
    """Delete what is only about these students; a group record keeps the others and loses these."""
    ids = {s.id for s in students}
    counts: dict[int, Counter] = {s.id: Counter() for s in students}
    deleted = 0
    for found in linked:
        about = {s.id for s in found.students}
        for student_id in about & ids:
            counts[student_id][found.form_id] += 1
        if about <= ids:
            await found.delete()  # revisions and student links go with it (ON DELETE CASCADE)
            deleted += 1
        else:
            await found.students.remove(*[s for s in found.students if s.id in ids])
    basis = str(record.data.get(spec.get("basis", "")) or "")[:1000]
    now = dt.datetime.now(dt.timezone.utc)
    for student in students:
        categories = [{"form_id": f, "title": registry.get(f).title if registry.get(f) else f, "count": n}
                      for f, n in sorted(counts[student.id].items())]
        await FileTombstone.create(school_id=record.school_id, student=student, disposal=disposal, destroyed_at=now,
                                   destroyed_by=user, basis=basis, categories=categories)
        await audit.append("destroy", f"student:{student.id}", user=user, scope=scope,
                           detail=f"disposal {disposal.id}: {sum(counts[student.id].values())} records")
    await Student.filter(id__in=list(ids)).update(file_state="destroyed", sealed_until=None, birth_date=None,
                                                  guardian_name="", guardian_phone="")
    return _("%(num)s files destroyed: %(records)s records erased; the tombstones remain.", num=len(ids), records=deleted)


async def erase_freed_space(attempts: int = 5) -> None:
    """Deleted rows must not be recoverable from the database files. SQLite runs with secure_delete
    (freed pages are zeroed); the WAL still holds old page images until a checkpoint truncates it (it
    waits for readers: tried again), and VACUUM rewrites the file. On PostgreSQL, VACUUM FULL rewrites
    the tables into new files. Backups made before keep their copies until they are rotated away."""
    connection = connections.get("default")
    if connection.capabilities.dialect != "sqlite":
        await connection.execute_script("VACUUM FULL record, record_revision, record_student, student, print_job")
        return
    await connection.execute_script("VACUUM")
    for _attempt in range(attempts):
        busy = (await connection.execute_query_dict("PRAGMA wal_checkpoint(TRUNCATE)"))[0]
        if not busy.get("busy"):
            return
        await asyncio.sleep(0.2)
    log.warning("the WAL could not be truncated: a reader holds it; it is truncated at the next checkpoint")


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


# Opening a sealed file: a reason, recorded, for a while, in this session only.

def shown_here(session: dict | None, students: list[Student]) -> set[int]:
    """The closed files among these that this session opened with a reason (shown as before)."""
    return {s.id for s in students if s.file_state in CLOSED_STATES and session is not None and opened(session, [s])}


def hide_closed_students(definition: Definition, record: Record, students: list[Student], shown: set[int] = frozenset()) -> None:
    """A group record shared with a sealed or transferred file stays for the others: in memory only (never saved),
    that student is named 「已封存学生」 wherever the record shows them (their own Student object, names in the
    answers) and their own rows (`x-student-rows` tables: attendance, notes about them) are closed. A decision on
    files (x-disposal) keeps the names: it is read by those who decide and carry it out. `shown`: opened files."""
    if spec_of(definition):
        return
    closed = [s for s in students if s.file_state in CLOSED_STATES and s.id not in shown]  # by id: a namesake stays shown
    if not closed:
        return
    record.data = closed_answers(definition, record.data, {s.name for s in closed})
    label = _("Sealed student")
    for student in closed:
        student.name, student.student_number, student.gender, student.birth_date = label, "", "", None
        student.klass = None


def hidden_names(definition: Definition, students: list[Student], shown: set[int] = frozenset()) -> set[str]:
    """The names hide_closed_students masks in a record of this form about these students."""
    if spec_of(definition):
        return set()
    return {s.name for s in students if s.file_state in CLOSED_STATES and s.id not in shown and s.name}


def closed_answers(definition: Definition, data: dict, names: set[str]) -> dict:
    """A copy of the answers with these students' rows closed and their names masked in every text."""
    label = _("Sealed student")
    data = json.loads(json.dumps(data))  # a deep copy of JSON data
    for path, spec in definition.fields.items():
        column = spec.schema.get("x-student-rows")
        rows = data.get(path) if "." not in path else None
        if spec.item_fields and column and isinstance(rows, list):
            data[path] = [{column: label} if isinstance(row, dict) and str(row.get(column, "")).strip() in names else row for row in rows]
    ordered = sorted((name for name in names if name.strip()), key=len, reverse=True)  # never an empty name

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            for name in ordered:
                value = value.replace(name, label)
            return value
        if isinstance(value, list):
            return [masked(v) for v in value]
        if isinstance(value, dict):
            return {k: masked(v) for k, v in value.items()}
        return value
    return masked(data)


async def hide_closed_in(registry: Registry, records: list[Record], session: dict | None = None) -> None:
    """hide_closed_students for records listed with their students prefetched (lists, exports, the API)."""
    for record in records:
        students = list(record.students)
        if any(s.file_state in CLOSED_STATES for s in students):
            definition = await registry.at(record.form_id, record.form_version)
            if definition is not None:
                hide_closed_students(definition, record, students, shown_here(session, students))


def opened(session: dict, students: list[Student]) -> bool:
    grants = session.get("opened_files") or {}
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    return all(s.file_state not in CLOSED_STATES or grants.get(str(s.id), 0) > now for s in students)


def grant(session: dict, student_id: int) -> None:
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    grants = {k: v for k, v in (session.get("opened_files") or {}).items() if v > now}
    grants[str(student_id)] = now + OPEN_FOR_SECONDS
    session["opened_files"] = grants


async def closed_students(record: Record) -> list[Student]:
    """The record's students whose files are sealed or transferred (none for an open record)."""
    if not record.sealed:
        return []
    return [s for s in await record.students.all() if s.file_state in CLOSED_STATES]


# The dashboard: decisions under way, files due for one, sealings that expire, tombstones.

@dataclass
class DueFile:
    student: Student
    due_on: dt.date
    reason: str


async def due_files(registry: Registry, school_id: int, today: dt.date | None = None, ahead_days: int = 60) -> list[DueFile]:
    """Left students whose open files have reached their retention (`x-retention-years` of their forms,
    counted from leaving; none: due at leaving), and sealed files whose sealing ends within `ahead_days`."""
    today = today or local_today()
    deciding = {s for d in await Disposal.filter(school_id=school_id, state__in=IN_PROGRESS).prefetch_related("record__students")
                for s in (x.id for x in d.record.students)}
    due = []
    for student in await Student.filter(school_id=school_id, left_on__isnull=False, file_state="open").select_related("klass"):
        if student.id in deciding:
            continue
        forms = set(await Record.filter(students__id=student.id).values_list("form_id", flat=True))
        years = max((retention_years(registry.get(f)) for f in forms if registry.get(f)), default=0)
        due_on = _add_years(student.left_on, years)
        if due_on <= today + dt.timedelta(days=ahead_days):
            why = _("left school (%(reason)s), kept %(years)s years", reason=student.left_reason or "-", years=years) if years \
                else _("left school (%(reason)s)", reason=student.left_reason or "-")
            due.append(DueFile(student, due_on, why))
    for student in await Student.filter(school_id=school_id, file_state="sealed", sealed_until__isnull=False).select_related("klass"):
        if student.id not in deciding and student.sealed_until <= today + dt.timedelta(days=ahead_days):
            due.append(DueFile(student, student.sealed_until, _("sealing ends")))
    return sorted(due, key=lambda d: d.due_on)


def retention_years(definition: Definition) -> int:
    value = definition.schema.get("x-retention-years", 0)
    return value if isinstance(value, int) else 0


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def package_json(school_name: str, student: Student, records: list[tuple[Record, Definition]], disposal: Disposal) -> bytes:
    """The records of a transferred file as data the receiving school can read or import."""
    body = {
        "format": "xindang-transfer-1",
        "school": school_name,
        "student": {"student_number": student.student_number, "name": student.name, "gender": student.gender,
                    "birth_date": student.birth_date.isoformat() if student.birth_date else None,
                    "class": student.klass.name if student.klass else None},
        "decision": {"disposal": disposal.id, "approved_at": disposal.approved_at.isoformat() if disposal.approved_at else None},
        "records": [{"form_id": r.form_id, "title": d.title, "form_version": r.form_version, "status": r.status,
                     "created_at": r.created_at.isoformat(), "data": r.data} for r, d in records],
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


@dataclass
class Panel:
    """What the record page shows of a decision: where it stands and what this user may do now."""

    disposal: Disposal | None
    step: str | None
    opinions: list[Any]  # the opinion field's options, for review and approval
    note: Any  # the field for the step's written opinion (None: the step writes none)
    refused: str | None  # why this user cannot take the step (None: they can)
    waiting_for: list[str]  # the roles the next step waits for
    students: list[Student]  # whose files the decision acts on, with their class and leaving
    students_label: str  # the definition's name for them
    students_refused: str | None  # why these students cannot be decided on (still at school)


async def panel_for(definition: Definition, record: Record, actor: Actor) -> Panel | None:
    spec = spec_of(definition)
    if spec is None:
        return None
    disposal = await Disposal.get_or_none(record_id=record.id).select_related("applied_by", "reviewed_by", "approved_by")
    step = next_step(disposal)
    opinions = definition.fields[spec[step]["opinion"]].options if step in ("review", "approve") else []
    refused = refusal(spec, step, actor, disposal, await writers_of(record.id)) if step else None
    note = definition.fields.get(spec[step].get("note", "")) if step in ("review", "approve") else None
    students = sorted(await record.students.all().select_related("klass"), key=lambda s: (s.left_on or dt.date.max, s.student_number))
    return Panel(disposal, step, opinions, note, refused, list(spec[step]["roles"]) if step else [], students,
                 definition.students_rule.get("label") or "", students_refusal(definition, students))
