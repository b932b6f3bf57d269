"""Records as rows of text: the list view's cells and the CSV / XLSX exports.

Exports carry one column per field; repeating rows travel as JSON text. Cells that a
spreadsheet would run as a formula are neutralised (SECURITY.md item 7).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from renderers.environment import option_label
from server.definitions import Definition, get_path
from server.i18n import gettext as _
from server.models import Record
from server.records import record_number

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """A spreadsheet runs a cell that starts like a formula: prefix it with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def context_labels() -> dict[str, str]:
    return {"@student.name": _("Student"), "@student.class": _("Class"), "@student.number": _("Student number"),
            "@record.created_on": _("Created"), "@student.gender": _("Gender")}


def list_columns(definition: Definition) -> list[dict[str, str]]:
    columns = definition.list_config.get("columns") or ["@student.name", *list(definition.fields)[:4]]
    labels = context_labels()
    return [{"key": c, "label": labels.get(c, c) if c.startswith("@") else definition.fields[c].title} for c in columns]


def cell_text(definition: Definition, record: Record, key: str) -> str:
    """A record's value for a list column or an export cell, as a person reads it."""
    if key.startswith("@"):
        students = list(record.students)
        if not students:
            return ""
        student = students[0]
        return {"@student.name": "、".join(s.name for s in students), "@student.class": student.klass.name if student.klass else "",
                "@student.number": student.student_number, "@student.gender": student.gender,
                "@record.created_on": record.created_at.date().isoformat()}.get(key, "")
    spec = definition.fields[key]
    value = get_path(record.data, key)
    if value is None:
        return ""
    if spec.item_fields:
        return _("%(count)s rows", count=len(value))
    if isinstance(value, list):
        return "、".join(option_label(spec, v) for v in value)
    if spec.options or spec.type == "boolean":
        return option_label(spec, value)
    return str(value)


def export_rows(definition: Definition, records: list[Record]) -> Iterator[list[str]]:
    paths = list(definition.fields)
    yield ([_("Record"), _("Student"), _("Class"), _("Student number"), _("Form version"), _("Version"), _("Saved")]
           + [definition.fields[p].title for p in paths])
    for record in records:
        students = list(record.students)
        row = [record_number(record), "、".join(s.name for s in students),
               "、".join(s.klass.name for s in students if s.klass), "、".join(s.student_number for s in students),
               str(record.form_version), str(record.version), record.updated_at.isoformat()]
        for path in paths:
            if definition.fields[path].item_fields:
                value = get_path(record.data, path)
                row.append(json.dumps(value, ensure_ascii=False) if value else "")
            else:
                row.append(cell_text(definition, record, path))
        yield [spreadsheet_safe(cell) for cell in row]


def to_csv(rows: Iterator[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(rows: Iterator[list[str]], sheet_title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "Sheet1")
    for row in rows:
        sheet.append(row)  # every cell is a string: nothing is evaluated as a formula
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
