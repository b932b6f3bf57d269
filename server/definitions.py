"""A form definition, compiled once: its fields, its validator and its `when` conditions.

A field is named by its dotted path from the schema's root (`family.structure`); an
array of objects is one field whose items have fields of their own (`sessions` →
`topic`). Everything here is computed at load time so requests only look things up.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import re2
import referencing
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from server.paths import delete_path, get_path, pointer, set_path, unanswered  # noqa: F401  (re-exported)
from server.scoring import Rule, parse_rules

CONTEXT_PREFIX = "@"
FORMAT_CHECKER = FormatChecker()
QUIET_RE2 = re2.Options()
QUIET_RE2.log_errors = False  # a refused regex is reported to whoever wrote it, not to the server's stderr


@FORMAT_CHECKER.checks("regex", raises=Exception)
def _re2_regex_format(instance: object) -> bool:
    """`"format": "regex"` compiles the answer with RE2, as every other regex a definition brings."""
    return not isinstance(instance, str) or bool(re2.compile(instance, QUIET_RE2))


def _re2_pattern(validator, pattern, instance, schema):
    """`pattern` checked with RE2: linear time, so an admin's pattern cannot hang the server (F7)."""
    if validator.is_type(instance, "string") and not re2.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _re2_pattern_properties(validator, patterns, instance, schema):
    """`patternProperties` with RE2: a key cannot make a definition's regex backtrack for seconds."""
    if not validator.is_type(instance, "object"):
        return
    for regex, subschema in patterns.items():
        compiled = re2.compile(regex)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=regex)


def _re2_additional_properties(validator, allowed, instance, schema):
    """`additionalProperties`, matching `patternProperties` with RE2 (jsonschema's own uses `re`)."""
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = [re2.compile(regex) for regex in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in known and not any(p.search(key) for p in patterns)]
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras[:20]))} unexpected)")


