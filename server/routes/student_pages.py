"""The student's file (/students/{id}) and its printed archive (/students/{id}/archive.pdf): the whole
一生一档 of one student, as far as the user may read and print it."""

from __future__ import annotations

import anyio
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException

from renderers.archive import archive_html
from renderers.pdf import html_to_pdf
from server import audit
from server.access import Actor, actor_of, roster_filter
from server.i18n import gettext as _, local_today
from server.models import Student
from server.student_file import archive_parts, archive_student_line, student_file
from server.web import page, pdf_response, registry, school_of


async def reachable_student(request: Request, student_id: int, action: str) -> tuple[Student, Actor]:
    """The student, when the user's roles reach them; otherwise the same 404 as a student that does not exist."""
    school = await school_of(request.user)
    actor = await actor_of(request.user)
    query = Student.filter(id=student_id, school_id=school.id) if 0 < student_id < 2**31 else Student.filter(id=-1)
    if (visible := roster_filter(actor)) is not None:
        query = query.filter(visible)
    student = await query.select_related("klass").first()
    if student is None:
        await audit.append(action, f"student:{student_id}", user=request.user, result="denied", scope=request.scope)
        raise NotFoundException(_("There is no such student."))
    return student, actor


class StudentPages(Controller):
    @get("/students/{student_id:int}")
    async def file_page(self, request: Request, student_id: int, view: str = "parts") -> Response:
        student, actor = await reachable_student(request, student_id, "read")
        found = await student_file(registry(request), actor, student)
        await audit.append("read", f"student:{student.id}", user=request.user, detail="file", scope=request.scope)
        return page(request, "pages/student.html", file=found, student=student,
                    view="timeline" if view == "timeline" else "parts")

    @get("/students/{student_id:int}/archive.pdf")
    async def archive_pdf(self, request: Request, student_id: int) -> Response:
        """The whole file as one bound PDF: what this user may print, and nothing else."""
        student, actor = await reachable_student(request, student_id, "print")
        found = await student_file(registry(request), actor, student)
        parts = await archive_parts(actor, found)
        school = await school_of(request.user)
        html = archive_html(title=_("Student mental-health file"), school_name=school.name,
                            student=archive_student_line(student), parts=parts, printed_on=local_today())
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        await audit.append("print", f"student:{student.id}", user=request.user, scope=request.scope,
                           detail=f"archive {sum(len(p.entries) for p in parts)} records")
        return pdf_response(pdf, f"{_('Student mental-health file')}-{student.student_number}.pdf", f"archive-{student.id}.pdf")
