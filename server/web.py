"""What every handler shares: page responses, the registry, the record's context values."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.utils.scope.state import ScopeState

from renderers.environment import render
from server import audit
from server.access import AccessRefused, Actor, actor_of, can, record_reached  # noqa: F401  (AccessRefused: routes import it from here)
from server.definitions import Definition
from server.disposal import SealedFileClosed, closed_students, opened
from server.form_versions import FORM_EDITORS
from server.records import FileSealed, check_writable
from server.i18n import current_locale, gettext as _
from server.models import Record, School, User
from server.registry import Registry

async def registry(request: Request) -> Registry:
    """The user's school's forms: each at its newest published version (server.form_versions)."""
    found = request.scope.get("xindang_forms")
    if found is None:
        school = await school_of(request.user)
        found = request.scope["xindang_forms"] = await request.app.state.forms.school_forms(school.id)  # type: ignore[typeddict-unknown-key]
    return found


async def definition_or_404(request: Request, form_id: str) -> Definition:
    definition = (await registry(request)).get(form_id)
    if definition is None:
        raise NotFoundException(_("There is no form with this id."))
    return definition


async def form_for(request: Request, form_id: str, action: str) -> tuple[Definition, Actor]:
    """The form, when the user's roles may do `action` with it (server.access decides)."""
    definition = await definition_or_404(request, form_id)
    actor = await actor_of(request.user)
    if not can(actor, definition, action):
        await audit.append(action, f"form:{form_id}", user=request.user, result="denied", scope=request.scope)
        raise AccessRefused(_("Your role does not allow this for this form."))
    return definition, actor


async def record_for(request: Request, record_id: int, action: str) -> tuple[Record, Definition, Actor]:
    """The record, when it is the user's school's and their roles reach it for `action`. Otherwise
    the same 404 as a record that does not exist: an id outside one's scope reveals nothing."""
    school = await school_of(request.user)
    record = await Record.get_or_none(id=record_id, school_id=school.id) if 0 < record_id < 2**31 else None
    definition = await (await registry(request)).at(record.form_id, record.form_version) if record else None
    actor = await actor_of(request.user)
    if record is None or definition is None or not await record_reached(actor, definition, record, action):
        await audit.append(action, f"record:{record_id}", user=request.user, result="denied", scope=request.scope)
        raise NotFoundException(_("There is no such record."))
    if action == "edit":
        try:
            await check_writable(record)
        except FileSealed:
            await audit.append(action, f"record:{record.id}", user=request.user, result="denied", detail="sealed", scope=request.scope)
            raise
    if record.sealed:  # a sealed file: read only with a reason given in this session
        closed = await closed_students(record)
        if closed and not opened(request.session, closed):
            await audit.append(action, f"record:{record.id}", user=request.user, result="denied", detail="sealed", scope=request.scope)
            raise SealedFileClosed(closed)
    await audit.append(action, f"record:{record.id}", user=request.user, detail=f"form:{record.form_id}", scope=request.scope)
    return record, definition, actor


def csrf_token(request: Request) -> str:
    return ScopeState.from_scope(request.scope).csrf_token or ""


def page(request: Request, template: str, status_code: int = 200, headers: dict | None = None, **context: Any) -> Response:
    html = render(template, user=request.scope.get("user"), csrf_token=csrf_token(request), locale=current_locale.get(),
                  here=request.url.path, **context)
    return Response(html, status_code=status_code, media_type="text/html", headers=headers)  # no-store: server.app


def pdf_response(pdf: bytes, filename: str, ascii_name: str) -> Response:
    """Named after the form (never the student: file names end up in download lists)."""
    disposition = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


async def admin_only(connection: Any, _handler: Any) -> None:
    """Guard: school administrators only."""
    await _require_role(connection, {"admin"}, _("Only an administrator may do this."))


async def form_editors(connection: Any, _handler: Any) -> None:
    """Guard: 系统管理员 and 德育处 change forms (the editor and the versions API)."""
    await _require_role(connection, set(FORM_EDITORS), _("Only a 系统管理员 or the 德育处 may change forms."))


async def audit_readers(connection: Any, _handler: Any) -> None:
    """Guard: the audit log is for 校领导 and 系统管理员."""
    await _require_role(connection, {"admin", "leader"}, _("Only a school leader or an administrator may read the audit log."))


async def _require_role(connection: Any, roles: set[str], message: str) -> None:
    user = connection.scope.get("user")
    if user is None or not roles & set(user.roles or []):
        await audit.append("open", connection.scope.get("path", "")[:100], user=user, result="denied", scope=connection.scope)
        raise AccessRefused(message)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def school_of(user: User) -> School:
    """The user's school (loaded with the user by the auth middleware; fetched otherwise)."""
    school = user.school  # a School once fetched, else a query to await
    return school if isinstance(school, School) else await school
