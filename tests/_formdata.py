"""Shared helpers for the HTTP tests: example data → posted form fields, the shipped forms."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from server.definitions import Definition, get_path
from server.registry import Registry
from server.scoring import compute
from server.settings import FORM_DEFS_DIR, I18N_DIR

def _catalog_forms() -> list[str]:
    """Every form of the catalog that has a folder, in handbook order: a new definition is tested
    by the whole suite without new test code."""
    import json

    catalog = json.loads((FORM_DEFS_DIR / "catalog.json").read_text(encoding="utf-8"))
    ids = [f["id"] for part in catalog["parts"] for f in part["forms"]]
    return [form_id for form_id in ids if (FORM_DEFS_DIR / form_id / "schema.json").exists()]


FORMS = _catalog_forms()
CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def shipped_registry() -> Registry:
    return Registry.load([FORM_DEFS_DIR])


def definition(form_id: str) -> Definition:
    found = shipped_registry().get(form_id)
    assert found is not None, shipped_registry().problems.get(form_id)
    return found


def about_students(form_id: str) -> bool:
    return definition(form_id).subject in ("student", "students")


def shows_student_name(form_id: str) -> bool:
    """Whether the form's own layout prints the student's name (a context cell or blank)."""
    import json

    return about_students(form_id) and "@student.name" in json.dumps(definition(form_id).layout)


def catalog_compiled() -> bool:
    """Whether the Chinese UI catalog exists (then messages must be Chinese)."""
    return (I18N_DIR / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").exists()


def assert_chinese(message: str) -> None:
    """Chinese once the catalog is compiled; until then a non-empty English msgid."""
    assert message.strip()
    if catalog_compiled():
        assert CJK.search(message), f"not translated: {message!r}"


def form_text(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [form_text(v)[0] for v in value]
    return ["" if value is None else str(value)]


def form_fields(definition: Definition, data: dict) -> dict[str, list[str]]:
    """Example data as the entry page would post it: enum lists as repeated keys, booleans as
    "true"/"false", rows as `field.N.sub`."""
    fields: dict[str, list[str]] = {}
    for path, spec in definition.fields.items():
        value = get_path(data, path)
        if value is None:
            continue
        if spec.item_fields:
            for index, item in enumerate(value):
                for sub_path in spec.item_fields:
                    sub = get_path(item, sub_path)
                    if sub is not None:
                        fields[f"{path}.{index}.{sub_path}"] = form_text(sub)
        else:
            fields[path] = form_text(value)
    return fields


def example(form_id: str, name: str = "full") -> dict:
    """The shipped example; a form about leavers only (`x-students.left_school`) lists the test school's first
    student (林小雨, T0001) as a leaver instead, as a save linked to her writes it (`x-disposal.students_table`)."""
    import json

    data = json.loads((FORM_DEFS_DIR / form_id / "examples" / f"{name}.json").read_text(encoding="utf-8"))
    table = (definition(form_id).schema.get("x-disposal") or {}).get("students_table")
    if takes_leavers(form_id) and table and table["field"] in data:
        data[table["field"]] = [{column: LEAVER[source] for column, source in table["columns"].items()}]
    return data


LEAVER = {"name": "林小雨", "number": "T0001", "class": "七年级(1)班", "left_on": "2026-07-03", "left_reason": "毕业"}


def takes_leavers(form_id: str) -> bool:
    """A form whose records are about students who left school only (a decision on their files)."""
    return bool(definition(form_id).students_rule.get("left_school"))


async def make_leaver(student_id: int) -> None:
    """The test school's 林小雨 left school (LEAVER), so that a form about leavers may be about her."""
    import datetime as dt

    from server.models import Student

    await Student.filter(id=student_id).update(left_on=dt.date.fromisoformat(LEAVER["left_on"]), left_reason=LEAVER["left_reason"])


def stored(form_id: str, data: dict) -> dict:
    """The data as saved: the answers plus the scores the definition computes from them."""
    return compute(definition(form_id).scoring, copy.deepcopy(data))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def layout_labels(definition: Definition, *, entry: bool = False, data: dict | None = None) -> list[str]:
    """The label texts a layout prints: grid label cells, section/table titles, column labels,
    signature labels, repeat titles (first item), cut-line labels, a matrix's questions and options. For a record (`data`, or an
    empty new record with entry=True) blocks and cells whose `when` does not match are skipped;
    a blank paper form shows them all."""
    labels: list[str] = []
    record = {} if entry and data is None else data

    def hidden(when: dict | None) -> bool:
        return record is not None and bool(when) and not definition.when_matches(when, record)

    def walk(blocks: list[dict], scope: str | None) -> None:
        for block in blocks:
            kind = block.get("type")
            if hidden(block.get("when")):
                continue
            if kind == "grid":
                for row in block.get("rows", []):
                    for cell in row:
                        if hidden(cell.get("when")):
                            continue
                        if isinstance(cell.get("label"), str) and "field" not in cell:
                            labels.append(cell["label"])
                        elif cell.get("label") is True:
                            labels.append(definition.field(cell["field"], within=scope).title)
            elif kind == "section":
                labels.append(block.get("title", ""))
                walk(block.get("blocks", []), scope)
            elif kind in ("table", "ledger_row"):
                inner = block["field"] if kind == "table" else scope
                if block.get("title"):
                    labels.append(block["title"])
                for column in block.get("columns", []):
                    label = column.get("label") or (definition.field(column["field"], within=inner).title if "field" in column else "")
                    labels.append(label)
            elif kind == "repeat":
                if block.get("title"):
                    labels.append(block["title"].replace("{n}", "1"))
                walk(block.get("blocks", []), block["field"])
            elif kind == "signature":
                labels.append(block["label"])
            elif kind == "cut_line" and block.get("label"):
                labels.append(block["label"])
            elif kind == "matrix":
                labels.extend([block.get("title", ""), block.get("label", "")])
                labels.extend(definition.field(path, within=scope).title for path in block["fields"])
                labels.extend(option.label for option in definition.field(block["fields"][0], within=scope).options)

    walk(definition.layout.get("blocks", []), None)
    for item in definition.layout.get("header", []):
        if item.get("label"):
            labels.append(item["label"])
    return [label for label in labels if label]


def short_text_field(definition: Definition) -> str:
    """A top-level free-text field (no options, no pattern) to change in an update."""
    for path, spec in definition.fields.items():
        if spec.kind == "short_text" and "pattern" not in spec.schema and spec.schema.get("maxLength", 0) >= 10:
            return path
    raise AssertionError("no short text field")


def text_values(definition: Definition, data: dict) -> list[str]:
    """Free-text answers (no options) of the example, top level and in rows."""
    found = []
    for path, spec in definition.fields.items():
        specs = spec.item_fields.items() if spec.item_fields else [(path, spec)]
        rows = (get_path(data, path) or []) if spec.item_fields else [data]
        for row in rows:
            for sub_path, sub in specs:
                value = get_path(row, sub_path)
                if isinstance(value, str) and not sub.options and sub.kind in ("short_text", "long_text"):
                    found.append(value)
    return found
