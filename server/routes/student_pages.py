"""The student's file page (/students/{id}): the whole 一生一档 of one student, as far as the user may read it."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException

from server import audit
from server.access import actor_of, roster_filter
from server.i18n import gettext as _
from server.models import Student
from server.student_file import student_file
from server.web import page, registry, school_of


class StudentPages(Controller):
    @get("/students/{student_id:int}")
    async def file_page(self, request: Request, student_id: int, view: str = "parts") -> Response:
        school = await school_of(request.user)
        actor = await actor_of(request.user)
        query = Student.filter(id=student_id, school_id=school.id) if 0 < student_id < 2**31 else Student.filter(id=-1)
        if (visible := roster_filter(actor)) is not None:
            query = query.filter(visible)
        student = await query.select_related("klass").first()
        if student is None:
            await audit.append("read", f"student:{student_id}", user=request.user, result="denied", scope=request.scope)
            raise NotFoundException(_("There is no such student."))
        found = await student_file(registry(request), actor, student)
        await audit.append("read", f"student:{student.id}", user=request.user, detail="file", scope=request.scope)
        return page(request, "pages/student.html", file=found, student=student,
                    view="timeline" if view == "timeline" else "parts")
