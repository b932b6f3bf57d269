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
from dataclasses import dataclass

from markupsafe import Markup
from weasyprint import HTML

from renderers.environment import render
from renderers.forms import PRINT, render_layout
from renderers.pdf import DenyFetcher, counter_css, css_string, print_css
from renderers.plan import plan_for
from server.definitions import Definition
from server.registry import Registry

SHORT_LINE = 30  # a line this short without sentence punctuation is a heading in the charter text
SENTENCE_PUNCTUATION = frozenset("。，；！？,;!?")


@dataclass
class HandbookForm:
    definition: Definition
    part_title: str
    page: int | None  # the handbook's page for this form (catalog.json), None for a school's own form

    @property
    def anchor(self) -> str:
        return "form-" + self.definition.form_id


@dataclass
class HandbookPart:
    id: str
    title: str
    forms: list[HandbookForm]


def handbook_parts(registry: Registry, other_title: str) -> list[HandbookPart]:
    pages = {form["id"]: form.get("page") for part in registry.catalog.get("parts", []) for form in part.get("forms", [])}
    return [HandbookPart(part.id, part.title or other_title,
                         [HandbookForm(d, part.title or other_title, pages.get(d.form_id)) for d in part.forms])
            for part in registry.parts]


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
    parts = handbook_parts(registry, other_title)
    bodies = {}
    if with_forms:
        for part in parts:
            for form in part.forms:
                bodies[form.definition.form_id] = render_layout(form.definition, PRINT, {}, blank=True)
    return render(
        "handbook.html",
        title=registry.catalog.get("title", ""),
        school_name=school_name,
        charter=text_blocks(charter),
        notes=text_blocks(notes),
        parts=parts,
        bodies=bodies,
        plans={form.definition.form_id: plan_for(form.definition) for part in parts for form in part.forms},
        with_forms=with_forms,
        forms_from_page=forms_from_page,
        first_form_page=registry.catalog.get("first_form_page", 1),
        printed_on=printed_on or dt.date.today(),
        css=Markup(print_css()),
        css_string=css_string,
        counter_css=counter_css,
    )


def handbook_pdf(registry: Registry, *, school_name: str, charter: str = "", notes: str = "", other_title: str = "",
                 printed_on: dt.date | None = None) -> bytes:
    """CPU-bound (a few seconds): call from a worker thread or process."""
    common = dict(school_name=school_name, charter=charter, notes=notes, other_title=other_title, printed_on=printed_on)
    front = HTML(string=handbook_html(registry, forms_from_page=None, with_forms=False, **common),
                 url_fetcher=DenyFetcher(), base_url=None).render()
    book = handbook_html(registry, forms_from_page=len(front.pages) + 1, **common)
    return HTML(string=book, url_fetcher=DenyFetcher(), base_url=None).write_pdf()
