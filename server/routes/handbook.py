"""The printed blank handbook, and the school's own front matter for it (administrators only)."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from renderers.handbook import handbook_pdf
from server import audit
from server.i18n import current_locale, gettext as _, local_today
from server.models import School
from server.validation import CONTROL_CHARS, form_text
from server.web import admin_only, page, pdf_response, registry, school_of

MAX_TEXT_CHARS = 50_000  # the paper handbook's charter and notes together are about 25 000 characters
TEXT_FIELDS = ("handbook_charter", "handbook_notes")


class HandbookCache:
    """Blank handbooks already made. A book takes seconds of CPU and changes only when an
    administrator edits the school's texts, the definitions change, or the day (on the cover) does."""

    LIMIT = 16  # about 1 MB each

    def __init__(self) -> None:
        self.books: dict[tuple, bytes] = {}
        self.lock: anyio.Lock | None = None

    async def get(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        if key in self.books:
            return self.books[key]
        if self.lock is None:
            self.lock = anyio.Lock()
        async with self.lock:  # one book at a time (CPU-bound): many users asking at once cost one render
            if key not in self.books:
                if len(self.books) >= self.LIMIT:
                    self.books.pop(next(iter(self.books)))
                self.books[key] = await anyio.to_thread.run_sync(make)
            return self.books[key]


def make_handbook(request_registry, school: School, locale: str, today: dt.date) -> Callable[[], bytes]:
    def make() -> bytes:
        current_locale.set(locale)  # the worker thread gets the request's language
        return handbook_pdf(request_registry, school_name=school.name, charter=school.handbook_charter,
                            notes=school.handbook_notes, other_title=_("Other forms"), printed_on=today)
    return make


class HandbookPages(Controller):
    @get("/handbook.pdf")
    async def blank_handbook(self, request: Request) -> Response:
        school = await school_of(request.user)
        forms = (await registry(request))
        locale, today = current_locale.get(), local_today()
        key = (forms.versions or id(forms), school.id, school.name, school.handbook_charter, school.handbook_notes, repr(school.risk_levels), locale, today)
        pdf = await request.app.state.handbook_cache.get(key, make_handbook(forms, school, locale, today))
        await audit.append("print", "handbook", user=request.user, scope=request.scope)
        title = forms.catalog.get("title") or _("Handbook")
        return pdf_response(pdf, f"{title}.pdf", "handbook.pdf")

    @get("/admin/handbook", guards=[admin_only])
    async def texts_page(self, request: Request) -> Response:
        school = await school_of(request.user)
        return page(request, "pages/handbook_texts.html", texts={f: getattr(school, f) for f in TEXT_FIELDS},
                    errors={}, saved=request.query_params.get("saved") == "1", limit=MAX_TEXT_CHARS)

    @post("/admin/handbook", guards=[admin_only], status_code=200)
    async def save_texts(self, request: Request) -> Response:
        school = await school_of(request.user)
        form = await request.form()
        texts = {f: form_text(form, f).replace("\r\n", "\n").strip() for f in TEXT_FIELDS}
        errors = {}
        for name, text in texts.items():
            if len(text) > MAX_TEXT_CHARS:
                errors[name] = _("Please enter at most %(limit)s characters (now %(count)s).", limit=MAX_TEXT_CHARS, count=len(text))
            elif CONTROL_CHARS.search(text):
                errors[name] = _("This answer contains invisible control characters.")
        if errors:
            return page(request, "pages/handbook_texts.html", status_code=422, texts=texts, errors=errors, saved=False,
                        limit=MAX_TEXT_CHARS)
        for name, text in texts.items():
            setattr(school, name, text)
        await school.save(update_fields=list(TEXT_FIELDS))
        await audit.append("settings", f"school:{school.id}", user=request.user, detail="handbook texts", scope=request.scope)
        return Redirect("/admin/handbook?saved=1", status_code=303)
