"""What every handler shares: page responses, the registry, the record's context values."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.utils.scope.state import ScopeState

from renderers.environment import render
from server.definitions import Definition
from server.i18n import current_locale, gettext as _
from server.models import School, User
from server.registry import Registry

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
    return Response(html, status_code=status_code, media_type="text/html", headers=headers)  # no-store: server.app


def pdf_response(pdf: bytes, filename: str, ascii_name: str) -> Response:
    """Named after the form (never the student: file names end up in download lists)."""
    disposition = f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


class AccessRefused(PermissionDeniedException):
    """403 with a message for the user (other 403s are failed security checks such as CSRF)."""


def admin_only(connection: Any, _handler: Any) -> None:
    """Guard: school administrators only."""
    user = connection.scope.get("user")
    if user is None or not user.is_admin:
        raise AccessRefused(_("Only an administrator may do this."))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def school_of(user: User) -> School:
    """The user's school (loaded with the user by the auth middleware; fetched otherwise)."""
    school = user.school  # a School once fetched, else a query to await
    return school if isinstance(school, School) else await school
