"""Leaving school (handbook 7.2): the steps of a decision on a record's page, the transfer package,
and the dashboard of decisions under way and files due for one (server/disposal.py decides)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from renderers.pdf import html_to_pdf
from server import audit
from server.access import AccessRefused, Actor, actor_of, mask, record_reached
from server.batch_print import safe_file_name
from server.disposal import (CLOSED_STATES, IN_PROGRESS, SealedFileClosed, disposal_form_ids, due_files, opened, package_json,
                             step_roles, take_step)
from server.i18n import gettext as _, local_today
from server.models import Disposal, FileTombstone, Record, Student
from server.student_file import student_archive
from server.web import page, record_for, registry, school_of


async def deciders(connection: Any, _handler: Any) -> None:
    """Guard: the roles that take a step of some decision (心理教师, 德育处, 校领导 in the shipped forms)."""
    user = connection.scope.get("user")
    if user is None or not step_roles(await connection.app.state.forms.school_forms(user.school_id)) & set(user.roles or []):
        await audit.append("open", connection.scope.get("path", "")[:100], user=user, result="denied", scope=connection.scope)
        raise AccessRefused(_("Only those who apply for, review or approve decisions on files may see this page."))


async def own_records(request: Request, actor: Actor, student: Student, transferred: set[int]) -> list[tuple[Record, Any]]:
    """The records about this student (and no one outside the transfer) that this user may print, masked."""
    forms = await registry(request)
    kept = disposal_form_ids(forms)
    rows = []
    for record in await Record.filter(students__id=student.id, school_id=student.school_id).order_by("created_at").prefetch_related("students"):
        definition = await forms.at(record.form_id, record.form_version)
        if definition is None or record.form_id in kept or not {s.id for s in record.students} <= transferred:
            continue
        if await record_reached(actor, definition, record, "print"):
            record.data = mask(actor, definition, record.data)
            rows.append((record, definition))
    return rows


class DisposalPages(Controller):
    @post("/records/{record_id:int}/disposal", status_code=200)
    async def step(self, request: Request, record_id: int) -> Response:
        record, definition, actor = await record_for(request, record_id, "read")
        form: Any = await request.form()
        await take_step((await registry(request)), request.app.state.settings, record, definition, request.user, actor,
                        str(form.get("step") or ""), str(form.get("opinion") or ""), scope=request.scope, note=str(form.get("note") or ""))
        return Redirect(f"/records/{record.id}", status_code=303)

    @get("/records/{record_id:int}/disposal/package")
    async def package(self, request: Request, record_id: int) -> Response:
        """A transfer's package for the receiving school: per student the file as PDF and as JSON, as far as
        this user may print it. The file is sealed here, so this is an opening of it: a reason is asked first."""
        record, _definition, actor = await record_for(request, record_id, "print")
        disposal = await Disposal.get_or_none(record_id=record.id, state="approved", action="transfer")
        if disposal is None:
            raise NotFoundException(_("This record has no approved transfer."))
        students = list(await record.students.all().select_related("klass"))
        if not opened(request.session, students):
            raise SealedFileClosed([s for s in students if s.file_state in CLOSED_STATES])
        school = await school_of(request.user)
        transferred = {s.id for s in students}
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            for student in students:
                name = safe_file_name(f"{student.student_number}-{student.name}")
                html, _count = await student_archive((await registry(request)), actor, student, school)
                bundle.writestr(f"{name}.pdf", await anyio.to_thread.run_sync(html_to_pdf, html))
                bundle.writestr(f"{name}.json", package_json(school.name, student, await own_records(request, actor, student, transferred), disposal))
        await audit.append("transfer-package", f"record:{record.id}", user=request.user, scope=request.scope, detail=f"disposal {disposal.id}")
        return Response(out.getvalue(), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="transfer-{disposal.id}.zip"'})

    @get("/disposals/", guards=[deciders])
    async def dashboard(self, request: Request) -> Response:
        school = await school_of(request.user)
        under_way = await Disposal.filter(school_id=school.id, state__in=IN_PROGRESS).select_related("applied_by") \
            .prefetch_related("record__students").order_by("applied_at")
        done = await Disposal.filter(school_id=school.id, state__in=("approved", "refused")).prefetch_related("record__students") \
            .order_by("-approved_at").limit(30)
        due = await due_files((await registry(request)), school.id)
        sealed = await Student.filter(school_id=school.id, file_state__in=("sealed", "transferred")).select_related("klass").order_by("sealed_until")
        tombstones = await FileTombstone.filter(school_id=school.id).select_related("student", "destroyed_by").order_by("-id").limit(50)
        await audit.append("list", "disposals", user=request.user, scope=request.scope)
        decision_forms = [d for d in (await registry(request)).forms.values() if d.schema.get("x-disposal")]
        return page(request, "pages/disposals.html", under_way=under_way, done=done, due=due, sealed=sealed, tombstones=tombstones,
                    today=local_today(), form=decision_forms[0] if decision_forms else None, actor=await actor_of(request.user))
