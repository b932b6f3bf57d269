"""The JSON API (bearer tokens): forms, records, students. Same storage and validation as the pages."""

from __future__ import annotations

from typing import Any

import orjson
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from server.definitions import Definition
from server.disposal import CLOSED_STATES, hide_closed_in, keep_decided
from server.i18n import gettext as _
from server.models import Record, SchoolClass, Student
from server.records import (ListQuery, VersionConflict, checked_save, create_record, list_records, once_only_records, record_number,
                            students_of, students_refusal, update_record)
from server.validation import FieldError, create_limit_errors, field_title
from server import audit
from server.access import (Actor, actor_of, choosable_class, classes_filter, hidden_fields, keep_hidden, keep_hidden_on_create, mask, record_reached,
                           records_filter, roles_for, roster_filter, students_filter)
from server.form_versions import (CriticalChanges, DefinitionRejected, VersionRace, audit_publish, change_json, history, may_confirm_critical,
                                  version_json)
from server.web import definition_or_404, form_editors, form_for, record_for, registry, school_of

MAX_JSON_BYTES = 1_000_000


def open_ids(students: Any) -> list[int]:
    """The students a record lists: a sealed or transferred file's student is left out (hide_closed_students)."""
    return [s.id for s in students if s.file_state not in CLOSED_STATES]


def record_json(record: Record, student_ids: list[int], actor: Actor, definition: Definition) -> dict:
    """A record as the API sends it: without the fields this user may not read."""
    return {"id": record.id, "form_id": record.form_id, "form_version": record.form_version, "version": record.version,
            "students": student_ids, "class": record.klass_id, "status": record.status, "data": mask(actor, definition, record.data),
            "created_at": record.created_at.isoformat() if record.created_at else None,
            "updated_at": record.updated_at.isoformat() if record.updated_at else None}


def errors_response(errors: list[FieldError], definition: Definition | None = None, status_code: int = 422) -> Response:
    items = []
    for error in errors:
        title = field_title(definition, error.path) if definition else ""
        items.append({"field": error.pointer, "message": f"{title}：{error.message}" if title else error.message})
    return Response({"errors": items}, status_code=status_code)


