"""The administrator's pages: staff accounts (roles, classes, disabling, password and second-factor
resets), signed-in sessions, and the school's security settings (second factor per role, accounts
opened by a recorded agreement, the names and colours of the risk levels). Every change is audited.

Account rules live in server.accounts; this module only reads forms and shows pages.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone

import orjson
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from server import audit
from server.access import ROLES, role_names
from server.accounts import (AccountChange, account_problems, agreement_words, create_account, initial_password, reset_password,
                             reset_second_factor, update_account, valid_agreements)
from server.i18n import gettext as _
from server.validation import CONTROL_CHARS
from server.models import School, SchoolClass, SessionEntry, User
from server.sessions import current_session_key, end_sessions
from server.web import admin_only, page, registry, school_of

DEFAULT_LEVELS = [("常规", "#2e7d32"), ("一般关注", "#f9a825"), ("重点关注", "#ef6c00"), ("高危", "#c62828")]
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")  # used with fullmatch
MAX_LEVEL_LABEL = 20


def session_handle(key: str) -> str:
    """How a page names a session: never its key (a page could leak it), a digest of it."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def form_strings(form, name: str) -> list[str]:
    """The text values posted under a name (a file part under that name is not one of them)."""
    return [value for value in form.getall(name, []) if isinstance(value, str)]


def form_change(form) -> AccountChange:
    """What the account form asks for; a class id that is not a number is kept as 0 (reported as unknown)."""
    class_ids = [int(v) if v.isascii() and v.isdigit() and len(v) < 10 else 0 for v in form_strings(form, "classes")]
    return AccountChange(display_name=str(form.get("display_name", ""))[:200],
                         roles=sorted({r[:40] for r in form_strings(form, "roles")})[:20], class_ids=sorted(set(class_ids))[:500],
                         is_active=form.get("is_active", "true") == "true")


