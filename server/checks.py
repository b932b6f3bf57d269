"""Definition checks: every problem of a form folder, with file, JSON pointer and a sentence.

Used by `xindang check-forms`, by the registry at start-up (a broken form is left out)
and later by the form editor. A check never raises; it collects.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from server.definitions import (CONTEXT_PREFIX, FORMULA_PREFIXES, Definition, FieldSpec, add_group_objects, build_validator, collect_fields, condition_paths,
                                inline_fields, options_of, paths_in_block, pointer)
from server.i18n import gettext as _
from server.scoring import inputs_of, operation_of
from server.settings import FORM_DEFS_DIR

LAYOUT_META_SCHEMA = FORM_DEFS_DIR / "layout.schema.json"
SCORING_META_SCHEMA = FORM_DEFS_DIR / "scoring.schema.json"
MAX_DEFINITION_BYTES = 2_000_000


@dataclass(frozen=True)
class Problem:
    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.pointer or '/'}: {self.message}"


@lru_cache(maxsize=1)
def scoring_meta() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCORING_META_SCHEMA.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def layout_meta() -> tuple[dict, Draft202012Validator]:
    meta = json.loads(LAYOUT_META_SCHEMA.read_text(encoding="utf-8"))
    return meta, Draft202012Validator(meta)


def read_json(path: Path, problems: list[Problem], label: str) -> Any:
    if not path.is_file():
        problems.append(Problem(label, "", _("The file is missing.")))
        return None
    if path.stat().st_size > MAX_DEFINITION_BYTES:
        problems.append(Problem(label, "", _("The file is larger than 2 MB.")))
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem(label, "", _("The file is not valid JSON: %(error)s", error=str(exc))))
        return None


def load_form_dir(form_dir: Path) -> tuple[Definition | None, list[Problem]]:
    """Read, check and compile one form folder. The definition is None when anything is wrong."""
    problems: list[Problem] = []
    form_id = form_dir.name
    schema_file, layout_file = f"{form_id}/schema.json", f"{form_id}/layout.json"
    schema = read_json(form_dir / "schema.json", problems, schema_file)
    layout = read_json(form_dir / "layout.json", problems, layout_file)
    examples = {}
    for path in sorted((form_dir / "examples").glob("*.json")):
        example = read_json(path, problems, f"{form_id}/examples/{path.name}")
        if example is not None:
            examples[path.stem] = example
    if schema is None or layout is None:
        return None, problems
    problems += check_definition(form_id, schema, layout, examples)
    if problems:
        return None, problems
    return Definition(form_id=form_id, schema=schema, layout=layout, source_dir=form_dir, examples=examples), []


def check_definition(form_id: str, schema: Any, layout: Any, examples: dict[str, Any] | None = None) -> list[Problem]:
    schema_file, layout_file = f"{form_id}/schema.json", f"{form_id}/layout.json"
    problems = list(check_schema(schema, schema_file))
    # examples are checked whatever else is wrong, as long as the schema itself can validate
    example_problems = [] if problems else list(check_examples(form_id, schema, examples or {}))
    problems += check_layout_shape(layout, layout_file)
    if problems:
        return problems + example_problems
    fields = collect_fields(schema)
    problems += check_layout_fields(fields, layout, layout_file)
    problems += check_condition_values(fields, layout, layout_file)
    problems += check_grids(layout, layout_file)
    problems += check_repeats(layout, layout_file)
    problems += check_matrices(fields, layout, layout_file)
    problems += check_scoring(fields, schema.get("x-scoring"), schema_file)
    problems += check_risk_levels(fields, schema_file)
    problems += check_account_agreement(fields, schema.get("x-account-agreement"), schema_file)
    problems += check_student_file_keys(fields, schema, schema_file)
    problems += check_answer_rules(fields, schema, schema_file)
    problems += check_create_limits(schema, schema_file)
    problems += check_disposal(fields, schema, schema_file)
    problems += check_formula_titles(schema, schema_file)
    problems += check_record_date(fields, schema, schema_file)
    problems += check_linked_students(fields, schema, schema_file)
    problems += check_students_rule(fields, schema, schema_file)
    return problems + example_problems


def check_examples(form_id: str, schema: dict, examples: dict[str, Any]) -> Iterator[Problem]:
    """Each example against the schema, with the Chinese messages a save shows."""
    from server.validation import explain_error

    validator = build_validator(schema)
    for name, example in examples.items():
        example = copy.deepcopy(example)
        if isinstance(example, dict):
            add_group_objects(schema, example)  # as a save does: a group of fields is always there
        file = f"{form_id}/examples/{name}.json"
        try:
            errors = list(validator.iter_errors(example))
        except Exception as exc:  # noqa: BLE001  a check never raises; the schema's own checks say what is wrong
            yield Problem(file, "", _("The example could not be checked: %(error)s", error=str(exc)[:200]))
            continue
        for error in errors:
            for found in explain_error(error):
                yield Problem(file, found.pointer, _("The example does not match the schema: %(error)s", error=found.message))


def check_schema(schema: Any, file: str) -> Iterator[Problem]:
    if not isinstance(schema, dict):
        yield Problem(file, "", _("The schema must be a JSON object."))
        return
    for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
        yield Problem(file, pointer(error.absolute_path), _("Not a valid JSON Schema: %(error)s", error=error.message))
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        yield Problem(file, "", _("The schema must describe an object with properties."))
    yield from check_access_rules(schema, file)
    grades = schema.get("x-grades")
    if grades is not None and not (isinstance(grades, list) and grades and len(set(map(repr, grades))) == len(grades)
                                   and all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 12 for g in grades)):
        yield Problem(file, "/x-grades", _("x-grades must list grades 1 to 12, each once."))
    yield from check_refs_and_patterns(schema, file, [])
    yield from check_data_shapes(schema, file)




def check_formula_titles(node: Any, file: str, path: list | None = None) -> Iterator[Problem]:
    """Titles become the headers of CSV and Excel exports: one a spreadsheet would run as a formula is refused."""
    path = path or []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "title" and isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                yield Problem(file, pointer([*path, key]), _("A title may not start with =, +, -, @ or a tab: a spreadsheet "
                                                            "would run it as a formula when the records are exported: %(text)s",
                                                            text=value[:60]))
            elif isinstance(value, (dict, list)):
                yield from check_formula_titles(value, file, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from check_formula_titles(value, file, [*path, index])


def check_record_date(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-record-date`: the date field that says which day a record is about (a session's date, not its save)."""
    path = schema.get("x-record-date")
    if path is None:
        return
    spec = fields.get(path) if isinstance(path, str) else None
    if spec is None or spec.type != "string" or spec.schema.get("format") != "date":
        yield Problem(file, "/x-record-date", _("x-record-date must name a date field of the form (not one inside repeating rows)."))