async def read_body(request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        return None, errors_response([FieldError((), _("The request body is too large."))], status_code=413)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, errors_response([FieldError((), _("The request body is not valid JSON."))], status_code=400)
    if not isinstance(body, dict):
        return None, errors_response([FieldError((), _("The request body must be a JSON object."))], status_code=400)
    return body, None


class ApiController(Controller):
    path = "/api"

    @get("/forms")
    async def forms(self, request: Request) -> list[dict]:
        return [{"id": d.form_id, "title": d.title, "version": d.version, "part": part.title, "subject": d.subject}
                for part in (await registry(request)).parts for d in part.forms]

    @get("/forms/{form_id:str}")
    async def form(self, request: Request, form_id: str,
                   version: int | None = Parameter(query="version", default=None, gt=0, lt=2**31)) -> dict:
        """The form as it is served now, or as it was at `?version=N` (what records of that version were made with)."""
        definition = await definition_or_404(request, form_id)
        if version is not None and version != definition.version:
            forms = await registry(request)
            definition = await forms.library.version(forms.school_id, form_id, version)
            if definition is None:
                raise NotFoundException(_("This form has no such version."))
        return {"id": definition.form_id, "title": definition.title, "version": definition.version,
                "schema": definition.schema, "layout": definition.layout}

    @get("/forms/{form_id:str}/versions", guards=[form_editors])
    async def versions(self, request: Request, form_id: str) -> dict:
        """Every published version of the form at the user's school (form editors only)."""
        forms = await registry(request)
        rows = await history(forms.school_id, form_id)
        if not rows:
            raise NotFoundException(_("There is no form with this id."))
        current = forms.get(form_id)
        await audit.append("read", f"form:{form_id}", user=request.user, detail="versions api", scope=request.scope)
        return {"form_id": form_id, "current": current.version if current else None, "upstream_changed": form_id in forms.upstream,
                "versions": [version_json(row, current.version if current else None) for row in rows]}

    @post("/forms/{form_id:str}/versions", guards=[form_editors])
    async def publish(self, request: Request, form_id: str) -> Response:
        """Check and publish `{"schema", "layout", "note"?, "confirm_critical"?}` as the form's next version:
        201 with the version and its changes, 422 with the definition's problems, 409 with the critical changes."""
        body, problem = await read_body(request)
        if problem:
            return problem
        confirm = body.get("confirm_critical") is True
        note = body.get("note") if isinstance(body.get("note"), str) else ""
        forms = await registry(request)
        try:
            published = await request.app.state.forms.publish(forms.school_id, form_id, body.get("schema"), body.get("layout"), request.user,
                                                              origin="api", confirm_critical=confirm and may_confirm_critical(request.user),
                                                              note=note)
        except DefinitionRejected as rejected:
            return Response({"errors": [{"field": p.pointer, "file": p.file, "message": p.message} for p in rejected.problems]}, status_code=422)
        except CriticalChanges as critical:
            message = _("These changes touch stored records: only a 系统管理员 may confirm them.") if confirm else \
                _("These changes touch stored records: send \"confirm_critical\": true (系统管理员 only) to publish them anyway.")
            return Response({"errors": [{"field": c.path, "message": c.message} for c in critical.changes if c.critical] +
                                       [{"field": "", "message": message}],
                             "changes": [change_json(c) for c in critical.changes]}, status_code=409)
        except VersionRace as race:
            return Response({"errors": [{"field": "", "message": str(race)}]}, status_code=409)
        row = published.version
        await audit_publish(request.user, request.scope, form_id, published)
        return Response({"version": version_json(row, row.version), "changes": [change_json(c) for c in published.changes]}, status_code=201)

    @get("/forms/{form_id:str}/records")
    async def records(self, request: Request, form_id: str, page: int = 1) -> dict:
        definition, actor = await form_for(request, form_id, "read")
        school = await school_of(request.user)
        query = ListQuery(filters={}, page=page, page_size=100, scope=await records_filter(actor, definition, "read"),
                          hidden=hidden_fields(actor, definition))
        result = await list_records(definition, school, query)
        await audit.append("list", f"form:{form_id}", user=request.user, detail="api", scope=request.scope)
        forms = await registry(request)  # each record masked by the version it was made with
        await hide_closed_in(forms, result.records)
        return {"total": result.total, "page": result.page, "pages": result.pages,
                "records": [record_json(r, open_ids(r.students), actor, await forms.at(r.form_id, r.form_version) or definition)
                            for r in result.records]}

    @post("/forms/{form_id:str}/records")
    async def create(self, request: Request, form_id: str) -> Response:
        definition, actor = await form_for(request, form_id, "create")
        school = await school_of(request.user)
        body, problem = await read_body(request)
        if problem:
            return problem
        data = body.get("data")
        given = body.get("students", [])
        reachable = students_filter(actor, definition, "create")
        students = await students_of(school, given, reachable) if isinstance(given, list) and len(given) <= 200 else None
        if isinstance(data, dict):
            keep_hidden_on_create(actor, definition, data)  # a field one may not read (nor fill in) cannot be written
            await keep_decided(definition, {}, data, students=students or [])
        status, errors = await checked_save(definition, data, body.get("status"), None)
        errors += create_limit_errors(definition, roles_for(actor, definition, "create"), data)
        if students is None:
            errors.append(FieldError(("students",), _("Unknown student id.")))
        elif definition.subject == "student" and len(students) != 1:
            errors.append(FieldError(("students",), _("A record of this form is about exactly one student.")))
        elif definition.subject == "students" and not students:
            errors.append(FieldError(("students",), _("Please choose the students who took part.")))
        elif definition.subject not in ("student", "students") and students:
            errors.append(FieldError(("students",), _("A record of this form is not about students.")))
        elif refused := students_refusal(definition, students):
            errors.append(FieldError(("students",), refused))
        elif (existing := await once_only_records(definition, students)) and body.get("confirm_duplicate") is not True:
            errors.append(FieldError(("students",), _(
                "This form is kept once per student and one already exists (%(numbers)s): update it, or send "
                "\"confirm_duplicate\": true to create a second record anyway.", numbers="、".join(record_number(r) for r in existing))))
        given_class = body.get("class")  # a record about a class: the class's id (optional, as before the link existed)
        klass = await choosable_class(actor, definition, given_class) if type(given_class) is int else None
        if given_class is not None and klass is None:
            errors.append(FieldError(("class",), _("Unknown class id, or not a class this record can be about.")))
        if errors:
            return errors_response(errors, definition)
        record = await create_record(definition, school, request.user, data, students, status, scope=request.scope, via=" api", klass=klass)
        return Response(record_json(record, [s.id for s in students], actor, definition), status_code=201)

    @get("/records/{record_id:int}")
    async def record(self, request: Request, record_id: int) -> dict:
        record, definition, actor = await record_for(request, record_id, "read")
        await record.fetch_related("students")
        await hide_closed_in(await registry(request), [record])
        return record_json(record, open_ids(record.students), actor, definition)

    @put("/records/{record_id:int}")
    async def update(self, request: Request, record_id: int) -> Response:
        record, definition, actor = await record_for(request, record_id, "edit")
        body, problem = await read_body(request)
        if problem:
            return problem
        version = body.get("version")
        if type(version) is not int or not 0 < version < 2**31:
            return errors_response([FieldError(("version",), _("The record version is required (an integer)."))])
        data = body.get("data")
        if isinstance(data, dict):
            keep_hidden(actor, definition, record.data, data)
            await keep_decided(definition, record.data, data, record.id, students=list(await record.students.all().select_related("klass")))
        status, errors = await checked_save(definition, data, body.get("status"), record.status)
        if errors:
            return errors_response(errors, definition)
        try:
            record = await update_record(record, version, data, request.user, scope=request.scope, via=" api", status=status)
        except VersionConflict as conflict:
            current = conflict.current
            return Response({"errors": [{"field": "/version", "message": _("The record was changed by someone else (now version %(version)s). Reload it and apply your change again.", version=current.version)}],
                             "current": record_json(current, [s.id for s in await current.students.all()], actor, definition)}, status_code=409)
        return Response(record_json(record, [s.id for s in await record.students.all()], actor, definition), status_code=200)

    @get("/classes")
    async def classes(self, request: Request) -> list[dict]:
        """The school's classes this user reaches, with their ids (for `?class=` and `user create --class`)."""
        actor = await actor_of(request.user)
        query = SchoolClass.filter(school_id=actor.school_id)
        if (visible := classes_filter(actor)) is not None:
            query = query.filter(visible)
        rows = await query.order_by("grade", "name")
        await audit.append("list", "classes", user=request.user, detail="api", scope=request.scope)
        return [{"id": c.id, "name": c.name, "grade": c.grade, "school_year": c.school_year} for c in rows]

    @get("/students")
    async def students(self, request: Request, class_id: int | None = Parameter(query="class", default=None, gt=0, lt=2**31)) -> list[dict]:
        """The students this user reaches; `?class=ID` for one class."""
        school = await school_of(request.user)
        query = Student.filter(school=school)
        if (visible := roster_filter(await actor_of(request.user))) is not None:
            query = query.filter(visible)
        if class_id is not None:
            query = query.filter(klass_id=class_id)
        rows = await query.select_related("klass").order_by("id")
        await audit.append("list", f"class:{class_id}" if class_id else "students", user=request.user, detail="api",
                           scope=request.scope)
        return [{"id": s.id, "name": s.name, "gender": s.gender, "student_number": s.student_number,
                 "class": s.klass.name if s.klass else None, "class_id": s.klass_id} for s in rows]

    @get("/students/{student_id:int}/records")
    async def student_records(self, request: Request, student_id: int) -> list[dict]:
        school = await school_of(request.user)
        actor = await actor_of(request.user)
        query = Student.filter(id=student_id, school=school)
        if (visible := roster_filter(actor)) is not None:
            query = query.filter(visible)
        student = await query.first() if 0 < student_id < 2**31 else None
        if student is None:
            await audit.append("read", f"student:{student_id}", user=request.user, result="denied", scope=request.scope)
            raise NotFoundException(_("There is no such student."))
        await audit.append("read", f"student:{student.id}", user=request.user, detail="api records", scope=request.scope)
        found = []
        if student.file_state in CLOSED_STATES:  # a sealed file is opened on its page, with a reason
            return found
        for record in await student.records.filter(school=school).order_by("-created_at").prefetch_related("students"):
            definition = await (await registry(request)).at(record.form_id, record.form_version)
            if definition and not record.sealed and await record_reached(actor, definition, record, "read"):
                await hide_closed_in(await registry(request), [record])
                found.append(record_json(record, open_ids(record.students), actor, definition))
        return found
