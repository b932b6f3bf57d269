"""The Litestar app factory: settings → registry → routes, with sessions, CSRF and headers."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode
from contextlib import asynccontextmanager
from typing import AsyncIterator

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from renderers.widgets import risk_levels
from server.auth import (ABSOLUTE_SECONDS, AccountGateClosed, AuthMiddleware, PasswordChangeRequired, SecondFactorSetupRequired,
                         SessionEndedWorkKept, is_api)
from server.batch_print import PrintRunner
from server.db import close_database, open_database
from server.disposal import SealedFileClosed
from server.i18n import current_locale, gettext as _, pick_locale
from server.form_versions import FormLibrary
from server.registry import Registry
from server.routes.admin_pages import AdminPages
from server.routes.api import ApiController
from server.routes.auth_pages import AuthPages
from server.routes.audit_pages import AuditPages
from server.routes.handbook import HandbookCache, HandbookPages
from server.routes.disposal_pages import DisposalPages
from server.routes.form_editor_pages import FormEditorPages
from server.routes.pages import FormPages
from server.routes.print_pages import PrintPages
from server.routes.roster_pages import RosterPages
from server.routes.student_pages import StudentPages
from server.sessions import DatabaseSessionConfig, DatabaseStore, csrf_session_binding
from server.settings import STATIC_DIR, Settings
from server.unsaved_work import purge_now_and_then
from server.web import AccessRefused, page

log = logging.getLogger("xindang")
MAX_BODY_BYTES = 2_000_000
SESSION_MAX_AGE = ABSOLUTE_SECONDS

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def locale_middleware(app: ASGIApp) -> ASGIApp:
    """The locale of the request: the `lang` cookie, else the configured default."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            current_locale.set(request_locale(scope))
        await app(scope, receive, send)

    return middleware


def school_settings_middleware(app: ASGIApp) -> ASGIApp:
    """The signed-in user's school's names and colours of the risk levels, for every render."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user") if scope["type"] == "http" else None
        school = getattr(user, "school", None)
        risk_levels.set(tuple(getattr(school, "risk_levels", None) or ()))
        await app(scope, receive, send)

    return middleware


def request_locale(scope: Scope) -> str:
    cookies = dict(part.strip().split("=", 1) for part in _cookie_header(scope).split(";") if "=" in part)
    return pick_locale(cookies.get("lang"), scope["app"].state.settings.locale)


async def security_headers(message: Message, scope: Scope) -> None:
    """On every response, error pages included (F4); `no-store` on all but static files."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    if not scope["path"].startswith("/static/") and not any(name.lower() == b"cache-control" for name, _ in headers):
        headers.append((b"cache-control", b"no-store"))  # student data, API answers included
    headers += SECURITY_HEADERS
    if scope["app"].state.settings.secure_cookies:  # served over HTTPS
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    message["headers"] = headers


