"""Log in and out, and pick the interface language."""

from __future__ import annotations

import time

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from server import audit
from server.auth import authenticate_password, hash_password
from server.models import ApiToken, User
from server.passwords import password_problem
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
        user, account = await authenticate_password(username, password)
        if user is None:
            # a known account is named by id; what was typed is never kept (it may be a password typed in the wrong box)
            await audit.append("login", f"user:{account.id}" if account else "", user=account, result="failed",
                               actor_name="" if account else "unknown", scope=request.scope)
            return page(request, "pages/login.html", status_code=401, next=safe_next(str(form.get("next", ""))),
                        error=_("The user name or password is not correct."), username=username)
        rotate_session(request, {"user_id": user.id, "seen": int(time.time())})
        await audit.append("login", f"user:{user.id}", user=user, scope=request.scope)
        return Redirect(safe_next(str(form.get("next", "/forms"))), status_code=303)

    @get("/account/password")
    async def password_page(self, request: Request) -> Response:
        return page(request, "pages/password.html", errors={}, forced=request.user.must_change_password)

    @post("/account/password", status_code=200)
    async def change_password(self, request: Request) -> Response:
        """A new password ends every other session of the user; this one continues under a new id."""
        user = request.user
        form = await request.form()
        current = str(form.get("current", ""))[:1024]
        new, repeated = str(form.get("new", ""))[:1024], str(form.get("repeat", ""))[:1024]
        errors = {}
        if (await authenticate_password(user.username, current))[0] is None:
            errors["current"] = _("The current password is not correct.")
        elif problem := password_problem(new, user.username):
            errors["new"] = problem
        elif new == current:
            errors["new"] = _("Choose a password different from the current one.")
        elif new != repeated:
            errors["repeat"] = _("The two new passwords differ.")
        if errors:
            await audit.append("password", f"user:{user.id}", user=user, result="failed", scope=request.scope)
            return page(request, "pages/password.html", status_code=422, errors=errors, forced=user.must_change_password)
        await User.filter(id=user.id).update(password_hash=hash_password(new), must_change_password=False)
        await end_sessions(user.id)
        await ApiToken.filter(user_id=user.id).delete()  # a token made with the old password stops working too
        rotate_session(request, {"user_id": user.id, "seen": int(time.time())})
        await audit.append("password", f"user:{user.id}", user=user, scope=request.scope)
        return Redirect("/forms", status_code=303)

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
