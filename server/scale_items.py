"""A school's licensed item texts for a scale, imported from a CSV of (item number, text).

Scales ship without their item texts (their copyright is unclear): each item is a field titled
"第 N 题". Importing keeps the texts in the school's folder, `<data dir>/forms/<form_id>/
item_texts.json`; the registry lays them over the shipped definition as the items' `description`
each time it loads, so a corrected scale in a later release still reaches the school. Nothing is
written unless every line is good and the definition with its texts passes the usual checks.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from server.checks import check_definition
from server.definitions import Definition, FieldSpec, walk_blocks
from server.i18n import gettext as _
from server.validation import CONTROL_CHARS

ITEM_TEXTS_FILE = "item_texts.json"
MAX_FILE_BYTES = 1_000_000
MAX_TEXT_CHARS = 500
ITEM_NUMBER = re.compile(r"[0-9]{1,6}")


def scale_items(definition: Definition) -> list[FieldSpec]:
    """The questions of a scale: the fields of its matrix blocks, in the order they are asked."""
    return [definition.fields[path] for block in walk_blocks(definition.layout.get("blocks", []))
            if block.get("type") == "matrix" for path in block["fields"] if path in definition.fields]


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) as most tools write it, else GB18030 as Chinese Excel does."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def text_problem(number: int, text: Any) -> str | None:
    """What is wrong with one item's text, if anything (the CSV and the stored file share this)."""
    if not isinstance(text, str) or not text.strip():
        return _("Item %(number)s has no text.", number=number)
    if len(text) > MAX_TEXT_CHARS:
        return _("The text of item %(number)s is longer than %(limit)s characters.", number=number, limit=MAX_TEXT_CHARS)
    if CONTROL_CHARS.search(text):
        return _("The text of item %(number)s contains invisible control characters.", number=number)
    return None


def read_item_texts(raw: bytes, count: int) -> tuple[dict[int, str], list[str]]:
    """Item number → text, and every problem of the file (line by line, in Chinese)."""
    if len(raw) > MAX_FILE_BYTES:
        return {}, [_("The file is larger than 1 MB.")]
    try:
        rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(decode(raw))), start=1)
                if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        return {}, [_("The file is neither UTF-8 nor GBK text.")]
    except csv.Error as exc:  # e.g. an unclosed quote running to the end of the file
        return {}, [_("The file is not a readable CSV file: %(error)s", error=str(exc))]
    if rows and not ITEM_NUMBER.fullmatch(rows[0][1][0].strip()):
        rows = rows[1:]  # a header line (题号,题目)
    problems: list[str] = []
    texts: dict[int, str] = {}
    first_line: dict[int, int] = {}
    for line, row in rows:
        number_text = row[0].strip()
        item_text = ",".join(row[1:]).strip()  # a comma left unquoted in the text belongs to the text
        if not ITEM_NUMBER.fullmatch(number_text):
            problems.append(_("Line %(line)s: the item number %(value)s is not a whole number.", line=line, value=number_text[:20]))
            continue
        number = int(number_text)
        problem = text_problem(number, item_text)
        if not 1 <= number <= count:
            problems.append(_("Line %(line)s: item %(number)s is outside 1–%(count)s.", line=line, number=number, count=count))
        elif number in first_line:
            problems.append(_("Line %(line)s: item %(number)s was already given on line %(first)s.", line=line, number=number, first=first_line[number]))
        elif problem:
            problems.append(_("Line %(line)s: %(problem)s", line=line, problem=problem))
        else:
            texts[number] = item_text
        first_line.setdefault(number, line)
    problems += _missing(first_line, count)
    return texts, problems


def _missing(given: Any, count: int) -> list[str]:
    missing = [n for n in range(1, count + 1) if n not in given]
    if not missing:
        return []
    shown = "、".join(map(str, missing[:20])) + ("…" if len(missing) > 20 else "")
    return [_("Items missing from the file: %(numbers)s.", numbers=shown)]


def with_item_texts(definition: Definition, texts: dict[int, str]) -> tuple[Definition | None, list[str]]:
    """The definition with each item's text as its field's description, checked like any other."""
    schema = copy.deepcopy(definition.schema)
    for number, spec in enumerate(scale_items(definition), start=1):
        node = schema
        for part in spec.path.split("."):
            node = node.get("properties", {}).get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):  # an item reached only through a $ref cannot carry its own text
            return None, [_("The item %(path)s cannot hold a text in this definition.", path=spec.path)]
        node["description"] = texts[number]
    problems = check_definition(definition.form_id, schema, definition.layout, definition.examples)
    if problems:
        return None, [str(p) for p in problems]
    return Definition(form_id=definition.form_id, schema=schema, layout=definition.layout, version=definition.version,
                      source_dir=definition.source_dir, examples=definition.examples), []


def save_item_texts(form_id: str, texts: dict[int, str], school_forms_dir: Path) -> Path:
    """Write the texts file in one step (a new file renamed over the old), so a reader never sees half."""
    folder = school_forms_dir / form_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ITEM_TEXTS_FILE
    body = {"form_id": form_id, "imported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "texts": {str(n): texts[n] for n in sorted(texts)}}
    handle, temporary = tempfile.mkstemp(prefix=".item_texts-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(body, out, ensure_ascii=False, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def apply_school_texts(definition: Definition, school_forms_dir: Path) -> tuple[Definition, list[str]]:
    """The definition with the school's imported texts, if it has any; unchanged (with the problems)
    when the stored file no longer fits the scale, so the scale is still served with 第 N 题."""
    path = school_forms_dir / definition.form_id / ITEM_TEXTS_FILE
    if not path.is_file():
        return definition, []
    count = len(scale_items(definition))
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))["texts"]
        texts = {int(number): text for number, text in stored.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return definition, [_("The stored item texts cannot be read: %(error)s", error=str(exc))]
    problems = [p for n, text in sorted(texts.items()) if (p := text_problem(n, text))]
    problems += _missing(texts, count) + [_("Item %(number)s is outside 1–%(count)s.", number=n, count=count)
                                          for n in sorted(texts) if not 1 <= n <= count]
    if problems:
        return definition, problems
    updated, problems = with_item_texts(definition, texts)
    return (updated, []) if updated else (definition, problems)
