"""The audit log page (校领导 and 系统管理员): who did what, to which record or student, and when."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get

from server import audit
from server.access import role_names
from server.i18n import display_timezone, gettext as _
from server.models import AuditEntry
from server.records import is_iso_date
from server.validation import small_int
from server.web import audit_readers, page, school_of

PAGE_SIZE = 100


def action_names() -> dict[str, str]:
    return {"login": _("Log in"), "logout": _("Log out"), "read": _("View"), "list": _("List or search"),
            "print": _("Print"), "export": _("Export"), "create": _("Create"), "edit": _("Open for editing"),
            "update": _("Save a change"), "settings": _("Change settings"), "permission": _("Change permissions"), "password": _("Change password"), "backup": _("Back up"), "restore": _("Restore"),
            "open": _("Open a page"), "import": _("Import"), "roster": _("Change the roster")}


def result_names() -> dict[str, str]:
    return {"ok": _("Done"), "denied": _("Refused"), "failed": _("Failed")}


class AuditPages(Controller):
    @get("/admin/audit", guards=[audit_readers])
    async def audit_log(self, request: Request) -> Response:
        school = await school_of(request.user)
        params = request.query_params
        filters = {key: params.get(key, "")[:100] for key in ("actor", "action", "target", "from", "to")}
        query = AuditEntry.filter(school_id=school.id)
        if filters["actor"]:
            query = query.filter(actor=filters["actor"])
        if filters["action"] in action_names():
            query = query.filter(action=filters["action"])
        if filters["target"]:
            query = query.filter(target=filters["target"])
        for key, lookup in (("from", "at__gte"), ("to", "at__lt")):
            if is_iso_date(filters[key]):
                day = dt.date.fromisoformat(filters[key]) + dt.timedelta(days=1 if key == "to" else 0)
                query = query.filter(**{lookup: dt.datetime.combine(day, dt.time(), display_timezone())})
        total = await query.count()
        before = small_int(params.get("before", ""))
        if before:
            query = query.filter(id__lt=before)
        entries = await query.order_by("-id").limit(PAGE_SIZE + 1)
        more = len(entries) > PAGE_SIZE
        entries = entries[:PAGE_SIZE]
        await audit.append("read", "audit", user=request.user, scope=request.scope)
        next_query = urlencode({**filters, "before": entries[-1].id}) if more else ""
        return page(request, "pages/audit.html", entries=entries, total=total, filters=filters, more=more,
                    next_query=next_query, actions=list(action_names().items()), action_names=action_names(),
                    result_names=result_names(), role_names=role_names())