def _cookie_header(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return value.decode("latin-1")
    return ""


def _wants_json(request: Request) -> bool:
    return is_api(request.url.path) or request.url.path.startswith("/schema")


def not_authorized(request: Request, exc: NotAuthorizedException) -> Response:
    current_locale.set(request_locale(request.scope))  # raised before the locale middleware ran
    if isinstance(exc, AccountGateClosed):
        if _wants_json(request):
            return Response({"errors": [{"field": "", "message": exc.detail}]}, status_code=403)
        if request.headers.get("hx-request") == "true":
            return Response("", status_code=401, headers={"HX-Redirect": "/login"})
        return page(request, "pages/message.html", status_code=403, heading=_("Sorry"), message=exc.detail)
    if isinstance(exc, (PasswordChangeRequired, SecondFactorSetupRequired)):
        target = "/account/password" if isinstance(exc, PasswordChangeRequired) else "/account/totp"
        if _wants_json(request):
            message = _("Sign in on the web page and choose your own password first.") if isinstance(exc, PasswordChangeRequired) \
                else _("Sign in on the web page and set up the second factor first.")
            return Response({"errors": [{"field": "", "message": message}]}, status_code=403)
        if request.headers.get("hx-request") == "true":
            return Response("", status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    if _wants_json(request):
        return Response({"errors": [{"field": "", "message": _("A valid API token is required.")}]}, status_code=401)
    if isinstance(exc, SessionEndedWorkKept):  # what was typed waits for its owner to sign in again
        login = "/login?" + urlencode({"next": exc.resume})
        if request.headers.get("hx-request") == "true":
            return Response("", status_code=401, headers={"HX-Redirect": login})
        return Redirect(login, status_code=303)
    if request.headers.get("hx-request") == "true":
        return Response("", status_code=401, headers={"HX-Redirect": "/login"})
    if request.method != "GET":
        return Redirect("/login", status_code=303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect("/login?" + urlencode({"next": target}), status_code=303)


def sealed_file(request: Request, exc: SealedFileClosed) -> Response:
    """A sealed file asked for: the reason form (on the web), a refusal (through the API)."""
    current_locale.set(request_locale(request.scope))
    if _wants_json(request):
        return Response({"errors": [{"field": "", "message": _("This file is sealed; it can only be opened on the web page, with a reason.")}]},
                        status_code=403)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return page(request, "pages/sealed.html", status_code=403, students=exc.students, next=target, error="", reason="")


def http_error(request: Request, exc: HTTPException) -> Response:
    current_locale.set(request_locale(request.scope))
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        message = exc.detail if exc.detail and exc.detail != "Not Found" and not exc.detail.startswith("No route") else _("The page or record does not exist.")
    elif isinstance(exc, ValidationException):
        message = _("The request is not valid.")
    elif status == 413:
        message = _("The request is too large.")
    elif isinstance(exc, AccessRefused):
        message = str(exc.detail)
    elif status == 403:
        message = _("The request was refused (security check failed). Reload the page and try again.")
    elif status == 405:
        message = _("This action is not allowed here.")
    else:
        message = _("The request could not be handled.")
    if _wants_json(request):
        return Response({"errors": [{"field": "", "message": message}]}, status_code=status)
    return page(request, "pages/message.html", status_code=status, heading=_("Sorry"), message=message)


def server_error(request: Request, exc: Exception) -> Response:
    current_locale.set(request_locale(request.scope))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    message = _("Something went wrong on the server. Nothing was saved by this request; please try again.")
    if _wants_json(request):
        return Response({"errors": [{"field": "", "message": message}]}, status_code=500)
    return Response(message, status_code=500, media_type="text/plain; charset=utf-8")


def create_app(settings: Settings | None = None, *, migrate: bool = False) -> Litestar:
    settings = settings or Settings.from_env()
    registry = Registry.load(settings.form_dirs, settings.school_forms_dir)
    forms = FormLibrary(registry)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        await open_database(settings, migrate=migrate)
        app.state.print_runner = PrintRunner(settings, forms)
        await app.state.print_runner.open()
        purging = asyncio.create_task(purge_now_and_then())
        try:
            yield
        finally:
            purging.cancel()
            await app.state.print_runner.close()
            await close_database()

    cookie_prefix = "__Host-" if settings.secure_cookies else ""
    session_config = DatabaseSessionConfig(key=f"{cookie_prefix}xd_session", max_age=SESSION_MAX_AGE, store="sessions",
                                           httponly=True, samesite="lax", secure=settings.secure_cookies)
    csrf = CSRFConfig(secret=settings.secret_key, cookie_name=f"{cookie_prefix}xd_csrf", cookie_secure=settings.secure_cookies,
                      cookie_samesite="lax", cookie_httponly=True, exclude=["^/api/"])
    auth = DefineMiddleware(AuthMiddleware, exclude=["^/login(/code)?$", "^/language$", "^/static/", "^/favicon.ico$"])
    return Litestar(
        route_handlers=[AuthPages, FormPages, HandbookPages, AuditPages, AdminPages, RosterPages, StudentPages, PrintPages, DisposalPages,
                        FormEditorPages, ApiController,
                        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False)],
        middleware=[locale_middleware, session_config.middleware, csrf_session_binding, auth, school_settings_middleware],
        before_send=[security_headers],
        csrf_config=csrf,
        stores={"sessions": DatabaseStore()},
        state=State({"settings": settings, "registry": registry, "forms": forms, "handbook_cache": HandbookCache()}),
        lifespan=[database],
        exception_handlers={NotAuthorizedException: not_authorized, SealedFileClosed: sealed_file, HTTPException: http_error,
                            Exception: server_error},
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title="xindang", version="1", path="/schema", render_plugins=[JsonRenderPlugin()]),
        debug=False,
    )
