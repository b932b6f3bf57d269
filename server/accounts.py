"""Staff accounts: the rules the admin pages and `xindang user create` share, and the gates an
account passes at sign-in (a recorded confidentiality agreement, a second factor).

Every change of who may do what is audited as `permission`, and ends the user's sessions:
their next request signs in again under the new rights (F1: a new session id at privilege change).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from server import audit
from server.access import ROLES
from server.auth import hash_password
from server.i18n import gettext as _, local_today
from server.models import ApiToken, Record, School, SchoolClass, User
from server.passwords import password_problem
from server.registry import Registry
from server.validation import CONTROL_CHARS
from server.sessions import end_sessions

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}")  # (fullmatch) typed at every sign-in: plain letters, digits and . _ - @
MAX_DISPLAY_NAME = 100


@dataclass
class AccountChange:
    """What an administrator asks for one account (new or existing)."""

    display_name: str
    roles: list[str]
    class_ids: list[int]
    is_active: bool = True


async def account_problems(school: School, change: AccountChange, *, username: str | None = None,
                           password: str | None = None, user: User | None = None) -> dict[str, str]:
    """{field: message} for everything wrong with this change; empty when it may be saved."""
    problems: dict[str, str] = {}
    if username is not None:
        if not USERNAME.fullmatch(username):
            problems["username"] = _("A user name has 1 to 80 letters, digits or . _ - @, starting with a letter or digit.")
        elif await User.filter(username=username).exists():
            problems["username"] = _("The user name %(username)s is taken.", username=username)
    if not change.display_name.strip() or len(change.display_name) > MAX_DISPLAY_NAME or CONTROL_CHARS.search(change.display_name):
        problems["display_name"] = _("Enter the person's name (at most %(count)s characters).", count=MAX_DISPLAY_NAME)
    unknown = [role for role in change.roles if role not in ROLES]
    if unknown:
        problems["roles"] = _("Unknown role: %(role)s (use %(roles)s).", role=", ".join(unknown), roles=", ".join(ROLES))
    elif not change.roles:
        problems["roles"] = _("Choose at least one role.")
    found = set(await SchoolClass.filter(id__in=change.class_ids, school=school).values_list("id", flat=True)) if change.class_ids else set()
    if unknown_classes := sorted(set(change.class_ids) - found):
        problems["classes"] = _("Unknown class id for this school: %(ids)s", ids=", ".join(map(str, unknown_classes)))
    elif any(ROLES.get(role) == "classes" for role in change.roles) and not change.class_ids:
        problems["classes"] = _("A homeroom or subject teacher needs at least one class.")
    if password is not None and (problem := password_problem(password, username or (user.username if user else ""))):
        problems["password"] = problem
    return problems


async def create_account(school: School, username: str, change: AccountChange, password: str, *,
                         must_change: bool = True, by: User | None = None, scope: dict | None = None) -> User:
    """A new account with an initial password (which its owner replaces at first sign-in)."""
    password_hash = hash_password(password)
    async with audit.transaction() as log:  # the account, its classes and the audit entry: all or nothing
        created = await User.create(school=school, username=username, display_name=change.display_name.strip(),
                                    password_hash=password_hash, roles=sorted(set(change.roles)),
                                    must_change_password=must_change, is_active=change.is_active)
        if change.class_ids:
            await created.classes.add(*await SchoolClass.filter(id__in=change.class_ids, school=school))
        await log.append("permission", f"user:{created.id}", user=by, actor_name="" if by else "cli", school_id=school.id,
                         detail=f"create {_rights(change)}", scope=scope)
    return created


async def update_account(user: User, change: AccountChange, *, by: User, scope: dict | None = None) -> bool:
    """Save the change; True when rights changed (the user's sessions then end)."""
    before = AccountChange(user.display_name, sorted(user.roles or []), sorted(c.id for c in await user.classes.all()), user.is_active)
    after = AccountChange(change.display_name.strip(), sorted(set(change.roles)), sorted(set(change.class_ids)), change.is_active)
    if before == after:
        return False
    rights_changed = (before.roles, before.class_ids, before.is_active) != (after.roles, after.class_ids, after.is_active)
    async with audit.transaction() as log:
        user.display_name, user.roles, user.is_active = after.display_name, after.roles, after.is_active
        await user.save(update_fields=["display_name", "roles", "is_active"])
        if before.class_ids != after.class_ids:
            await user.classes.clear()
            if after.class_ids:
                await user.classes.add(*await SchoolClass.filter(id__in=after.class_ids, school_id=user.school_id))
        if rights_changed:
            await end_sessions(user.id)
            if not after.is_active:
                await ApiToken.filter(user_id=user.id).delete()
        await log.append("permission", f"user:{user.id}", user=by, scope=scope,
                         detail=f"{_rights(before)} -> {_rights(after)}" if rights_changed else "name")
    return rights_changed


def _rights(change: AccountChange) -> str:
    state = "" if change.is_active else " disabled"
    return f"roles={','.join(sorted(change.roles))} classes={','.join(map(str, sorted(change.class_ids)))}{state}"


def initial_password() -> str:
    """A one-time password an administrator hands over (its owner must replace it at first sign-in)."""
    words = secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
    return f"{words[:4]}-{words[4:8]}-{words[8:12]}-{words[12:16]}"


async def reset_password(user: User, *, by: User, scope: dict | None = None) -> str:
    password = initial_password()
    password_hash = hash_password(password)
    async with audit.transaction() as log:
        await User.filter(id=user.id).update(password_hash=password_hash, must_change_password=True,
                                             failed_logins=0, locked_until=None)
        await end_sessions(user.id)
        await ApiToken.filter(user_id=user.id).delete()
        await log.append("permission", f"user:{user.id}", user=by, detail="password reset", scope=scope)
    return password


async def reset_second_factor(user: User, *, by: User, scope: dict | None = None) -> None:
    """For a lost phone: the user sets up a new authenticator at the next sign-in (when required)."""
    async with audit.transaction() as log:
        await User.filter(id=user.id).update(totp_secret=None, totp_last_step=None, totp_failures=0, totp_locked_until=None)
        await end_sessions(user.id)
        await log.append("permission", f"user:{user.id}", user=by, detail="second factor reset", scope=scope)


# --- the staff agreement (a form declaring `x-account-agreement`) that opens an account ------------

def agreement_words(registry: Registry) -> dict[str, str]:
    """How pages name the agreement: its form's title and the titles of its fields (from the definition)."""
    for form_id, names in agreement_forms(registry).items():
        fields = registry.get(form_id).fields
        return {"form": registry.get(form_id).title, "form_id": form_id,
                **{key: fields[name].title for key, name in names.items() if name in fields}}
    return {}


def agreement_forms(registry: Registry) -> dict[str, dict]:
    """Forms whose records are staff agreements: {form_id: their `x-account-agreement` field names}."""
    return {form_id: d.schema["x-account-agreement"] for form_id, d in registry.forms.items()
            if isinstance(d.schema.get("x-account-agreement"), dict)}


async def valid_agreements(registry: Registry, school_id: int, today: dt.date | None = None) -> dict[str, Record]:
    """{account name: its agreement in force today}: signed (a finished record), begun, not past its
    end date and the account not closed on it."""
    today = today or local_today()
    found: dict[str, Record] = {}
    for form_id, names in agreement_forms(registry).items():
        for record in await Record.filter(school_id=school_id, form_id=form_id, status="done").order_by("id"):
            account = record.data.get(names["account"])
            if isinstance(account, str) and account and _in_force(record.data, names, today):
                found[account] = record
    return found


def _in_force(data: dict[str, Any], names: dict[str, str], today: dt.date) -> bool:
    def day(key: str) -> dt.date | None:
        value = data.get(names.get(key, ""))
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    start, end, closed = day("from"), day("to"), day("closed")
    return (start is None or start <= today) and (end is None or today <= end) and (closed is None or today < closed)


async def agreement_missing(registry: Registry, user: User) -> bool:
    """True when the school opens accounts only on a recorded agreement and this one has none in force."""
    school = user.school if isinstance(user.school, School) else await user.school
    if not school.require_agreement:
        return False
    return user.username not in await valid_agreements(registry, school.id)