async def school_user(school: School, user_id: int) -> User:
    """A user of this school, or the same 404 as one that does not exist."""
    user = await User.get_or_none(id=user_id, school_id=school.id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFoundException(_("There is no such user."))
    return user


async def sessions_of(school: School, user_ids: list[int] | None = None) -> list[dict]:
    """The school's live sessions: whose, last active, ends at."""
    users = {u.id: u for u in await User.filter(school_id=school.id, **({"id__in": user_ids} if user_ids is not None else {}))}
    now = datetime.now(timezone.utc)
    rows = []
    for entry in await SessionEntry.filter(user_id__in=list(users)).order_by("-expires_at"):
        if entry.expires_at and entry.expires_at <= now:
            continue
        try:
            seen = orjson.loads(bytes(entry.data)).get("seen")
        except (orjson.JSONDecodeError, AttributeError):
            seen = None
        rows.append({"handle": session_handle(entry.key), "user": users[entry.user_id], "expires_at": entry.expires_at,
                     "seen": datetime.fromtimestamp(seen, timezone.utc) if isinstance(seen, int) else None})
    return rows


class AdminPages(Controller):
    path = "/admin"
    guards = [admin_only]

    # --- accounts ---------------------------------------------------------------------------

    @get("/users")
    async def users_page(self, request: Request) -> Response:
        school = await school_of(request.user)
        users = await User.filter(school_id=school.id).order_by("username").prefetch_related("classes")
        agreements = await valid_agreements((await registry(request)), school.id) if school.require_agreement else {}
        live = {row["user"].id for row in await sessions_of(school)}
        await audit.append("list", "users", user=request.user, scope=request.scope)
        return page(request, "pages/admin_users.html", users=users, words=agreement_words((await registry(request))), role_names=role_names(), agreements=agreements,
                    school=school, live=live, now=datetime.now(timezone.utc))

    @get("/users/new")
    async def new_user(self, request: Request) -> Response:
        school = await school_of(request.user)
        return await self._user_form(request, school, None, AccountChange("", [], []), {}, username="")

    @post("/users", status_code=200)
    async def create_user(self, request: Request) -> Response:
        school = await school_of(request.user)
        form = await request.form()
        change, username = form_change(form), str(form.get("username", "")).strip()[:200]
        password = initial_password()
        problems = await account_problems(school, change, username=username)
        if problems:
            return await self._user_form(request, school, None, change, problems, username=username, status_code=422)
        created = await create_account(school, username, change, password, by=request.user, scope=request.scope)
        return page(request, "pages/admin_password.html", target=created, password=password, created=True)

    @get("/users/{user_id:int}")
    async def user_page(self, request: Request, user_id: int) -> Response:
        school = await school_of(request.user)
        target = await school_user(school, user_id)
        await audit.append("read", f"user:{target.id}", user=request.user, scope=request.scope)
        change = AccountChange(target.display_name, list(target.roles or []), [c.id for c in await target.classes.all()],
                               target.is_active)
        return await self._user_form(request, school, target, change, {}, saved=request.query_params.get("saved", ""))

    @post("/users/{user_id:int}", status_code=200)
    async def save_user(self, request: Request, user_id: int) -> Response:
        school = await school_of(request.user)
        target = await school_user(school, user_id)
        change = form_change(await request.form())
        problems = await account_problems(school, change, user=target)
        if target.id == request.user.id and (sorted(set(change.roles)), sorted(set(change.class_ids)), change.is_active) != \
                (sorted(target.roles or []), sorted(c.id for c in await target.classes.all()), target.is_active):
            problems["roles"] = _("Your own roles, classes and status are changed by another administrator (no one grants themselves rights).")
        if problems:
            return await self._user_form(request, school, target, change, problems, status_code=422)
        await update_account(target, change, by=request.user, scope=request.scope)
        return Redirect(f"/admin/users/{target.id}?saved=1", status_code=303)

    @post("/users/{user_id:int}/password", status_code=200)
    async def reset_user_password(self, request: Request, user_id: int) -> Response:
        school = await school_of(request.user)
        target = await school_user(school, user_id)
        if target.id == request.user.id:
            return Redirect("/account/password", status_code=303)
        password = await reset_password(target, by=request.user, scope=request.scope)
        return page(request, "pages/admin_password.html", target=target, password=password, created=False)

    @post("/users/{user_id:int}/totp", status_code=200)
    async def reset_user_second_factor(self, request: Request, user_id: int) -> Response:
        school = await school_of(request.user)
        target = await school_user(school, user_id)
        await reset_second_factor(target, by=request.user, scope=request.scope)
        return Redirect(f"/admin/users/{target.id}?saved=totp", status_code=303)

    @post("/users/{user_id:int}/sessions", status_code=200)
    async def end_user_sessions(self, request: Request, user_id: int) -> Response:
        school = await school_of(request.user)
        target = await school_user(school, user_id)
        ended = await end_sessions(target.id)
        await audit.append("permission", f"user:{target.id}", user=request.user, detail=f"ended {ended} sessions", scope=request.scope)
        return Redirect("/login" if target.id == request.user.id else f"/admin/users/{target.id}?saved=sessions", status_code=303)

    async def _user_form(self, request: Request, school: School, target: User | None, change: AccountChange,
                         problems: dict[str, str], username: str = "", saved: str = "", status_code: int = 200) -> Response:
        classes = await SchoolClass.filter(school_id=school.id).order_by("-school_year", "grade", "name")
        sessions = await sessions_of(school, [target.id]) if target else []
        agreement = None
        if target and school.require_agreement:
            agreement = (await valid_agreements((await registry(request)), school.id)).get(target.username)
        return page(request, "pages/admin_user.html", status_code=status_code, target=target, change=change,
                    problems=problems, username=username, classes=classes, roles=list(ROLES), role_names=role_names(),
                    class_bound=[r for r, reach in ROLES.items() if reach == "classes"], sessions=sessions, saved=saved,
                    school=school, agreement=agreement, words=agreement_words((await registry(request))))

    # --- sessions -------------------------------------------------------------------------

    @get("/sessions")
    async def sessions_page(self, request: Request) -> Response:
        school = await school_of(request.user)
        await audit.append("list", "sessions", user=request.user, scope=request.scope)
        return page(request, "pages/admin_sessions.html", sessions=await sessions_of(school),
                    mine=session_handle(current_session_key(request) or ""))

    @post("/sessions/end", status_code=200)
    async def end_session(self, request: Request) -> Response:
        school = await school_of(request.user)
        handle = str((await request.form()).get("session", ""))[:64]
        for row in await sessions_of(school):
            if row["handle"] == handle:
                for entry in await SessionEntry.filter(user_id=row["user"].id):
                    if session_handle(entry.key) == handle:
                        await entry.delete()
                await audit.append("permission", f"user:{row['user'].id}", user=request.user, detail="ended a session", scope=request.scope)
                break
        return Redirect("/admin/sessions", status_code=303)

    # --- the school's security settings ------------------------------------------------------

    @get("/security")
    async def security_settings(self, request: Request) -> Response:
        school = await school_of(request.user)
        return await self._security_page(request, school, list(school.totp_roles or []), school.require_agreement,
                                   levels_of(school), {}, saved=request.query_params.get("saved") == "1")

    @post("/security", status_code=200)
    async def save_security(self, request: Request) -> Response:
        school = await school_of(request.user)
        form = await request.form()
        totp_roles = sorted({r for r in form_strings(form, "totp_roles") if r in ROLES})
        words = agreement_words((await registry(request)))
        require_agreement = form.get("require_agreement") == "true" and bool(words)  # only with a form that records agreements
        levels = [{"label": str(form.get(f"level_{n}_label", "")).strip()[:200], "colour": str(form.get(f"level_{n}_colour", ""))[:20]}
                  for n in range(len(DEFAULT_LEVELS))]
        problems = {}
        for n, level in enumerate(levels):
            if not level["label"] or len(level["label"]) > MAX_LEVEL_LABEL:
                problems[f"level_{n}"] = _("Give each level a name of at most %(count)s characters.", count=MAX_LEVEL_LABEL)
            elif CONTROL_CHARS.search(level["label"]):
                problems[f"level_{n}"] = _("This answer contains invisible control characters.")
            elif not COLOUR.fullmatch(level["colour"]):
                problems[f"level_{n}"] = _("Choose a colour.")
        if require_agreement and not school.require_agreement and \
                request.user.username not in await valid_agreements((await registry(request)), school.id):
            problems["require_agreement"] = _("Have your own 《%(form)s》 recorded first, with your user name in %(account)s: otherwise this rule would lock you out.",
                                              form=words.get("form", ""), account=words.get("account", ""))
        closing: list[User] = []
        if require_agreement and not school.require_agreement and not problems:
            agreed = await valid_agreements((await registry(request)), school.id)
            closing = await User.filter(school_id=school.id, is_active=True).exclude(username__in=list(agreed) or [""]).order_by("username")
            if closing and form.get("confirm_closing") != "true":  # say whom the rule shuts out before it does
                problems["require_agreement"] = _("%(count)s active accounts have no agreement in force and will be signed out and kept out until one is recorded. Record their agreements first, or confirm below.", count=len(closing))
        if problems:
            return await self._security_page(request, school, totp_roles, require_agreement, levels, problems, status_code=422,
                                       closing=closing)
        before = (sorted(school.totp_roles or []), school.require_agreement, school.risk_levels)
        school.totp_roles, school.require_agreement, school.risk_levels = totp_roles, require_agreement, levels
        await school.save(update_fields=["totp_roles", "require_agreement", "risk_levels"])
        for user in closing:  # accounts without an agreement in force are signed out now
            await end_sessions(user.id)
        if (before[0], before[1]) != (totp_roles, require_agreement):
            await audit.append("permission", f"school:{school.id}", user=request.user, scope=request.scope,
                               detail=f"second factor for {','.join(totp_roles) or '-'}; agreement {'required' if require_agreement else 'not required'}")
        if before[2] != levels:
            await audit.append("settings", f"school:{school.id}", user=request.user, detail="risk levels", scope=request.scope)
        return Redirect("/admin/security?saved=1", status_code=303)

    async def _security_page(self, request: Request, school: School, totp_roles: list[str], require_agreement: bool,
                       levels: list[dict], problems: dict[str, str], saved: bool = False, status_code: int = 200,
                       closing: list[User] | None = None) -> Response:
        return page(request, "pages/admin_security.html", status_code=status_code, totp_roles=totp_roles, words=agreement_words((await registry(request))),
                    require_agreement=require_agreement, levels=levels, problems=problems, saved=saved,
                    roles=list(ROLES), role_names=role_names(), school=school, closing=closing or [])


def levels_of(school: School) -> list[dict]:
    stored = school.risk_levels or []
    return [stored[n] if n < len(stored) else {"label": label, "colour": colour} for n, (label, colour) in enumerate(DEFAULT_LEVELS)]
