"""Log in and out, and pick the interface language."""

from __future__ import annotations

import time

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from server import audit, second_factor
from server.accounts import agreement_missing, agreement_words
from server.auth import ABSOLUTE_SECONDS, authenticate_password, hash_password
from server.models import ApiToken, User
from server.passwords import password_problem
from server.sessions import end_sessions, rotate_session
from server.i18n import SUPPORTED_LOCALES, gettext as _
from server.web import page

SECOND_STEP_SECONDS = 5 * 60  # the password was right this long ago at most when the code comes


def safe_next(target: str) -> str:
    """Only local paths: never redirect a login to another site."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/forms"


class AuthPages(Controller):
    @get("/login")
    async def login_page(self, request: Request, next: str = "/forms") -> Response:
        return page(request, "pages/login.html", next=safe_next(next), error="", username="")

    @post("/session/keepalive", status_code=200)
    async def keep_alive(self, request: Request) -> Response:
        """Typing on an entry page keeps its session from idling out (static/js/entry.js asks at most every few
        minutes, and only while someone types); the absolute limit still ends it. Says how long is left."""
        now = int(time.time())
        return Response({"ends_in": max(0, ABSOLUTE_SECONDS - (now - int(request.session.get("since", now))))})

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
        target = safe_next(str(form.get("next", "/forms")))
        forms = await request.app.state.forms.school_forms(user.school_id)
        if await agreement_missing(forms, user):
            await audit.append("login", f"user:{user.id}", user=user, result="failed", detail="no agreement", scope=request.scope)
            return page(request, "pages/login.html", status_code=403, next=target, username=username,
                        error=_("Your account is not open yet: the school opens an account once the holder's 《%(form)s》 is "
                                "recorded and in force. Please ask the school's office.", form=agreement_words(forms).get("form", "")))
        if user.totp_secret:  # the password was right; the code from the authenticator comes next
            rotate_session(request, {"pending_user": user.id, "pending_since": int(time.time()), "next": target})
            return Redirect("/login/code", status_code=303)
        return await self._signed_in(request, user, target)

    async def _signed_in(self, request: Request, user: User, target: str) -> Response:
        now = int(time.time())
        rotate_session(request, {"user_id": user.id, "seen": now, "since": now})
        await audit.append("login", f"user:{user.id}", user=user, scope=request.scope)
        return Redirect(target, status_code=303)

    async def _pending_user(self, request: Request) -> User | None:
        """Whose password was right a moment ago, on this browser."""
        session = request.scope.get("session") or {}
        user_id, since = session.get("pending_user"), session.get("pending_since", 0)
        if type(user_id) is not int or time.time() - since > SECOND_STEP_SECONDS:
            return None
        return await User.get_or_none(id=user_id, is_active=True).select_related("school")

    @get("/login/code")
    async def code_page(self, request: Request) -> Response:
        if await self._pending_user(request) is None:
            return Redirect("/login", status_code=303)
        return page(request, "pages/login_code.html", error="")

    @post("/login/code", status_code=200)
    async def check_code(self, request: Request) -> Response:
        user = await self._pending_user(request)
        if user is None:
            return Redirect("/login", status_code=303)
        form = await request.form()
        code = str(form.get("code", ""))[:20]
        if not await second_factor.accept_code(user, code):
            await audit.append("login", f"user:{user.id}", user=user, result="failed", detail="second factor", scope=request.scope)
            return page(request, "pages/login_code.html", status_code=401,
                        error=_("The code is not correct or was used already. Wait for the next code and try again."))
        return await self._signed_in(request, user, safe_next(str(request.session.get("next", "/forms"))))

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
        now = int(time.time())
        rotate_session(request, {"user_id": user.id, "seen": now, "since": int(request.session.get("since", now))})
        await audit.append("password", f"user:{user.id}", user=user, scope=request.scope)
        return Redirect("/forms", status_code=303)

    @get("/account/totp")
    async def second_factor_page(self, request: Request) -> Response:
        """Set up the authenticator (a new secret, kept in the session until a code confirms it), or see it is on."""
        user = request.user
        if user.totp_secret:
            return page(request, "pages/totp.html", enabled=True, required=await second_factor.required_for(user), error="")
        secret = request.session.get("totp_setup") or second_factor.new_secret()
        request.session["totp_setup"] = secret
        return self._setup_page(request, secret, "")

    def _setup_page(self, request: Request, secret: str, error: str, status_code: int = 200) -> Response:
        user = request.user
        return page(request, "pages/totp.html", status_code=status_code, enabled=False, error=error, secret=secret,
                    qr=second_factor.setup_qr(secret, user.username), required=bool(second_factor.required_roles(user, user.school)))

    @post("/account/totp/setup", status_code=200)
    async def second_factor_setup(self, request: Request) -> Response:
        user = request.user
        secret = request.session.get("totp_setup")
        if user.totp_secret or not isinstance(secret, str):
            return Redirect("/account/totp", status_code=303)
        code = str((await request.form()).get("code", ""))[:20]
        step = second_factor.matching_step(secret, code)
        if step is None:
            return self._setup_page(request, secret, _("The code is not correct. Check the phone's time and type the code the app shows now."), 422)
        await User.filter(id=user.id).update(totp_secret=secret, totp_last_step=step)
        await end_sessions(user.id)  # other devices sign in again, now with the code
        rotate_session(request, {"user_id": user.id, "seen": int(time.time())})
        await audit.append("permission", f"user:{user.id}", user=user, detail="second factor on", scope=request.scope)
        return Redirect("/account/totp?done=1", status_code=303)

    @post("/account/totp/off", status_code=200)
    async def second_factor_off(self, request: Request) -> Response:
        user = request.user
        required = await second_factor.required_for(user)
        code = str((await request.form()).get("code", ""))[:20]
        if required or not user.totp_secret or not await second_factor.accept_code(user, code):
            await audit.append("permission", f"user:{user.id}", user=user, result="denied", detail="second factor off", scope=request.scope)
            error = _("The school requires a second factor for your role.") if required else _("The code is not correct or was used already. Wait for the next code and try again.")
            return page(request, "pages/totp.html", status_code=422, enabled=bool(user.totp_secret), required=required, error=error)
        await User.filter(id=user.id).update(totp_secret=None, totp_last_step=None)
        await audit.append("permission", f"user:{user.id}", user=user, detail="second factor off", scope=request.scope)
        return Redirect("/account/totp", status_code=303)

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
