"""The student's file (/students/{id}) and its printed archive (/students/{id}/archive.pdf): the whole
一生一档 of one student, as far as the user may read and print it."""

from __future__ import annotations

from typing import Any

import anyio

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect

from renderers.pdf import html_to_pdf
from server import audit
from server.access import Actor, actor_of, can, classes_filter, roster_filter
from server.definitions import Definition
from server.disposal import SealedFileClosed, grant, opened
from server.i18n import gettext as _
from server.models import FileTombstone, SchoolClass, Student
from server.routes.auth_pages import safe_next
from server.student_file import PER_STUDENT, student_archive, student_file
from server.web import page, pdf_response, registry, school_of


async def reachable_student(request: Request, student_id: int, action: str, *, closed_ok: bool = False) -> tuple[Student, Actor]:
    """The student, when the user's roles reach them; otherwise the same 404 as a student that does not exist.
    A sealed file is reached only after a reason was given in this session (`closed_ok`: the reason form)."""
    school = await school_of(request.user)
    actor = await actor_of(request.user)
    query = Student.filter(id=student_id, school_id=school.id) if 0 < student_id < 2**31 else Student.filter(id=-1)
    if (visible := roster_filter(actor)) is not None:
        query = query.filter(visible)
    student = await query.select_related("klass").first()
    if student is None:
        await audit.append(action, f"student:{student_id}", user=request.user, result="denied", scope=request.scope)
        raise NotFoundException(_("There is no such student."))
    if not closed_ok and not opened(request.session, [student]):
        await audit.append(action, f"student:{student.id}", user=request.user, result="denied", detail="sealed", scope=request.scope)
        raise SealedFileClosed([student])
    return student, actor


async def reachable_classes(actor: Actor) -> list[SchoolClass]:
    """The classes the user may look up, newest school year first."""
    query = SchoolClass.filter(school_id=actor.school_id)
    if (visible := classes_filter(actor)) is not None:
        query = query.filter(visible)
    return sorted(await query, key=lambda c: (c.school_year, -c.grade, c.name), reverse=True)


async def printable_forms(request: Request, actor: Actor) -> list[Definition]:
    """The per-student forms this user may print, in handbook order (for "one form for the class")."""
    return [d for part in (await registry(request)).parts for d in part.forms if d.subject in PER_STUDENT and can(actor, d, "print")]


class StudentPages(Controller):
    @get("/students/")
    async def student_list(self, request: Request,
                           class_id: int | None = Parameter(query="class", default=None, gt=0, lt=2**31)) -> Response:
        """The students of one class the user reaches, each linked to their file, and batch printing."""
        actor = await actor_of(request.user)
        classes = await reachable_classes(actor)
        chosen = next((c for c in classes if c.id == class_id), None) if class_id else (classes[0] if classes else None)
        if class_id and chosen is None:
            await audit.append("list", f"class:{class_id}", user=request.user, result="denied", scope=request.scope)
            raise NotFoundException(_("There is no such class."))
        students = await Student.filter(school_id=actor.school_id, klass_id=chosen.id).order_by("student_number") if chosen else []
        if chosen:
            await audit.append("list", f"class:{chosen.id}", user=request.user, detail="students", scope=request.scope)
        return page(request, "pages/students.html", classes=classes, chosen=chosen, students=students,
                    forms=await printable_forms(request, actor), keep_hours=f"{request.app.state.settings.print_keep_hours:g}")

    @get("/students/{student_id:int}")
    async def file_page(self, request: Request, student_id: int, view: str = "parts") -> Response:
        student, actor = await reachable_student(request, student_id, "read")
        found = await student_file((await registry(request)), actor, student)
        await audit.append("read", f"student:{student.id}", user=request.user, detail="file", scope=request.scope)
        return page(request, "pages/student.html", file=found, student=student, view="timeline" if view == "timeline" else "parts",
                    tombstones=await FileTombstone.filter(student_id=student.id).select_related("destroyed_by").order_by("id"))

    @post("/students/{student_id:int}/open", status_code=200)
    async def open_sealed(self, request: Request, student_id: int) -> Response:
        """Open a sealed file for a while with a reason; the reason goes into the audit log."""
        student, _actor = await reachable_student(request, student_id, "read", closed_ok=True)
        form: Any = await request.form()
        reason = " ".join(str(form.get("reason") or "").split())
        target = str(form.get("next") or f"/students/{student.id}")
        if not 4 <= len(reason) <= 200:
            return page(request, "pages/sealed.html", status_code=422, students=[student], next=safe_next(target),
                        error=_("Write the reason in 4 to 200 characters."), reason=reason)
        grant(request.session, student.id)
        await audit.append("open-sealed", f"student:{student.id}", user=request.user, detail=reason[:150], scope=request.scope)
        return Redirect(safe_next(target), status_code=303)

    @get("/students/{student_id:int}/archive.pdf")
    async def archive_pdf(self, request: Request, student_id: int) -> Response:
        """The whole file as one bound PDF: what this user may print, and nothing else."""
        student, actor = await reachable_student(request, student_id, "print")
        html, count = await student_archive((await registry(request)), actor, student, await school_of(request.user))
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        await audit.append("print", f"student:{student.id}", user=request.user, scope=request.scope, detail=f"archive {count} records")
        return pdf_response(pdf, f"{_('Student mental-health file')}-{student.student_number}.pdf", f"archive-{student.id}.pdf")
