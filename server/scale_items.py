"""A school's licensed item texts for a scale, imported from a CSV of (item number, text).

Scales ship without their item texts (their copyright is unclear): each item is a field titled
"第 N 题". Importing writes the texts into the items' `description` in a copy of the definition
under the school's own folder (`<data dir>/forms/<form_id>/`), which the registry reads before
the shipped `form_defs/`. Nothing is written unless every line is good and the new definition
passes the same checks as any other.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

from server.checks import check_definition
from server.definitions import Definition, FieldSpec
from server.i18n import gettext as _
from server.validation import CONTROL_CHARS

MAX_FILE_BYTES = 1_000_000
MAX_TEXT_CHARS = 500


def scale_items(definition: Definition) -> list[FieldSpec]:
    """The questions of a scale: the fields of its matrix blocks, in the order they are asked."""
    found: list[FieldSpec] = []

    def walk(blocks: list[dict]) -> None:
        for block in blocks:
            if block.get("type") == "matrix":
                found.extend(definition.fields[path] for path in block["fields"] if path in definition.fields)
            elif block.get("type") == "section":
                walk(block.get("blocks", []))

    walk(definition.layout.get("blocks", []))
    return found


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) as most tools write it, else GB18030 as Chinese Excel does."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def read_item_texts(raw: bytes, count: int) -> tuple[dict[int, str], list[str]]:
    """Item number → text, and every problem of the file (line by line, in Chinese)."""
    if len(raw) > MAX_FILE_BYTES:
        return {}, [_("The file is larger than 1 MB.")]
    try:
        text = decode(raw)
    except UnicodeDecodeError:
        return {}, [_("The file is neither UTF-8 nor GBK text.")]
    problems: list[str] = []
    texts: dict[int, str] = {}
    first_line: dict[int, int] = {}
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if any(c.strip() for c in row)]
    if rows and not rows[0][1][0].strip().isdigit():
        rows = rows[1:]  # a header line (题号,题目)
    for line, row in rows:
        number_text = row[0].strip()
        item_text = row[1].strip() if len(row) > 1 else ""
        if not number_text.isdigit() or len(number_text) > 4:
            problems.append(_("Line %(line)s: the item number %(value)s is not a whole number.", line=line, value=number_text))
            continue
        number = int(number_text)
        if not 1 <= number <= count:
            problems.append(_("Line %(line)s: item %(number)s is outside 1–%(count)s.", line=line, number=number, count=count))
        elif number in first_line:
            problems.append(_("Line %(line)s: item %(number)s was already given on line %(first)s.", line=line, number=number, first=first_line[number]))
        elif not item_text:
            problems.append(_("Line %(line)s: item %(number)s has no text.", line=line, number=number))
        elif len(item_text) > MAX_TEXT_CHARS:
            problems.append(_("Line %(line)s: the text of item %(number)s is longer than %(limit)s characters.", line=line, number=number, limit=MAX_TEXT_CHARS))
        elif CONTROL_CHARS.search(item_text):
            problems.append(_("Line %(line)s: the text of item %(number)s contains invisible control characters.", line=line, number=number))
        else:
            texts[number] = item_text
            first_line[number] = line
            continue
        first_line.setdefault(number, line)
    missing = [n for n in range(1, count + 1) if n not in first_line]
    if missing:
        problems.append(_("Items missing from the file: %(numbers)s.", numbers="、".join(map(str, missing[:20])) + ("…" if len(missing) > 20 else "")))
    return texts, problems


def with_item_texts(definition: Definition, texts: dict[int, str]) -> dict:
    """A copy of the schema whose item fields carry the texts as their description."""
    schema = json.loads(json.dumps(definition.schema))
    for number, spec in enumerate(scale_items(definition), start=1):
        node = schema
        for part in spec.path.split("."):
            node = node["properties"][part]
        node["description"] = texts[number]
    return schema


def install_item_texts(definition: Definition, texts: dict[int, str], school_forms_dir: Path) -> tuple[Path | None, list[str]]:
    """Write the definition with its item texts into the school's folder; the old copy is replaced whole."""
    if definition.source_dir is None:
        return None, [_("This definition has no folder to copy.")]
    schema = with_item_texts(definition, texts)
    problems = check_definition(definition.form_id, schema, definition.layout, definition.examples)
    if problems:
        return None, [str(p) for p in problems]
    target = school_forms_dir / definition.form_id
    school_forms_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{definition.form_id}-", dir=school_forms_dir))
    try:
        if definition.source_dir.resolve() != target.resolve():
            shutil.copytree(definition.source_dir, staging, dirs_exist_ok=True)
        else:
            shutil.copytree(target, staging, dirs_exist_ok=True)
        (staging / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        previous = target.with_name(f".{definition.form_id}.previous")
        if previous.exists():
            shutil.rmtree(previous)
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target, []
