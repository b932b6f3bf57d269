"""Records as rows of text: the list view's cells and the CSV / XLSX exports.

Exports carry one column per field; repeating rows become `称谓：母亲，姓名：王丽；…`. Cells that a
spreadsheet would run as a formula are neutralised (SECURITY.md item 7).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from renderers.environment import option_label
from renderers.widgets import computed_text
from server.definitions import Definition, FieldSpec, get_path
from server.i18n import gettext as _, to_local
from server.context import subject_context
from server.models import Record, School
from server.records import record_number

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A spreadsheet runs a cell that starts like a formula: prefix it with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def context_labels() -> dict[str, str]:
    return {"@student.name": _("Student"), "@student.class": _("Class"), "@student.number": _("Student number"),
            "@student.gender": _("Gender"), "@student.grade": _("Grade"), "@student.birth_date": _("Date of birth"),
            "@class.name": _("Class"), "@class.grade": _("Grade"),
            "@school.name": _("School"), "@record.number": _("Record"), "@record.created_on": _("Created"),
            "@today": _("Date")}


def list_columns(definition: Definition, hidden: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    columns = [c for c in definition.list_config.get("columns") or ["@student.name", *list(definition.fields)[:4]]
               if c not in hidden]
    labels = context_labels()
    return [{"key": c, "label": labels.get(c, c) if c.startswith("@") else definition.fields[c].title,
             "wrap": not c.startswith("@") and definition.fields[c].kind in ("long_text", "multi_choice")}
            for c in columns]


def row_cells(definition: Definition, record: Record, keys: list[str], school: School) -> list[str]:
    """A record's list row: each column's value as a person reads it."""
    context = subject_context(school, list(record.students), record) if any(k.startswith("@") for k in keys) else {}
    return [context.get(key, "") if key.startswith("@") else cell_text(definition, record, key) for key in keys]


def cell_text(definition: Definition, record: Record, key: str) -> str:
    value = get_path(record.data, key)
    if definition.fields[key].item_fields and isinstance(value, list):
        return _("%(count)s rows", count=len(value))  # a list cell stays short; exports spell rows out
    return value_text(definition, key, value)


def value_text(definition: Definition, path: str, value: Any) -> str:
    spec = definition.fields[path]
    if value is None:
        return ""
    if spec.item_fields:
        return "；".join(row_text(spec, row) for row in value if isinstance(row, dict))
    if isinstance(value, list):
        return "、".join(option_label(spec, v) for v in value)
    if spec.options or spec.type == "boolean":
        return option_label(spec, value)
    if spec.computed:
        return computed_text(spec, value)
    return str(value)


def row_text(spec: FieldSpec, row: dict) -> str:
    """One repeating row as `称谓：母亲，姓名：王丽`."""
    parts = []
    for sub_path, sub in spec.item_fields.items():
        value = get_path(row, sub_path)
        if value not in (None, "", []):
            shown = "、".join(option_label(sub, v) for v in value) if isinstance(value, list) else option_label(sub, value)
            parts.append(f"{sub.title}：{shown}")
    return "，".join(parts)


def export_rows(definition: Definition, records: list[Record], school: School, hidden: frozenset[str] = frozenset(), *,
                versions: dict[int, tuple[Definition, frozenset[str]]] | None = None) -> Iterator[list[str]]:
    """One column per field the user may read, of any version the records were made with: the current
    version's fields first, then those only older versions have. Each value is written as its own version
    reads it (its options' labels); a field a version hides from this user stays empty."""
    made_with = {definition.version: (definition, hidden), **(versions or {})}
    paths = [p for p in definition.fields if p not in hidden]
    titles = {p: definition.fields[p].title for p in paths}
    for number in sorted(made_with, reverse=True):
        old, old_hidden = made_with[number]
        for path, spec in old.fields.items():
            if path not in titles and path not in old_hidden:
                paths.append(path)
                titles[path] = _("%(title)s (version %(version)s)", title=spec.title, version=number)
    yield ([_("Record"), _("Student"), _("Class"), _("Student number"), _("Form version"), _("Revision"), _("Saved")]
           + [titles[p] for p in paths])
    for record in records:
        students = list(record.students)
        own, own_hidden = made_with.get(record.form_version, (definition, hidden))
        row = [record_number(record), "、".join(s.name for s in students),
               "、".join(s.klass.name for s in students if s.klass), "、".join(s.student_number for s in students),
               str(record.form_version), str(record.version), to_local(record.updated_at).isoformat(timespec="seconds")]
        row += [value_text(own, path, get_path(record.data, path)) if path in own.fields and path not in own_hidden else ""
                for path in paths]
        yield [spreadsheet_safe(cell) for cell in row]


def to_csv(rows: Iterator[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(rows: Iterator[list[str]], sheet_title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "Sheet1")
    for row in rows:
        cells = []
        for text in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", text))
            cell.data_type = "s"  # text, never a formula, whatever it starts with
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
