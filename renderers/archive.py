"""One student's whole file on paper (一生一档): a cover, the contents with page numbers, then every
record in handbook order, each in its own paper layout, under a running header that names the
student and a footer that counts the pages and marks them confidential. Parts and records become
the PDF outline.

The server decides which records and fields the reader may print; this module only lays them out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from markupsafe import Markup

from renderers.environment import render
from renderers.forms import PRINT, LedgerRow, render_layout, render_ledger
from renderers.pdf import counter_css, print_css
from renderers.plan import plan_for
from server.definitions import Definition


@dataclass
class ArchiveEntry:
    definition: Definition
    record_id: int
    label: str  # the record's number and date, as the contents show it
    data: dict
    context: dict[str, str]
    hidden: frozenset[str] = frozenset()
    ledger: list[LedgerRow] | None = None  # a ledger form's records: one ledger, a row each


@dataclass
class ArchivePart:
    title: str
    entries: list[ArchiveEntry] = field(default_factory=list)


def archive_html(*, title: str, school_name: str, student: dict[str, str], parts: list[ArchivePart],
                 printed_on: dt.date, cover: bool = True) -> str:
    """`cover=False`: the records alone, under the same running header (one form printed for a class)."""
    entries = [entry for part in parts for entry in part.entries]
    return render(
        "archive.html",
        title=title,
        school_name=school_name,
        student=student,
        running=" · ".join(v for v in (student.get("name"), student.get("class"), student.get("number")) if v),
        parts=parts,
        bodies={e.record_id: render_ledger(e.definition, e.ledger, context=e.context) if e.ledger is not None
                else render_layout(e.definition, PRINT, e.data, context=e.context, hidden=e.hidden) for e in entries},
        plans={e.record_id: plan_for(e.definition) for e in entries},
        pages=[(f"record-{p}-{n}", plan_for(e.definition)) for p, part in enumerate(parts, 1) for n, e in enumerate(part.entries, 1)],
        printed_on=printed_on,
        cover=cover,
        css=Markup(print_css()),
        counter_css=counter_css,
    )