def _unique_key(value: Any) -> Any:
    """A hashable stand-in with JSON Schema's equality: 1 == 1.0, True != 1, objects unordered."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_unique_key(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, _unique_key(v)) for k, v in value.items()))
    return ("?", repr(value))


def _linear_unique_items(validator, unique, instance, schema):
    """`uniqueItems` in linear time (jsonschema compares every pair when items mix types)."""
    if unique and validator.is_type(instance, "array"):
        seen: set = set()
        for item in instance:
            key = _unique_key(item)
            if key in seen:
                yield ValidationError(f"{instance!r:.200} has non-unique elements")
                return
            seen.add(key)


SafeValidator = validators.extend(Draft202012Validator, {
    "pattern": _re2_pattern, "patternProperties": _re2_pattern_properties,
    "additionalProperties": _re2_additional_properties, "uniqueItems": _linear_unique_items})
EMPTY_REGISTRY: referencing.Registry = referencing.Registry()

# the keywords a cheap first pass follows to find every array of the data and its `maxItems`
_SIZE_KEYWORDS = ("$ref", "properties", "items", "prefixItems", "allOf", "maxItems")
LONGEST_LIST = 500  # what the first pass allows a list without a `maxItems` (the checks require one)


def _items_of_short_lists(validator, items, instance, schema):
    """`items`, not descending into a list already too long: its length is the one problem to report."""
    if validator.is_type(instance, "array") and len(instance) > min(schema.get("maxItems", LONGEST_LIST), LONGEST_LIST):
        return
    yield from Draft202012Validator.VALIDATORS["items"](validator, items, instance, schema)


SizeValidator = validators.create(
    meta_schema=Draft202012Validator.META_SCHEMA,
    validators={**{k: v for k, v in Draft202012Validator.VALIDATORS.items() if k in _SIZE_KEYWORDS}, "items": _items_of_short_lists},
    type_checker=Draft202012Validator.TYPE_CHECKER,
)  # no `version`: that would register the class as the validator of every 2020-12 schema


def build_size_validator(schema: dict) -> Draft202012Validator:
    """Only `maxItems` along the schema's properties and items: run before the full validator, so a
    list far longer than the form allows is refused before any keyword whose cost grows with it."""
    return SizeValidator(schema, registry=EMPTY_REGISTRY)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # a cell a spreadsheet runs as a formula: refused in titles, neutralised in exports


def build_validator(schema: dict) -> Draft202012Validator:
    """A prebuilt validator that checks formats and never fetches a remote `$ref` (F8)."""
    return SafeValidator(schema, registry=EMPTY_REGISTRY, format_checker=FORMAT_CHECKER)


@dataclass
class Option:
    value: Any
    label: str
    colour: str = ""  # a school's colour for a risk level (`x-risk-level`), "#rrggbb"


@dataclass
class FieldSpec:
    """One field of the schema, with what every layer needs to know about it."""

    path: str
    schema: dict
    required: bool
    item_fields: dict[str, "FieldSpec"] = field(default_factory=dict)
    computed: bool = False  # set by a scoring rule at save, never typed
    decimals: int | None = None  # how a computed number is shown

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def title(self) -> str:
        return self.schema.get("title") or self.name

    @property
    def description(self) -> str:
        return self.schema.get("description", "")

    @property
    def type(self) -> str:
        t = self.schema.get("type", "string")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), "string")
        return t

    @property
    def risk_level(self) -> bool:
        """An ordinal risk level (0 常规 … 3 高危) whose names and colours the school sets."""
        return self.schema.get("x-risk-level") is True

    @cached_property
    def options(self) -> list[Option]:
        """The choices of an enum field, or of the items of an array of enums."""
        source = self.schema.get("items", {}) if self.type == "array" else self.schema
        return options_of(source)

    @property
    def kind(self) -> str:
        """A short key describing the shape of the data; widgets are looked up by it."""
        if self.computed:
            return "computed"
        if self.type == "array":
            if self.item_fields:
                return "rows"
            return "multi_choice"
        if self.options:
            return "choice"
        if self.type == "boolean":
            return "boolean"
        if self.type in ("integer", "number"):
            return "number"
        if self.schema.get("format") == "date":
            return "date"
        if self.schema.get("format") == "date-time":
            return "datetime"
        max_length = self.schema.get("maxLength")
        return "short_text" if max_length is not None and max_length <= 100 else "long_text"


def options_of(schema: dict) -> list[Option]:
    if "enum" in schema:
        return [Option(v, str(v)) for v in schema["enum"]]
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if branches and all(isinstance(b, dict) and "const" in b for b in branches):
            return [Option(b["const"], b.get("title", str(b["const"]))) for b in branches]
    return []


def collect_fields(schema: dict, prefix: str = "", root: dict | None = None) -> dict[str, FieldSpec]:
    """Every field of an object schema: nested plain objects are flattened into dotted paths.
    A local `$ref` (`#/$defs/phone`) is resolved, so the field sees the type, limits and options."""
    root = schema if root is None else root
    fields: dict[str, FieldSpec] = {}
    required = set(schema.get("required", []))
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        sub = resolve_local_ref(sub, root)
        path = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            fields.update(collect_fields(sub, prefix=path + ".", root=root))
            continue
        spec = FieldSpec(path=path, schema=sub, required=name in required)
        items = resolve_local_ref(sub.get("items"), root) if isinstance(sub.get("items"), dict) else sub.get("items")
        if sub.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object":
            spec.item_fields = collect_fields(items, root=root)
        fields[path] = spec
    return fields


def resolve_local_ref(schema: dict, root: dict, depth: int = 0) -> dict:
    """`{"$ref": "#/$defs/x", "title": …}` → the referenced schema with the local keys on top."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/") or depth > 10:
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        return schema
    return {**resolve_local_ref(target, root, depth + 1), **{k: v for k, v in schema.items() if k != "$ref"}}


def add_group_objects(schema: dict, data: dict) -> None:
    """A group of fields (`family`) is always an object, empty when nothing in it was answered,
    so a missing answer is reported at its own field (`family.guardian`), not at the group."""
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict) and sub.get("type") == "object" and "properties" in sub:
            if name not in data:
                data[name] = {}
            if isinstance(data[name], dict):
                add_group_objects(sub, data[name])


def walk_blocks(blocks: list[dict]) -> Iterator[dict]:
    """Every block, depth first, including those nested in sections (not in repeats)."""
    for block in blocks:
        yield block
        if block.get("type") == "section":
            yield from walk_blocks(block.get("blocks", []))


