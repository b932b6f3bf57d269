"""Records as rows: the list view's cells and the CSV / XLSX exports.

Exports carry one column per field; repeating rows become `称谓：母亲，姓名：王丽；…`. Text cells that a
spreadsheet would run as a formula are neutralised, headers included (docs/SECURITY.md item 7). The XLSX keeps
numbers, dates and coded answers typed so statistics can be computed; CSV is text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any, Iterator

from renderers.environment import option_label
from renderers.widgets import choices, computed_text
from server.definitions import FORMULA_PREFIXES, Definition, FieldSpec, get_path
from server.i18n import gettext as _, to_local
from server.context import subject_context
from server.models import Record, School
from server.records import record_number


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


def export_columns(definition: Definition, hidden: frozenset[str] = frozenset(), *,
                   versions: dict[int, tuple[Definition, frozenset[str]]] | None = None
                   ) -> tuple[list[str], dict[str, str], dict[str, FieldSpec], dict[int, tuple[Definition, frozenset[str]]]]:
    """The exported fields: the current version's first, then those only older versions have; their column
    titles, the spec each column is read with, and every version the records were made with."""
    made_with = {definition.version: (definition, hidden), **(versions or {})}
    paths = [p for p in definition.fields if p not in hidden]
    titles = {p: definition.fields[p].title for p in paths}
    specs = {p: definition.fields[p] for p in paths}
    for number in sorted(made_with, reverse=True):
        old, old_hidden = made_with[number]
        for path, spec in old.fields.items():
            if path not in titles and path not in old_hidden:
                paths.append(path)
                titles[path] = _("%(title)s (version %(version)s)", title=spec.title, version=number)
                specs[path] = spec
    return paths, titles, specs, made_with


def is_coded(spec: FieldSpec) -> bool:
    """A single choice whose options are numbers (a scale's answers, a risk level): exported as its code."""
    return spec.type != "array" and bool(spec.options) and all(type(o.value) is int for o in spec.options)


def export_rows(definition: Definition, records: list[Record], school: School, hidden: frozenset[str] = frozenset(), *,
                versions: dict[int, tuple[Definition, frozenset[str]]] | None = None, typed: bool = False) -> Iterator[list[Any]]:
    """One column per field the user may read, of any version the records were made with: the current
    version's fields first, then those only older versions have. Each value is written as its own version
    reads it (its options' labels); a field a version hides from this user stays empty.

    `typed` (XLSX): numbers stay numbers, dates dates, and coded choices their codes (`codebook` names
    them); text is still neutralised. Otherwise every cell is text (CSV)."""
    paths, titles, _specs, made_with = export_columns(definition, hidden, versions=versions)
    header = [_("Record"), _("Student"), _("Class"), _("Student number"), _("Form version"), _("Revision"), _("Saved")]
    yield [spreadsheet_safe(title) for title in header + [titles[p] for p in paths]]
    for record in records:
        students = list(record.students)
        own, own_hidden = made_with.get(record.form_version, (definition, hidden))
        saved = to_local(record.updated_at)
        row: list[Any] = [record_number(record), "、".join(s.name for s in students),
                          "、".join(s.klass.name for s in students if s.klass), "、".join(s.student_number for s in students)]
        if typed:
            row += [record.form_version, record.version, saved.replace(tzinfo=None, microsecond=0)]
        else:
            row += [str(record.form_version), str(record.version), saved.isoformat(timespec="seconds")]
        for path in paths:
            if path not in own.fields or path in own_hidden:
                row.append("")
            elif typed:
                row.append(typed_value(own, path, get_path(record.data, path)))
            else:
                row.append(value_text(own, path, get_path(record.data, path)))
        yield [spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row]


def typed_value(definition: Definition, path: str, value: Any) -> Any:
    """A value as a spreadsheet cell: a number, a date, a choice's code, or text."""
    spec = definition.fields[path]
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (is_coded(spec) or spec.type in ("integer", "number")):
        return value
    if spec.schema.get("format") == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    return value_text(definition, path, value)


def codebook(definition: Definition, hidden: frozenset[str] = frozenset(), *,
             versions: dict[int, tuple[Definition, frozenset[str]]] | None = None) -> list[list[Any]]:
    """The codes of the coded columns (field, code, label), for a second sheet next to the typed export."""
    paths, titles, specs, _made_with = export_columns(definition, hidden, versions=versions)
    rows: list[list[Any]] = [[_("Field"), _("Code"), _("Meaning")]]
    for path in paths:
        if is_coded(specs[path]):
            rows += [[spreadsheet_safe(titles[path]), option.value, spreadsheet_safe(option.label)] for option in choices(specs[path])]
    return rows


def to_csv(rows: Iterator[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"


def to_xlsx(rows: Iterator[list[Any]], sheet_title: str, codes: list[list[Any]] | None = None) -> bytes:
    """A workbook of typed cells: text is always a text cell (never a formula, whatever it starts with),
    numbers are numbers, dates Excel dates. The header row is frozen and filters; `codes` (field, code,
    label) becomes a second sheet. CPU-bound for a big export: call it from a worker thread."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_name(sheet_title) or "Sheet1")
    sheet.freeze_panes = "A2"
    width = _write_rows(sheet, rows)
    if width:
        sheet.auto_filter.ref = f"A1:{_column_letter(width[0])}{width[1]}"
    if codes and len(codes) > 1:
        _write_rows(workbook.create_sheet(title=_sheet_name(_("Codebook"))), iter(codes))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sheet_name(title: str) -> str:
    return re.sub(r"[\\/?*:\[\]]", "", title)[:31]


def _column_letter(number: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(number)


def _write_rows(sheet: Any, rows: Iterator[list[Any]]) -> tuple[int, int] | None:
    """Append the rows (the first in bold, as headings); return (columns, rows) written."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    bold = Font(bold=True)
    count, columns = 0, 0
    for row in rows:
        if count == 0:  # widths must be set before the first row in a write-only sheet
            for index, title in enumerate(row, start=1):
                sheet.column_dimensions[_column_letter(index)].width = min(40, max(10, 2.2 * len(str(title)) + 2))
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"  # text, never a formula, whatever it starts with
            else:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, dt.datetime):
                    cell.number_format = DATETIME_FORMAT
                elif isinstance(value, dt.date):
                    cell.number_format = DATE_FORMAT
            if count == 0:
                cell.font = bold
            cells.append(cell)
        sheet.append(cells)
        count += 1
        columns = max(columns, len(cells))
    return (columns, count) if count else None
