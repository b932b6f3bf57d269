"""The printed blank handbook: cover, contents, the school's charter and usage notes, then every
blank form under its part, numbered as the paper handbook's table of contents.

The forms section must start on the handbook's page (28) whatever the length of the front
matter. WeasyPrint resets the page counter only from an `@page` rule, so the front matter is laid
out once on its own to count its pages, and the whole book is then laid out with
`@page :nth(<first form page>) { counter-reset: page 28 }`. The contents read their numbers
from the real layout with `target-counter`; parts and forms become the PDF outline.
"""

from __future__ import annotations

import datetime as dt
import io

from markupsafe import Markup
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML

from renderers.environment import render
from renderers.forms import PRINT, render_layout
from renderers.pdf import DenyFetcher, counter_css, print_css
from renderers.plan import plan_for
from server.i18n import local_today
from server.registry import Registry

SHORT_LINE = 30  # a line this short without sentence punctuation is a heading in the charter text
SENTENCE_PUNCTUATION = frozenset("。，；！？,;!?")


def first_form_page(registry: Registry) -> int:
    page = registry.catalog.get("first_form_page", 1)
    return page if isinstance(page, int) and not isinstance(page, bool) and 0 < page < 10_000 else 1


def text_blocks(text: str) -> list[tuple[str, str]]:
    """Plain text typed by an admin → ("heading" | "paragraph", line). Never HTML."""
    blocks = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        heading = len(line) <= SHORT_LINE and not SENTENCE_PUNCTUATION.intersection(line)
        blocks.append(("heading" if heading else "paragraph", line))
    return blocks


def handbook_html(registry: Registry, *, school_name: str, charter: str, notes: str, other_title: str,
                  forms_from_page: int | None, with_forms: bool = True, printed_on: dt.date | None = None) -> str:
    parts = registry.parts  # forms outside the catalog (a school's own) come last, titled `other_title`
    forms = [form for part in parts for form in part.forms]
    return render(
        "handbook.html",
        title=registry.catalog.get("title", ""),
        school_name=school_name,
        charter=text_blocks(charter),
        notes=text_blocks(notes),
        parts=parts,
        other_title=other_title,
        bodies={form.form_id: render_layout(form, PRINT, {}, blank=True) for form in forms} if with_forms else {},
        plans={form.form_id: plan_for(form) for form in forms},
        pages=[(f"form-{p}-{f}", plan_for(form)) for p, part in enumerate(parts, 1) for f, form in enumerate(part.forms, 1)],
        with_forms=with_forms,
        forms_from_page=forms_from_page,
        first_form_page=first_form_page(registry),
        printed_on=printed_on or local_today(),
        css=Markup(print_css()),
        counter_css=counter_css,
    )


def handbook_pdf(registry: Registry, *, school_name: str, charter: str = "", notes: str = "", other_title: str = "",
                 printed_on: dt.date | None = None) -> bytes:
    """CPU-bound (a few seconds): call from a worker thread or process."""
    common = dict(school_name=school_name, charter=charter, notes=notes, other_title=other_title, printed_on=printed_on)
    front = _layout(handbook_html(registry, forms_from_page=None, with_forms=False, **common))
    forms_from_page = len(front.pages) + 1
    book = _layout(handbook_html(registry, forms_from_page=forms_from_page, **common))
    first = _first_form_page(book, registry)
    if first is not None and first != forms_from_page:  # the front matter came out longer in the whole book
        forms_from_page = first
        book = _layout(handbook_html(registry, forms_from_page=forms_from_page, **common))
    return with_page_labels(book.write_pdf(), forms_from_page - 1, first_form_page(registry))


def with_page_labels(pdf: bytes, front_pages: int, first_number: int) -> bytes:
    """PDF page labels, so a viewer's "go to page 54" opens the paper handbook's page 54."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    if front_pages:
        writer.set_page_label(0, front_pages - 1, style="/r", start=1)
    if len(writer.pages) > front_pages:
        writer.set_page_label(front_pages, len(writer.pages) - 1, style="/D", start=first_number)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _layout(html: str):
    return HTML(string=html, url_fetcher=DenyFetcher(), base_url=None).render()


def _first_form_page(document, registry: Registry) -> int | None:
    """The page (counted from 1) where the first form begins in a laid-out book."""
    first = next((form for part in registry.parts for form in part.forms), None)
    if first is None:
        return None
    anchor = "form-" + first.form_id
    return next((number for number, page in enumerate(document.pages, start=1) if anchor in page.anchors), None)
