"""The students a group record is linked to, and the table of the form that has a row per student.

A form about several students (`x-subject: students`) may say which of its tables holds one row per
taking-part student (`x-linked-students` at the schema's root):

    "x-linked-students": {"rows": "members", "name": "name", "class": "class_name", "attendance": "attended"}

`rows` is an array of objects; `name` and `class` name its text columns that a chosen student fills in
(a row is added when a student is chosen, and removed with the student only while nothing else was typed
in it); `attendance` (optional) names the column whose value the linked students' list shows beside each
student on the record's page and paper. Nothing here names a form.
"""

from __future__ import annotations

from typing import Any

from server.definitions import Definition, get_path, set_path
from server.i18n import gettext as _
from server.models import Student
from renderers.environment import option_label

KEYS = ("rows", "name", "class", "attendance")


def linked_table(definition: Definition) -> dict[str, str] | None:
    """The form's `x-linked-students` declaration, when it has one (checked by check-forms)."""
    found = definition.schema.get("x-linked-students")
    return found if isinstance(found, dict) and isinstance(found.get("rows"), str) else None


def _class_name(student: Student) -> str:
    klass = getattr(student, "klass", None)
    return klass.name if klass is not None else ""


def _matches(row: Any, student: Student, table: dict[str, str]) -> bool:
    """A row about this student: the same name, and the same class where the row names one."""
    return isinstance(row, dict) and row.get(table["name"]) == student.name \
        and row.get(table.get("class", ""), "") in ("", None, _class_name(student))


def _assign(rows: list, students: list[Student], table: dict[str, str]) -> dict[int, int]:
    """Student id → index of their row: in order, each student takes the first row about them that no one
    before took (two students of one class with the same name each have their own row)."""
    taken: dict[int, int] = {}
    used: set[int] = set()
    for student in students:
        found = next((i for i, row in enumerate(rows) if i not in used and _matches(row, student, table)), None)
        if found is not None:
            taken[student.id] = found
            used.add(found)
    return taken


def _rows(definition: Definition, data: dict, table: dict[str, str]) -> list:
    rows = get_path(data, table["rows"])
    if not isinstance(rows, list):
        rows = []
        set_path(data, table["rows"], rows)
    return rows


def add_rows(definition: Definition, data: dict, students: list[Student]) -> None:
    """A row for each chosen student the table has none for (name and class filled in); blank rows are
    dropped first, so a new record's one blank row does not stay above the students'."""
    table = linked_table(definition)
    if table is None or not students:
        return
    rows = _rows(definition, data, table)
    limit = definition.fields[table["rows"]].schema.get("maxItems", 500)
    rows[:] = [row for row in rows if isinstance(row, dict) and any(v not in (None, "", [], False) for v in row.values())]
    taken = _assign(rows, students, table)
    for student in students:
        if student.id not in taken and len(rows) < limit:
            row = {table["name"]: student.name}
            if table.get("class"):
                row[table["class"]] = _class_name(student)
            rows.append(row)


def drop_untouched_row(definition: Definition, data: dict, student: Student, staying: list[Student]) -> None:
    """A student taken off the record: their row goes too, unless something beyond name and class was typed in it."""
    table = linked_table(definition)
    rows = get_path(data, table["rows"]) if table else None
    if not isinstance(rows, list):
        return
    index = _assign(rows, [*staying, student], table).get(student.id)
    row = rows[index] if index is not None else None
    filled = {key for key, value in (row or {}).items() if value not in (None, "", [], False)}
    if row is not None and filled <= {table["name"], table.get("class")}:
        rows.pop(index)


def linked_list(definition: Definition, data: dict, students: list[Student]) -> dict[str, Any]:
    """The linked students as the record's page and paper list them: name, class, 学籍号, and the
    attendance the form records for each (when it declares a column for it)."""
    table = linked_table(definition)
    column = table.get("attendance") if table else None
    rows = get_path(data, table["rows"]) if table else None
    spec = definition.fields[table["rows"]].item_fields.get(column) if column else None
    items = []
    rows = rows if isinstance(rows, list) else []
    by_class = sorted(students, key=lambda s: (s.klass.grade if getattr(s, "klass", None) else 0, _class_name(s), s.name, s.id))
    taken = _assign(rows, by_class, table) if table else {}
    # the table's order where the form has one, then the others by class and name
    for student in sorted(by_class, key=lambda s: taken.get(s.id, len(rows))):
        row = rows[taken[student.id]] if student.id in taken else None
        shown = value_text_of(spec, row.get(column)) if spec is not None and row is not None else ""
        items.append({"name": student.name, "klass": _class_name(student), "number": student.student_number,
                      "attendance": shown})
    return {"title": _("Students taking part"), "students": items,
            "attendance_title": spec.title if spec is not None else ""}


def value_text_of(spec: Any, value: Any) -> str:
    if value is None:
        return ""
    return option_label(spec, value) if spec.options or spec.type == "boolean" else str(value)