def check_risk_levels(fields: dict[str, FieldSpec], file: str) -> Iterator[Problem]:
    """`x-risk-level`: an integer with the ordinal levels 0–3 as its options (the school names them)."""
    for path, spec in fields.items():
        if spec.risk_level and not (spec.type == "integer" and spec.options
                                    and all(type(o.value) is int and 0 <= o.value <= 3 for o in spec.options)):
            yield Problem(file, "/properties/" + path.replace(".", "/properties/"),
                          _("x-risk-level needs an integer field whose options are the levels 0 to 3."))


def check_student_file_keys(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-expected` (every student's file needs this form once, or each school year) and `x-current-level`
    (the field holding the student's current level: an `x-risk-level` field)."""
    expected = schema.get("x-expected")
    if expected is not None and (expected not in ("once", "yearly") or schema.get("x-subject", "student") not in ("student", "students")):
        yield Problem(file, "/x-expected", _("x-expected is once or yearly, on a form about students."))
    level = schema.get("x-current-level")
    if level is not None and not (isinstance(level, str) and level in fields and fields[level].risk_level):
        yield Problem(file, "/x-current-level", _("x-current-level must name a field marked x-risk-level."))


def check_answer_rules(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-not-after` ("today", on a date field), `x-message` (a sentence replacing the generic one) and
    `x-once-per-student` (true, on a form about students): what the validation and the entry page apply."""
    once = schema.get("x-once-per-student")
    if once is not None and (once is not True or schema.get("x-subject", "student") not in ("student", "students")):
        yield Problem(file, "/x-once-per-student", _("x-once-per-student is true, on a form about students."))
    for path, spec in fields.items():
        for sub_path, sub in [(path, spec)] + [(f"{path}/items/{p}", s) for p, s in spec.item_fields.items()]:
            limit = sub.schema.get("x-not-after")
            if limit is not None and (limit != "today" or sub.schema.get("format") != "date"):
                where = "/properties/" + sub_path.replace(".", "/properties/").replace("/items/", "/items/properties/")
                yield Problem(file, where + "/x-not-after", _("x-not-after is \"today\", on a date field."))
    stack: list[tuple[Any, list]] = [(schema, [])]
    while stack:
        node, here = stack.pop()
        if isinstance(node, dict):
            message = node.get("x-message")
            if message is not None and not (isinstance(message, str) and 0 < len(message.strip()) <= 200):
                yield Problem(file, pointer([*here, "x-message"]), _("x-message is a sentence of at most 200 characters."))
            stack.extend((value, [*here, key]) for key, value in node.items() if key != "x-message")
        elif isinstance(node, list):
            stack.extend((value, [*here, index]) for index, value in enumerate(node))


def check_create_limits(schema: dict, file: str) -> Iterator[Problem]:
    """`x-create-when`: {role: JSON Schema} a record must match when only that role lets its author create it."""
    from server.access import ROLES

    limits = schema.get("x-create-when")
    if limits is None:
        return
    if not isinstance(limits, dict) or any(role not in ROLES or not isinstance(rule, dict) for role, rule in limits.items()):
        yield Problem(file, "/x-create-when", _("x-create-when maps role codes to a JSON Schema the record must match."))
        return
    for role, rule in limits.items():
        if role not in (schema.get("x-access") or {}).get("create", []):
            yield Problem(file, f"/x-create-when/{role}", _("x-create-when names a role that may not create this form's records."))
        for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(rule):
            yield Problem(file, pointer(["x-create-when", role, *error.absolute_path]), _("Not a valid JSON Schema: %(error)s", error=error.message))


def check_linked_students(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-linked-students`: the table with a row per taking-part student (server.linked_students), on a form
    about several students; `rows` an array of objects, `name` and `class` its text columns, `attendance` a column."""
    rule = schema.get("x-linked-students")
    if rule is None:
        return
    rows = fields.get(rule.get("rows")) if isinstance(rule, dict) and isinstance(rule.get("rows"), str) else None
    if schema.get("x-subject") != "students" or rows is None or not rows.item_fields or not isinstance(rule.get("name"), str) \
            or set(rule) - {"rows", "name", "class", "attendance"}:
        yield Problem(file, "/x-linked-students", _("x-linked-students maps rows (a table of the form), name and optionally class "
                                                    "and attendance (its columns), on a form about several students."))
        return
    for key in ("name", "class", "attendance"):
        column = rule.get(key)
        if column is None:
            continue
        spec = rows.item_fields.get(column) if isinstance(column, str) else None
        if spec is None or (key != "attendance" and spec.type != "string"):
            yield Problem(file, f"/x-linked-students/{key}",
                          _("x-linked-students: %(column)s is not a text column of %(rows)s.", column=str(column), rows=rows.path)
                          if key != "attendance" else
                          _("x-linked-students: %(column)s is not a column of %(rows)s.", column=str(column), rows=rows.path))


def check_students_rule(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-students` (the name of the student picker, and whether only students who left school may be chosen) and
    `x-after` on a top-level date field (it must be later than another top-level date field)."""
    rule = schema.get("x-students")
    if rule is not None:
        label = rule.get("label", "-") if isinstance(rule, dict) else None
        if not isinstance(rule, dict) or set(rule) - {"label", "left_school"} or not (isinstance(label, str) and 0 < len(label) <= 30) \
                or not isinstance(rule.get("left_school", False), bool):
            yield Problem(file, "/x-students", _("x-students holds label (up to 30 characters) and left_school (true or false)."))
        elif schema.get("x-subject", "student") not in ("student", "students"):
            yield Problem(file, "/x-students", _("x-students belongs on a form about students."))
    for path, spec in fields.items():
        column = spec.schema.get("x-student-rows")
        if column is not None and not ("." not in path and spec.item_fields and isinstance(column, str) and column in spec.item_fields
                                       and spec.item_fields[column].type == "string"
                                       and schema.get("x-subject", "student") in ("student", "students")):
            yield Problem(file, "/properties/" + path.replace(".", "/properties/") + "/x-student-rows",
                          _("x-student-rows belongs on a top-level table of a form about students and names its text column "
                            "holding the student's name."))
    for path, spec in fields.items():
        earlier = spec.schema.get("x-after")
        if earlier is None:
            continue
        other = fields.get(earlier) if isinstance(earlier, str) else None
        if "." in path or spec.kind != "date" or other is None or "." in earlier or other.kind != "date" or earlier == path:
            yield Problem(file, "/properties/" + path.replace(".", "/properties/") + "/x-after",
                          _("x-after belongs on a top-level date field and names another top-level date field."))


def check_disposal(fields: dict[str, FieldSpec], schema: dict, file: str) -> Iterator[Problem]:
    """`x-retention-years` (how long a left student's records of this form are kept before a decision) and
    `x-disposal` (the form that decides on files: which fields hold the decision, dates and opinions)."""
    from server.access import ROLES

    years = schema.get("x-retention-years")
    if years is not None and not (isinstance(years, int) and not isinstance(years, bool) and 0 <= years <= 50):
        yield Problem(file, "/x-retention-years", _("x-retention-years is a whole number of years from 0 to 50."))
    rule = schema.get("x-disposal")
    if rule is None:
        return

    def bad(where: str, message: str) -> Problem:
        return Problem(file, "/x-disposal" + where, message)

    def top(name: Any, kind: str | None = None) -> bool:
        spec = fields.get(name) if isinstance(name, str) else None
        return spec is not None and "." not in name and (kind is None or spec.kind == kind)

    if not isinstance(rule, dict) or not all(isinstance(rule.get(k), dict) for k in ("actions", "apply", "review", "approve")):
        yield bad("", _("x-disposal needs decision, actions, apply, review and approve."))
        return
    if schema.get("x-subject") not in ("student", "students"):
        yield bad("", _("x-disposal belongs on a form about students."))
    if not top(rule.get("decision")):
        yield bad("/decision", _("x-disposal: decision must name a top-level choice field."))
    else:
        values = {o.value for o in fields[rule["decision"]].options}
        if set(rule["actions"]) != values or not set(rule["actions"].values()) <= {"seal", "destroy", "transfer"}:
            yield bad("/actions", _("x-disposal: actions maps each option of the decision to seal, destroy or transfer."))
    for key, kind in (("seal_until", "date"), ("basis", None), ("guardian_consent", None)):
        if key in rule and not top(rule[key], kind):
            yield bad(f"/{key}", _("x-disposal: %(key)s must name a top-level field.", key=key))
    table = rule.get("students_table")
    if table is not None:
        from server.disposal import STUDENT_VALUES

        spec = fields.get(table.get("field")) if isinstance(table, dict) and isinstance(table.get("field"), str) else None
        columns = table.get("columns") if isinstance(table, dict) else None
        if spec is None or "." in table["field"] or not spec.item_fields or not isinstance(columns, dict) or not columns \
                or not all(c in spec.item_fields and v in STUDENT_VALUES for c, v in columns.items()):
            yield bad("/students_table", _("x-disposal: students_table names a top-level table and maps its columns to %(values)s.",
                                            values=", ".join(STUDENT_VALUES)))
    execution = rule.get("execution", [])
    if not isinstance(execution, list) or not all(top(name) for name in execution):
        yield bad("/execution", _("x-disposal: execution lists top-level fields (filled in after approval)."))
    for step in ("apply", "review", "approve"):
        spec = rule[step]
        if "note" in spec and not top(spec["note"]):
            yield bad(f"/{step}/note", _("x-disposal: %(key)s must name a top-level field.", key="note"))
        if not isinstance(spec.get("roles"), list) or not spec["roles"] or any(r not in ROLES for r in spec["roles"]):
            yield bad(f"/{step}/roles", _("Unknown role in x-access; use: %(roles)s.", roles=", ".join(ROLES)))
        for key in ("by", "on") + (("opinion",) if step != "apply" else ()):
            if not top(spec.get(key)):
                yield bad(f"/{step}/{key}", _("x-disposal: %(key)s must name a top-level field.", key=key))
        if step != "apply" and top(spec.get("opinion")):
            options = {o.value for o in fields[spec["opinion"]].options}
            if not isinstance(spec.get("yes"), list) or not spec["yes"] or not set(spec["yes"]) <= options:
                yield bad(f"/{step}/yes", _("x-disposal: yes lists the opinions that agree, from the field's options."))


AGREEMENT_KEYS = {"account": "short_text", "from": "date", "to": "date", "closed": "date"}


def check_account_agreement(fields: dict[str, FieldSpec], rule: Any, file: str) -> Iterator[Problem]:
    """`x-account-agreement`: which fields name the account and the dates the agreement is in force."""
    if rule is None:
        return
    if not isinstance(rule, dict) or "account" not in rule or set(rule) - set(AGREEMENT_KEYS):
        yield Problem(file, "/x-account-agreement", _("x-account-agreement maps account (and optionally from, to, closed) to field names."))
        return
    for key, name in rule.items():
        spec = fields.get(name) if isinstance(name, str) else None
        if spec is None or spec.kind != AGREEMENT_KEYS[key] or spec.item_fields:
            yield Problem(file, f"/x-account-agreement/{key}",
                          _("x-account-agreement: %(key)s must name a top-level field of kind %(kind)s.", key=key, kind=AGREEMENT_KEYS[key]))


def check_access_rules(schema: dict, file: str) -> Iterator[Problem]:
    """`x-access` at the root ({action: [roles]}) and on fields ({"read": [roles]}): known actions and role codes."""
    from server.access import ACTIONS, ROLES

    def check(rule: Any, where: list, actions: tuple[str, ...]) -> Iterator[Problem]:
        if not isinstance(rule, dict) or set(rule) - set(actions):
            yield Problem(file, pointer(where), _("x-access must map %(actions)s to lists of roles.", actions=", ".join(actions)))
            return
        for action, roles in rule.items():
            if not isinstance(roles, list) or any(role not in ROLES for role in roles):
                yield Problem(file, pointer([*where, action]), _("Unknown role in x-access; use: %(roles)s.", roles=", ".join(ROLES)))

    if "x-access" in schema:
        yield from check(schema["x-access"], ["x-access"], ACTIONS)
        rules = schema["x-access"] if isinstance(schema["x-access"], dict) else {}
        readers = set(rules.get("read", ["psych_teacher"]))
        for action in ("edit", "print", "export"):
            if isinstance(rules.get(action), list) and not set(rules[action]) <= readers:
                yield Problem(file, pointer(["x-access", action]), _("Who may %(action)s a record must also be allowed to read it.", action=action))

    def walk(node: dict, where: list, in_rows: bool) -> Iterator[Problem]:
        for name, sub in (node.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            here = [*where, "properties", name]
            if "x-access" in sub:
                if in_rows:
                    yield Problem(file, pointer([*here, "x-access"]), _("x-access cannot be set inside repeating rows; set it on the rows' field."))
                else:
                    yield from check(sub["x-access"], [*here, "x-access"], ("read", "create"))
            yield from walk(sub, here, in_rows)
            if isinstance(sub.get("items"), dict):
                yield from walk(sub["items"], [*here, "items"], True)

    yield from walk(schema, [], False)


def check_refs_and_patterns(node: Any, file: str, path: list, root: Any = None) -> Iterator[Problem]:
    """Remote `$ref`s (F8), references to nothing, patterns RE2 refuses (F7), and keywords the server does
    not run, anywhere in a schema (`root`: the document a `#/…` reference is read in; `node` by default)."""
    root = node if root is None else root
    if isinstance(node, dict):
        for key, value in node.items():
            here = [*path, key]
            if key in ("$ref", "$dynamicRef") and isinstance(value, str) and not value.startswith("#"):
                yield Problem(file, pointer(here), _("Only references inside the same file (starting with #) are allowed: %(ref)s", ref=value))
            elif key == "$ref" and isinstance(value, str) and not _resolves(value, root):
                yield Problem(file, pointer(here), _("The reference %(ref)s points to nothing in this file: add the definition it names "
                                                     "(e.g. under $defs) or correct the reference.", ref=value))
            elif key in ("$dynamicRef", "unevaluatedProperties", "unevaluatedItems"):
                yield Problem(file, pointer(here), _("The keyword %(key)s is not supported in a form; use $ref and "
                                                     "\"additionalProperties\": false instead.", key=key))
            elif key == "pattern" and isinstance(value, str):
                yield from _check_pattern(value, file, here)
            elif key == "patternProperties" and isinstance(value, dict):
                for regex in value:
                    yield from _check_pattern(regex, file, [*here, regex])
            yield from check_refs_and_patterns(value, file, here, root)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from check_refs_and_patterns(value, file, [*path, index], root)


def _resolves(ref: str, root: Any) -> bool:
    """Whether a `#` or `#/json/pointer` reference names a schema in `root` (anchors are not used by forms)."""
    if ref == "#":
        return True
    if not ref.startswith("#/"):
        return False
    target = root
    for part in ref[2:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return False
    return isinstance(target, (dict, bool))


# where a schema holds schemas that shape the stored data (not `if`, `not`, `contains`: those only test it)
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "dependentSchemas", "patternProperties")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_ONES = ("items", "additionalProperties", "then", "else")


def check_data_shapes(schema: dict, file: str) -> Iterator[Problem]:
    """What bounds a record: every list has a `maxItems` (checked before anything else on a save), every
    object refuses made-up keys, every long text has a `maxLength`."""
    from server.validation import MAX_ITEMS

    stack: list[tuple[Any, list]] = [(schema, [])]
    while stack:
        node, where = stack.pop()
        if not isinstance(node, dict):
            continue
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "array" in types:
            limit = node.get("maxItems")
            if not (isinstance(limit, int) and not isinstance(limit, bool) and 0 <= limit <= MAX_ITEMS):
                yield Problem(file, pointer(where), _("Add \"maxItems\" to this list (at most %(limit)s; for check boxes, the number of options): "
                                                      "a save checks how long a list is before anything else.", limit=MAX_ITEMS))
        if "object" in types and node.get("additionalProperties") is not False:
            yield Problem(file, pointer(where), _("Add \"additionalProperties\": false to this object: otherwise a save through the API "
                                                  "stores answers under names the form does not have."))
        if "string" in types and "maxLength" not in node and not options_of(node) and "const" not in node and "format" not in node:
            yield Problem(file, pointer(where), _("Add \"maxLength\" to this text (e.g. 2000 for a long text): without it one answer "
                                                  "may fill pages."))
        for key in _SUBSCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend((sub, [*where, key, name]) for name, sub in node[key].items())
        for key in _SUBSCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend((sub, [*where, key, index]) for index, sub in enumerate(node[key]))
        for key in _SUBSCHEMA_ONES:
            if isinstance(node.get(key), dict):
                stack.append((node[key], [*where, key]))


def _check_pattern(regex: str, file: str, path: list) -> Iterator[Problem]:
    try:
        re2.compile(regex)
    except Exception as exc:  # re2.error has no stable public base class
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        yield Problem(file, pointer(path), _("The pattern is not a regular expression this server can use (RE2 syntax; "
                                             "backreferences and look-arounds are not allowed): %(error)s", error=detail[:100]))


def check_layout_shape(layout: Any, file: str) -> Iterator[Problem]:
    meta, validator = layout_meta()
    block_types = [ref["$ref"].rsplit("/", 1)[-1] for ref in meta["$defs"]["block"]["oneOf"]]
    for error in validator.iter_errors(layout):
        yield from _explain_layout_error(error, block_types, file)


def _explain_layout_error(error: ValidationError, block_types: list[str], file: str) -> Iterator[Problem]:
    """A `oneOf` over block kinds says little; report the errors of the kind the block names."""
    instance = error.instance
    if error.validator == "oneOf" and isinstance(instance, dict) and "type" in instance and error.context:
        kind = instance.get("type")
        if kind not in block_types:
            yield Problem(file, pointer(error.absolute_path) + "/type",
                          _("Unknown block type %(type)s; use one of: %(types)s.", type=json.dumps(kind, ensure_ascii=False), types=", ".join(block_types)))
            return
        branch = block_types.index(kind)
        for sub in error.context:
            if sub.relative_schema_path and sub.relative_schema_path[0] == branch:
                yield from _explain_layout_error(sub, block_types, file)
        return
    yield Problem(file, pointer(error.absolute_path), _layout_message(error))


def _layout_message(error: ValidationError) -> str:
    value = error.validator_value
    if error.validator == "required":
        missing = [name for name in value if name not in error.instance]
        return _("Required key missing: %(names)s.", names=", ".join(missing))
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return _("Unknown key: %(names)s.", names=", ".join(extra))
    if error.validator == "enum":
        return _("Must be one of: %(options)s.", options=", ".join(json.dumps(v, ensure_ascii=False) for v in value))
    if error.validator == "pattern":
        return _("Not a valid field path: %(value)s.", value=json.dumps(error.instance, ensure_ascii=False))
    if error.validator == "type":
        return _("Wrong type: expected %(type)s.", type=value)
    return _("Does not match the layout format: %(error)s", error=error.message)


def iter_field_refs(layout: dict) -> Iterator[tuple[str, list, str | None]]:
    """(path, pointer parts, enclosing array field) of every field the layout shows.

    A table's or repeat's own field is yielded with pointer parts ending in "field"
    right after the block, which is how `check_layout_fields` knows it must hold rows."""
    for header_key in ("header", "footer"):
        for index, item in enumerate(layout.get(header_key, [])):
            if "field" in item:
                yield item["field"], [header_key, index, "field"], None
    yield from _block_refs(layout.get("blocks", []), ["blocks"], None)


def _block_refs(blocks: list, base: list, scope: str | None) -> Iterator[tuple[str, list, str | None]]:
    for index, block in enumerate(blocks):
        here = [*base, index]
        kind = block.get("type")
        if kind == "grid":
            for r, row in enumerate(block.get("rows", [])):
                for c, cell in enumerate(row):
                    if "field" in cell:
                        yield cell["field"], [*here, "rows", r, c, "field"], scope
        elif kind == "section":
            yield from _block_refs(block.get("blocks", []), [*here, "blocks"], scope)
        elif kind in ("table", "ledger_row"):
            inner = block["field"] if kind == "table" else scope
            if kind == "table":
                yield block["field"], [*here, "field"], scope
            for c, column in enumerate(block.get("columns", [])):
                if "field" in column:
                    yield column["field"], [*here, "columns", c, "field"], inner
        elif kind == "repeat":
            yield block["field"], [*here, "field"], scope
            yield from _block_refs(block.get("blocks", []), [*here, "blocks"], block["field"])
        elif kind == "matrix":
            for f, path in enumerate(block.get("fields", [])):
                yield path, [*here, "fields", f], scope
        elif kind == "signature":
            for key in ("field", "date_field"):
                if key in block:
                    yield block[key], [*here, key], scope
        elif kind == "text":
            for name in inline_fields(block.get("text", "")):
                yield name, [*here, "text"], scope


def check_layout_fields(fields: dict[str, FieldSpec], layout: dict, file: str) -> Iterator[Problem]:
    seen: dict[tuple[str | None, str], int] = {}
    rows_block: dict[str, list] = {}  # an array field → the pointer parts of the table or repeat showing its rows
    for path, parts, scope in iter_field_refs(layout):
        where = pointer(parts)
        known = fields if scope is None else fields[scope].item_fields if scope in fields else {}
        spec = known.get(path)
        if spec is None:
            yield Problem(file, where, _("The layout shows the field %(path)s, which the schema does not have.", path=path))
            continue
        if _is_rows_ref(layout, parts) and not spec.item_fields:
            yield Problem(file, where, _("A table or repeat needs an array of objects; %(path)s is not one.", path=path))
        if _is_rows_ref(layout, parts) and scope is None:
            rows_block.setdefault(path, parts[:-1])
        seen[(scope, path)] = seen.get((scope, path), 0) + 1
        if seen[(scope, path)] == 2:
            yield Problem(file, where, _("The field %(path)s is shown twice; show each field once.", path=path))
    for path, spec in fields.items():
        if (None, path) not in seen:
            yield Problem(file, "/blocks", _("The schema field %(path)s is not shown anywhere in the layout.", path=path))
        elif spec.item_fields:
            block_parts = rows_block.get(path, ["blocks"])
            block = _node_at(layout, block_parts)
            unseen = [item_path for item_path in spec.item_fields if (path, item_path) not in seen]
            if isinstance(block, dict) and block.get("type") == "table" and not block.get("columns"):
                yield Problem(file, pointer(block_parts), _("This table has no columns: add \"columns\" with one entry per field of its rows, "
                                                            "e.g. [%(example)s].", example=", ".join(
                                                                f'{{"field": "{name}"}}' for name in list(spec.item_fields)[:3]) + (", …" if len(spec.item_fields) > 3 else "")))
                continue
            for item_path in unseen:
                yield Problem(file, pointer(block_parts), _("The field %(path)s of %(parent)s is not shown in its table or repeat.", path=item_path, parent=path))
    roots = {path.split(".", 1)[0] for path in fields}
    yield from _check_when(layout, [], file, roots)
    yield from _check_list(fields, layout.get("list", {}), file)


def _node_at(document: Any, parts: list) -> Any:
    for part in parts:
        document = document[part] if isinstance(document, (dict, list)) else None
    return document


def _is_rows_ref(layout: dict, parts: list) -> bool:
    """Whether the reference is the `field` of a table or repeat block itself."""
    node: Any = layout
    for part in parts[:-1]:
        node = node[part]
    return parts[-1] == "field" and isinstance(node, dict) and node.get("type") in ("table", "repeat")


def _check_when(node: Any, path: list, file: str, roots: set[str]) -> Iterator[Problem]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "when":
                where = [*path, key]
                if not isinstance(value, dict):
                    yield Problem(file, pointer(where), _("A condition must be a JSON Schema object."))
                    continue
                for error in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(value):
                    yield Problem(file, pointer([*where, *error.absolute_path]), _("The condition is not a valid JSON Schema: %(error)s", error=error.message))
                yield from check_refs_and_patterns(value, file, where, value)
                for name in sorted({p.split(".", 1)[0] for p in condition_paths(value)} - roots):
                    yield Problem(file, pointer(where), _("The condition refers to %(name)s, which the schema does not have.", name=name))
            else:
                yield from _check_when(value, [*path, key], file, roots)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _check_when(value, [*path, index], file, roots)


def check_condition_values(fields: dict[str, FieldSpec], layout: dict, file: str) -> Iterator[Problem]:
    """A condition that can never hold: a value its field does not offer, or a block or cell shown only when
    one of its own fields is answered (it could never be answered while hidden)."""

    def tests(node: Any, specs: dict[str, FieldSpec], where: list, prefix: str = "") -> Iterator[Problem]:
        for name, test in ((node.get("properties") or {}).items() if isinstance(node, dict) else []):
            spec = specs.get(prefix + name)
            if spec is None and isinstance(test, dict):  # a group of fields: its own fields are tested inside
                yield from tests(test, specs, where, prefix + name + ".")
            if spec is None or not isinstance(test, dict):
                continue
            if spec.item_fields and isinstance(test.get("contains"), dict):
                yield from tests(test["contains"], spec.item_fields, where)
                continue
            value_test = test.get("contains") if spec.type == "array" and isinstance(test.get("contains"), dict) else test
            if "const" in value_test and spec.options and value_test["const"] not in [o.value for o in spec.options]:
                yield Problem(file, pointer(where), _("The condition tests “%(title)s” for %(value)s, which is not one of its options.",
                                                      title=spec.title, value=json.dumps(value_test["const"], ensure_ascii=False)))

    def walk(blocks: list, base: list) -> Iterator[Problem]:
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            if not isinstance(block, dict):
                continue
            here = [*base, index]
            if isinstance(block.get("when"), dict):
                yield from tests(block["when"], fields, [*here, "when"])
                if paths_in_block(block) & condition_paths(block["when"]):
                    yield Problem(file, pointer([*here, "when"]), _("A block cannot be shown only when one of its own fields is answered."))
            for r, row in enumerate(block.get("rows", []) if block.get("type") == "grid" else []):
                for c, cell in enumerate(row if isinstance(row, list) else []):
                    if isinstance(cell, dict) and isinstance(cell.get("when"), dict):
                        yield from tests(cell["when"], fields, [*here, "rows", r, c, "when"])
                        if cell.get("field") in condition_paths(cell["when"]):
                            yield Problem(file, pointer([*here, "rows", r, c, "when"]), _("A field cannot be shown only when it is itself answered."))
            if block.get("type") == "section":
                yield from walk(block.get("blocks", []), [*here, "blocks"])

    yield from walk(layout.get("blocks", []), ["blocks"])


def _check_list(fields: dict[str, FieldSpec], config: dict, file: str) -> Iterator[Problem]:
    for key in ("columns", "filters", "search"):
        for index, path in enumerate(config.get(key, [])):
            if not path.startswith(CONTEXT_PREFIX) and path not in fields:
                yield Problem(file, pointer(["list", key, index]), _("The list names the field %(path)s, which the schema does not have.", path=path))
    sort = config.get("sort", "").lstrip("-")
    if sort and not sort.startswith(CONTEXT_PREFIX) and sort not in fields:
        yield Problem(file, "/list/sort", _("The list sorts by %(path)s, which the schema does not have.", path=sort))


def check_repeats(layout: dict, file: str) -> Iterator[Problem]:
    """A `when` inside a repeat's items is not supported: items are shown, validated and stored whole."""
    def walk(blocks: list, base: list, inside: bool) -> Iterator[Problem]:
        for index, block in enumerate(blocks):
            here = [*base, index]
            if inside and (block.get("when") or any(c.get("when") for row in block.get("rows", []) for c in row)):
                yield Problem(file, pointer(here), _("A condition (when) inside a repeat is not supported; put it on the repeat itself."))
            if block.get("type") in ("section", "repeat"):
                yield from walk(block.get("blocks", []), [*here, "blocks"], inside or block.get("type") == "repeat")
    yield from walk(layout.get("blocks", []), ["blocks"], False)


def check_matrices(fields: dict[str, FieldSpec], layout: dict, file: str) -> Iterator[Problem]:
    """A matrix's questions are choice fields that all offer the same options (its columns)."""
    def walk(blocks: list, base: list, scope: str | None) -> Iterator[Problem]:
        for index, block in enumerate(blocks):
            here = [*base, index]
            if block.get("type") in ("section", "repeat"):
                yield from walk(block.get("blocks", []), [*here, "blocks"], block.get("field") if block.get("type") == "repeat" else scope)
            if block.get("type") != "matrix":
                continue
            known = fields if scope is None else fields[scope].item_fields if scope in fields else {}
            first = None
            for f, path in enumerate(block.get("fields", [])):
                spec = known.get(path)
                if spec is None:
                    continue  # reported by check_layout_fields
                offered = [(o.value, o.label) for o in spec.options]
                if not offered or spec.type == "array":
                    yield Problem(file, pointer([*here, "fields", f]), _("A matrix shows single-choice fields; %(path)s is not one.", path=path))
                elif first is None:
                    first = offered
                elif offered != first:
                    yield Problem(file, pointer([*here, "fields", f]), _("The field %(path)s offers other options than the first question of its matrix.", path=path))
    yield from walk(layout.get("blocks", []), ["blocks"], None)


def check_scoring(fields: dict[str, FieldSpec], rules: Any, file: str) -> Iterator[Problem]:
    """`x-scoring`: the rule format, read-only targets set once, inputs that are numbers known
    before the rule runs, ascending bands whose levels the target accepts."""
    if rules is None:
        return
    errors = list(scoring_meta().iter_errors(rules))
    for error in errors:
        yield Problem(file, pointer(["x-scoring", *error.absolute_path]), _("Not a valid scoring rule: %(error)s", error=error.message))
    if errors:
        return
    computed: set[str] = set()
    for index, rule in enumerate(rules):
        where = ["x-scoring", index]
        target = fields.get(rule["set"])
        operation = operation_of(rule)
        for i, path in enumerate(inputs_of(rule)):
            spec = fields.get(path)
            at = pointer([*where, operation, *([] if operation == "bands" else [i])])
            if spec is None:
                yield Problem(file, at, _("The scoring uses the field %(path)s, which the schema does not have.", path=path))
            elif spec.schema.get("readOnly") and path not in computed:
                yield Problem(file, at, _("The scoring uses %(path)s before a rule computes it.", path=path))
            elif spec.type not in ("integer", "number"):
                yield Problem(file, at, _("The scoring needs numbers; %(path)s is not a number field.", path=path))
        if target is None:
            yield Problem(file, pointer([*where, "set"]), _("The scoring sets the field %(path)s, which the schema does not have.", path=rule["set"]))
            continue
        if not target.schema.get("readOnly"):
            yield Problem(file, pointer([*where, "set"]), _("A computed field must be marked \"readOnly\": true: %(path)s.", path=rule["set"]))
        if target.required:
            yield Problem(file, pointer([*where, "set"]), _("A computed field cannot be required (it is filled in at save): %(path)s.", path=rule["set"]))
        if rule["set"] in computed:
            yield Problem(file, pointer([*where, "set"]), _("The field %(path)s is computed twice.", path=rule["set"]))
        computed.add(rule["set"])
        if operation == "bands":
            starts = [level["from"] for level in rule["levels"]]
            if any(b <= a for a, b in zip(starts, starts[1:])):
                yield Problem(file, pointer([*where, "levels"]), _("The bands must start at ascending values."))
            check = build_validator(target.schema)
            for n, level in enumerate(rule["levels"]):
                if not check.is_valid(level["value"]):
                    yield Problem(file, pointer([*where, "levels", n, "value"]), _("The level %(value)s is not a value the field %(path)s accepts.", value=json.dumps(level["value"], ensure_ascii=False), path=rule["set"]))
        elif target.type not in ("integer", "number"):
            yield Problem(file, pointer([*where, "set"]), _("A sum, mean or count goes into a number field; %(path)s is not one.", path=rule["set"]))
        elif target.type == "integer" and not _whole(rule, fields):
            yield Problem(file, pointer([*where, "set"]), _("%(path)s holds whole numbers: round the mean with \"round\": 0, or make the field a number.", path=rule["set"]))


def _whole(rule: dict, fields: dict[str, FieldSpec]) -> bool:
    """Whether a sum, mean or count always gives a whole number."""
    if "count" in rule or rule.get("round") == 0:
        return True
    if "sum" in rule and rule.get("round") is None:
        return all(fields[p].type == "integer" for p in rule["sum"] if p in fields)
    return False


def check_grids(layout: dict, file: str) -> Iterator[Problem]:
    """Spans in each grid row must fill the grid's columns, counting rowspans from above."""
    for parts, block in _grids(layout.get("blocks", []), ["blocks"]):
        columns = block.get("columns", 1)
        width = columns if isinstance(columns, int) else len(columns)
        carried: list[int] = []  # remaining rowspans of cells from rows above, one entry per column taken
        for r, row in enumerate(block.get("rows", [])):
            taken = sum(1 for left in carried if left > 0)
            used = taken + sum(cell.get("span", 1) for cell in row)
            if used != width:
                yield Problem(file, pointer([*parts, "rows", r]),
                              _("This row fills %(used)d of the grid's %(width)d columns.", used=used, width=width))
            carried = [left - 1 for left in carried if left > 1]
            for cell in row:
                if cell.get("rowspan", 1) > 1:
                    carried += [cell["rowspan"] - 1] * cell.get("span", 1)


def _grids(blocks: list, base: list) -> Iterator[tuple[list, dict]]:
    for index, block in enumerate(blocks):
        here = [*base, index]
        if block.get("type") == "grid":
            yield here, block
        elif block.get("type") in ("section", "repeat"):
            yield from _grids(block.get("blocks", []), [*here, "blocks"])


FORM_ID = re2.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_FIELDS = 1000
MARKUP = re2.compile(r"(?i)<\s*/?\s*[a-z!?]|javascript\s*:|\bon[a-z]+\s*=")
TEXT_KEYS = {"title", "description", "label", "text", "help", "placeholder", "heading", "caption", "note"}


MAX_DEPTH = 40


def too_deep(document: Any, file: str) -> list[Problem]:
    """A definition nested deeper than any form needs (the checks below recurse): refused before them."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return [Problem(file, "", _("The definition is nested more than %(limit)s levels deep.", limit=MAX_DEPTH))]
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return []


def check_publishable(form_id: Any, schema: Any, layout: Any) -> list[Problem]:
    """What a definition from the editor, an import or a script must pass before it is published:
    the checks of `check-forms`, a sane id, a bounded size, and text without markup (labels are
    shown as text everywhere; markup in them is a mistake or an attack, refused either way)."""
    if not isinstance(form_id, str) or not FORM_ID.match(form_id):
        return [Problem("", "", _("The form id must be 2 to 64 lower-case letters, digits or underscores, starting with a letter."))]
    schema_file, layout_file = f"{form_id}/schema.json", f"{form_id}/layout.json"
    size = len(json.dumps([schema, layout], ensure_ascii=False).encode("utf-8"))
    if size > MAX_DEFINITION_BYTES:
        return [Problem(schema_file, "", _("The definition is larger than 2 MB."))]
    deep = too_deep(schema, schema_file) + too_deep(layout, layout_file)
    if deep:
        return deep
    if isinstance(schema, dict) and _count_properties(schema) > MAX_FIELDS:
        return [Problem(schema_file, "/properties", _("The form has more than %(limit)s fields; split it into several forms.", limit=MAX_FIELDS))]
    problems = list(_markup(schema, schema_file, [])) + list(_markup(layout, layout_file, []))
    return problems + check_definition(form_id, schema, layout)


def _count_properties(node: Any) -> int:
    if isinstance(node, dict):
        own = len(node["properties"]) if isinstance(node.get("properties"), dict) else 0
        return own + sum(_count_properties(v) for v in node.values())
    if isinstance(node, list):
        return sum(_count_properties(v) for v in node)
    return 0


def _markup(node: Any, file: str, path: list) -> Iterator[Problem]:
    """Titles, help, labels and texts that hold HTML or script."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, (str, list)):
                for text in [value] if isinstance(value, str) else value:
                    if isinstance(text, str) and MARKUP.search(text):
                        yield Problem(file, pointer([*path, key]), _("Texts may not contain HTML tags or scripts: %(text)s", text=text[:60]))
                        break
            else:
                yield from _markup(value, file, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _markup(value, file, [*path, index])


def definition_warnings(form_id: str, schema: Any, layout: Any) -> list[Problem]:
    """What works but is probably not what the school meant: printed by `check-forms` and shown by the
    editor as reminders, never refusing the definition. For a definition the checks passed (its callers
    ask only then): the walks below trust its shape."""
    from server.access import DEFAULT_FORM_ACCESS, role_names

    if not isinstance(schema, dict) or not isinstance(layout, dict):
        return []
    file = f"{form_id}/layout.json"
    fields = collect_fields(schema)
    warnings: list[Problem] = []

    row_blocks = [b for b in _all_blocks(layout.get("blocks", [])) if b.get("type") in ("table", "repeat")]

    def named_by_context(blocks: list, index: int, heading: str, only_table: bool = True) -> bool:
        """A heading right above (the section's title, a heading text), or the form's one table at its top level."""
        before = blocks[index - 1] if index else None
        alone = sum(1 for b in blocks if isinstance(b, dict) and b.get("type") in ("table", "repeat")) == 1
        return ((bool(heading.strip()) and (index == 0 or (only_table and alone))) or (isinstance(before, dict) and before.get("type") == "text"
                                                           and before.get("style") == "heading")
                or (only_table and len(row_blocks) == 1 and blocks is layout.get("blocks")))

    def walk(blocks: list, base: list, scope: str | None, heading: str = "") -> None:
        for index, block in enumerate(blocks):
            here = [*base, index]
            kind = block.get("type")
            if kind in ("table", "repeat") and not str(block.get("title", "")).strip() and not named_by_context(blocks, index, heading):
                warnings.append(Problem(file, pointer(here), _("This table has no title: on screen and on paper nothing says what its rows "
                                                               "are. Add \"title\".") if kind == "table" else _(
                    "This repeated group has no title: on screen and on paper nothing says what its items are. Add \"title\".")))
            if kind == "grid":
                known = fields if scope is None else fields[scope].item_fields if scope in fields else {}
                covered = 0  # rows still covered by a label cell with a rowspan from above
                headed = named_by_context(blocks, index, heading, only_table=False)
                for r, row in enumerate(block.get("rows", [])):
                    labelled = covered > 0 or any(str(cell.get("label", "")).strip() for cell in row) or (headed and r == 0)
                    covered = max([covered - 1] + [cell.get("rowspan", 1) - 1 for cell in row if str(cell.get("label", "")).strip()])
                    for c, cell in enumerate(row):
                        if "field" in cell and not labelled and cell.get("field") in known and cell.get("widget") != "checkbox":  # a box shows its title
                            warnings.append(Problem(file, pointer([*here, "rows", r, c]), _(
                                "No label in this row: the title of %(title)s appears nowhere on screen or paper. Add a label cell "
                                "or a \"label\" to the cell.", title=known[cell["field"]].title)))
            if kind in ("section", "repeat"):
                walk(block.get("blocks", []), [*here, "blocks"], block.get("field") if kind == "repeat" else scope,
                     str(block.get("title", "")))

    walk(layout.get("blocks", []), ["blocks"], None)
    warnings += _writers_missing(schema, layout, file, DEFAULT_FORM_ACCESS, role_names())
    return warnings


def _writers_missing(schema: dict, layout: dict, file: str, defaults: dict, names: dict[str, str]) -> list[Problem]:
    """A signature or reply labelled with a role (班主任签名, 班主任意见) on a form only the 心理教师 may fill in:
    that role can never open the record to write it."""
    rules = schema.get("x-access") if isinstance(schema.get("x-access"), dict) else {}
    writers = set().union(*(set(rules.get(action, defaults[action])) for action in ("create", "edit")))
    if writers != {"psych_teacher"}:
        return []
    found = []
    for parts, label in _labels(layout.get("blocks", []), ["blocks"]):
        for role, name in names.items():
            if role not in writers and role != "admin" and name and name in label:
                found.append(Problem(file, pointer(parts), _(
                    "“%(label)s” is for the %(role)s, but only the psychology teacher may fill in or edit this form (x-access). "
                    "Add %(code)s to x-access create and edit, or ignore this if it is signed by hand on paper.",
                    label=label, role=name, code=role)))
                break
    return found


REPLY_WORDS = ("意见", "回复", "反馈", "签名", "签字")


def _all_blocks(blocks: list) -> Iterator[dict]:
    for block in blocks:
        yield block
        if block.get("type") in ("section", "repeat"):
            yield from _all_blocks(block.get("blocks", []))


def _labels(blocks: list, base: list) -> Iterator[tuple[list, str]]:
    """(pointer parts, text) of what someone writes or signs in the system: a signature with a field or
    date to fill in, a grid label that asks for an opinion or reply (意见, 回复, 签名…)."""
    for index, block in enumerate(blocks):
        here = [*base, index]
        if block.get("type") == "signature" and isinstance(block.get("label"), str) and ("field" in block or "date_field" in block):
            yield [*here, "label"], block["label"]
        elif block.get("type") == "grid":
            for r, row in enumerate(block.get("rows", [])):
                for c, cell in enumerate(row):
                    if isinstance(cell.get("label"), str) and any(word in cell["label"] for word in REPLY_WORDS):
                        yield [*here, "rows", r, c, "label"], cell["label"]
        if block.get("type") in ("section", "repeat"):
            yield from _labels(block.get("blocks", []), [*here, "blocks"])
