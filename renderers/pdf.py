"""Paper: the print HTML of a form (blank or filled) and its PDF through WeasyPrint.

WeasyPrint reads `file://` URLs by default (docs/SECURITY.md F6); every render here goes
through `DenyFetcher`, which serves only data: URLs. The CSS is inlined, so nothing
else is ever fetched.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

from markupsafe import Markup
from pypdf import PdfWriter
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from renderers.environment import render
from renderers.forms import PRINT, LedgerRow, render_layout, render_ledger
from renderers.plan import plan_for
from server.definitions import Definition
from server.settings import STATIC_DIR


class FetchRefused(ValueError):
    pass


class DenyFetcher(URLFetcher):
    """Only inline `data:` URLs (F6). WeasyPrint 70 wants a URLFetcher object: a plain function breaks
    its error handling."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if url[:5].lower() != "data:":
            raise FetchRefused(f"refused to fetch {url[:80]!r}")
        return super().fetch(url, headers)


def deny_fetcher(url: str, *args: Any, **kwargs: Any) -> Any:
    """Allow only inline data: URLs; local files and the network are refused."""
    return DenyFetcher().fetch(url)


@lru_cache(maxsize=1)
def print_css() -> str:
    path = STATIC_DIR / "css" / "print.css"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def css_string(text: str) -> Markup:
    """A CSS string literal for <style>: quotes, backslashes and < escaped the CSS way, not HTML's."""
    escaped = str(text).replace("\\", "\\5C ").replace('"', "\\22 ").replace("<", "\\3C ").replace("\n", " ")
    return Markup('"' + escaped + '"')


def counter_css(template: str) -> str:
    """CSS `content` from a translated "Page {page} of {pages}": strings around page counters."""
    parts = []
    for piece in re.split(r"(\{page\}|\{pages\})", template):
        if piece == "{page}":
            parts.append("counter(page)")
        elif piece == "{pages}":
            parts.append("counter(pages)")
        elif piece:
            parts.append(css_string(piece))
    return Markup(" ".join(parts))


def print_html(definition: Definition, data: dict | None = None, *, context: dict[str, str] | None = None,
               blank: bool = False, hidden: frozenset[str] = frozenset(), linked: dict | None = None) -> str:
    """`linked`: the students a group record is linked to (server.linked_students.linked_list), listed after the form."""
    plan = plan_for(definition)
    body = render_layout(definition, PRINT, data or {}, context=context or {}, blank=blank, hidden=hidden)
    return render("print.html", plan=plan, body=body, context=context or {}, blank=blank, linked=linked,
                  css=Markup(print_css()), css_string=css_string, counter_css=counter_css)


def ledger_print_html(definition: Definition, rows: list[LedgerRow], *, context: dict[str, str], note: str = "") -> str:
    """A ledger form (台账) as the handbook keeps it: one table, a row per record, headings on every page;
    `note` says which records it holds (the list's filters)."""
    plan = plan_for(definition)
    body = render_ledger(definition, rows, context=context)
    return render("print.html", plan=plan, body=body, context=context, blank=False, note=note, linked=None,
                  css=Markup(print_css()), css_string=css_string, counter_css=counter_css)


def html_to_pdf(html: str) -> bytes:
    """CPU-bound: call from a worker thread or process, never on the event loop."""
    return HTML(string=html, url_fetcher=DenyFetcher(), base_url=None).write_pdf()


def page_count(html: str) -> int:
    """How many paper pages the HTML lays out to (the editor's preview), without writing the PDF."""
    return len(HTML(string=html, url_fetcher=DenyFetcher(), base_url=None).render().pages)


def write_pdf_file(html: str, path: str) -> int:
    """Render to a file readable by this account only and return its page count. Runs in a print worker
    process (the batch printer's pool): only a string goes in and a number comes back."""
    document = HTML(string=html, url_fetcher=DenyFetcher(), base_url=None).render()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        document.write_pdf(out)
    return len(document.pages)


def merge_pdf_files(parts: list[tuple[str, str]], path: str) -> int:
    """Bind (file, title) PDFs into one, each under an outline item of its title that holds its own
    outline; return the page count. Each part keeps its own page numbers (a file per student)."""
    writer = PdfWriter()
    for part, title in parts:
        writer.append(part, outline_item=title)
    writer.page_mode = "/UseOutlines"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        writer.write(out)
    return len(writer.pages)