@dataclass
class Definition:
    """A checked, compiled form: what the registry hands to renderers and routes."""

    form_id: str
    schema: dict
    layout: dict
    version: int = 1
    source_dir: Path | None = None
    examples: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = collect_fields(self.schema)
        self.scoring: list[Rule] = parse_rules(self.schema.get("x-scoring"))
        self.computed_validators: dict[str, Draft202012Validator] = {}  # a computed value must fit its field
        for rule in self.scoring:
            if (spec := self.fields.get(rule.target)) is not None:
                spec.computed, spec.decimals = True, rule.digits
                self.computed_validators[rule.target] = build_validator(spec.schema)
        self.validator = build_validator(self.schema)
        self.size_validator = build_size_validator(self.schema)
        self._when_validators: dict[int, tuple[dict, Draft202012Validator]] = {}
        self.cache: dict[str, Any] = {}  # renderers keep their compiled pieces here

    @property
    def title(self) -> str:
        return self.layout.get("title") or self.schema.get("title") or self.form_id

    @property
    def subject(self) -> str:
        return self.schema.get("x-subject", "student")

    @property
    def students_rule(self) -> dict:
        """`x-students`: how the entry page names the students a record is about (`label`) and whether only
        students who have left school may be chosen (`left_school`, e.g. a decision on leavers' files)."""
        rule = self.schema.get("x-students")
        return rule if isinstance(rule, dict) else {}

    @property
    def grades(self) -> list[int]:
        """The grades the form is meant for (`x-grades`, e.g. a scale for 七至九年级); empty for all."""
        return list(self.schema.get("x-grades") or [])

    @property
    def paper(self) -> dict:
        return {"size": "A4", "orientation": "portrait", **self.layout.get("paper", {})}

    @property
    def list_config(self) -> dict:
        return self.layout.get("list", {})

    @property
    def record_date_field(self) -> str | None:
        """`x-record-date`: the field holding the day a record is about (a session's date, not the day it was saved)."""
        path = self.schema.get("x-record-date")
        return path if isinstance(path, str) and path in self.fields else None

    def record_date(self, data: dict) -> dt.date | None:
        """The day a record is about, when the definition declares it and the record gives it."""
        value = get_path(data, self.record_date_field) if self.record_date_field else None
        try:
            return dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    @property
    def ledger_block(self) -> dict | None:
        """A form whose layout is a ledger row (台账) also prints as one ledger of many records."""
        return next((b for b in self.layout.get("blocks", []) if b.get("type") == "ledger_row"), None)

    def field(self, path: str, within: str | None = None) -> FieldSpec | None:
        if within:
            parent = self.fields.get(within)
            return parent.item_fields.get(path) if parent else None
        return self.fields.get(path)

    def when_matches(self, when: dict | None, data: dict) -> bool:
        if not when:
            return True
        # conditions are the layout's own dicts, alive as long as the definition: key them by identity
        found = self._when_validators.get(id(when))
        if found is None or found[0] is not when:
            found = self._when_validators[id(when)] = (when, build_validator(when))
        return found[1].is_valid(data)

    def hidden_paths(self, data: dict) -> set[str]:
        """Fields inside blocks or cells whose `when` does not match this record."""
        hidden: set[str] = set()
        for block in walk_blocks(self.layout.get("blocks", [])):
            if not self.when_matches(block.get("when"), data):
                hidden.update(paths_in_block(block))
            elif block.get("type") == "grid":
                for row in block.get("rows", []):
                    for cell in row:
                        if "field" in cell and not self.when_matches(cell.get("when"), data):
                            hidden.add(cell["field"])
        return hidden


def paths_in_block(block: dict) -> set[str]:
    """Top-level field paths a block shows (an array field counts once for its table or repeat)."""
    kind = block.get("type")
    if kind in ("table", "repeat"):
        return {block["field"]}
    if kind == "section":
        return set().union(*(paths_in_block(b) for b in block.get("blocks", []))) if block.get("blocks") else set()
    if kind == "grid":
        return {c["field"] for row in block.get("rows", []) for c in row if "field" in c}
    if kind == "ledger_row":
        return {c["field"] for c in block.get("columns", []) if "field" in c}
    if kind == "signature":
        return {block[k] for k in ("field", "date_field") if k in block}
    if kind == "matrix":
        return set(block.get("fields", []))
    if kind == "text":
        return set(inline_fields(block.get("text", "")))
    return set()


def condition_paths(when: Any, prefix: str = "") -> set[str]:
    """Field paths a `when` looks at: names under `properties`/`required`, nested objects as
    dotted paths, through allOf/anyOf/oneOf/not."""
    if not isinstance(when, dict):
        return set()
    properties = when.get("properties") if isinstance(when.get("properties"), dict) else {}
    paths = {prefix + name for name in properties} | {prefix + n for n in when.get("required", []) if isinstance(n, str)}
    for name, sub in properties.items():
        paths |= condition_paths(sub, prefix + name + ".")
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in when.get(key, []) if isinstance(when.get(key), list) else []:
            paths |= condition_paths(sub, prefix)
    return paths | condition_paths(when.get("not"), prefix)


def inline_fields(text: str | list[str]) -> list[str]:
    """The `{{field}}` blanks of a text block (context blanks `{{@…}}` excluded)."""
    paragraphs = [text] if isinstance(text, str) else text
    found = []
    for paragraph in paragraphs:
        for name in re.findall(r"\{\{\s*([^{}\s]+)\s*\}\}", paragraph):
            if not name.startswith(CONTEXT_PREFIX):
                found.append(name)
    return found
