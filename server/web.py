"""What every handler shares: page responses, the registry, the record's context values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.utils.scope.state import ScopeState

from renderers.environment import fmt_date, render
from server.definitions import Definition
from server.i18n import current_locale, gettext as _
from server.models import Record, School, Student, User
from server.records import record_number
from server.registry import Registry

GRADE_NAMES = {1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级", 7: "七年级", 8: "八年级", 9: "九年级"}
NO_STORE = {"Cache-Control": "no-store"}


def registry(request: Request) -> Registry:
    return request.app.state.registry


def definition_or_404(request: Request, form_id: str) -> Definition:
    definition = registry(request).get(form_id)
    if definition is None:
        raise NotFoundException(_("There is no form with this id."))
    return definition


def csrf_token(request: Request) -> str:
    return ScopeState.from_scope(request.scope).csrf_token or ""


def page(request: Request, template: str, status_code: int = 200, headers: dict | None = None, **context: Any) -> Response:
    html = render(template, user=request.scope.get("user"), csrf_token=csrf_token(request), locale=current_locale.get(),
                  here=request.url.path, **context)
    return Response(html, status_code=status_code, media_type="text/html", headers={**NO_STORE, **(headers or {})})


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def school_of(user: User) -> School:
    """The user's school (loaded with the user by the auth middleware; fetched otherwise)."""
    school = user.school  # a School once fetched, else a query to await
    return school if isinstance(school, School) else await school


def subject_context(school: School, students: list[Student], record: Record | None = None) -> dict[str, str]:
    """Context values (`@student.name`, …) that layouts show but records do not store."""
    context = {"@school.name": school.name, "@today": fmt_date(dt.date.today())}
    if students:
        student = students[0]
        klass = getattr(student, "klass", None)
        context.update({
            "@student.name": student.name if len(students) == 1 else "、".join(s.name for s in students),
            "@student.gender": student.gender,
            "@student.number": student.student_number,
            "@student.birth_date": fmt_date(student.birth_date),
            "@student.class": klass.name if klass else "",
            "@student.grade": GRADE_NAMES.get(klass.grade, "") if klass else "",
        })
    if record is not None:
        context["@record.number"] = record_number(record)
        context["@record.created_on"] = fmt_date(record.created_at.date()) if record.created_at else ""
    return context
