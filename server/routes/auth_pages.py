"""Log in and out, and pick the interface language."""

from __future__ import annotations

import time

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from server import audit
from server.auth import authenticate_password
from server.sessions import end_sessions, rotate_session
from server.i18n import SUPPORTED_LOCALES, gettext as _
from server.web import page


def safe_next(target: str) -> str:
    """Only local paths: never redirect a login to another site."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/forms"


class AuthPages(Controller):
    @get("/login")
    async def login_page(self, request: Request, next: str = "/forms") -> Response:
        return page(request, "pages/login.html", next=safe_next(next), error="", username="")

    @post("/login", status_code=200)
    async def login(self, request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username", ""))[:80]
        password = str(form.get("password", ""))[:1024]
        user = await authenticate_password(username, password)
        if user is None:
            await audit.append("login", "", result="failed", actor_name=username, scope=request.scope)
            return page(request, "pages/login.html", status_code=401, next=safe_next(str(form.get("next", ""))),
                        error=_("The user name or password is not correct."), username=username)
        rotate_session(request, {"user_id": user.id, "seen": int(time.time())})
        await audit.append("login", f"user:{user.id}", user=user, scope=request.scope)
        return Redirect(safe_next(str(form.get("next", "/forms"))), status_code=303)

    @post("/logout", status_code=200)
    async def logout(self, request: Request) -> Response:
        user = request.scope.get("user")
        await audit.append("logout", "", user=user, scope=request.scope)
        request.clear_session()
        if user is not None:
            await end_sessions(user.id)  # every device of this user: a shared staff-room computer is left signed out
        return Redirect("/login", status_code=303)

    @get("/language")
    async def language(self, request: Request, to: str = "", next: str = "/forms") -> Response:
        """Remember the chosen language in a cookie (the request middleware reads it)."""
        response = Redirect(safe_next(next), status_code=303)
        if to in SUPPORTED_LOCALES:
            response.set_cookie("lang", to, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                                secure=request.app.state.settings.secure_cookies)
        return response
