"""The form editor's edits: small named operations on a draft's schema and layout.

Each operation takes the posted form (strings) and changes the two JSON documents in place, or
raises EditRefused with a sentence for the admin. Operations are looked up by name in OPERATIONS,
like widgets in renderers.widgets: the route never branches on what is edited.

A place in the layout is written `b0.2/r1/c3`: block 0, its block 2 (inside a section or a
repeat), row 1, cell 3. Operations that name a place are refused on a stale draft (someone else
moved things meanwhile); those that name a field (its title, options, bounds) are applied to the
newest draft, so two admins editing different things never lose each other's edits.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from server.access import ACTIONS, DEFAULT_FORM_ACCESS
from server.checks import check_layout_shape, check_schema, iter_field_refs, too_deep
from server.definitions import FieldSpec, options_of, resolve_local_ref
from server.i18n import gettext as _

MAX_OPTIONS = 200
MAX_TEXT = 2000
KINDS = ("short_text", "long_text", "integer", "number", "date", "choice", "multi_choice", "boolean")
BLOCK_KINDS = ("section", "grid", "table", "text", "signature")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PLACE = re.compile(r"^b(\d{1,3}(?:\.\d{1,3}){0,4})(?:/r(\d{1,3})/c(\d{1,3}))?$")


class EditRefused(Exception):
    """An edit that cannot be made as asked; the message says why, in the admin's language."""


@dataclass(frozen=True)
class Place:
    blocks: tuple[int, ...]
    row: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        text = "b" + ".".join(map(str, self.blocks))
        return text if self.row is None else f"{text}/r{self.row}/c{self.col}"


def parse_place(text: str) -> Place:
    match = PLACE.match(text or "")
    if not match:
        raise EditRefused(_("The place in the form is not valid; reload the editor."))
    blocks = tuple(int(n) for n in match.group(1).split("."))
    return Place(blocks) if match.group(2) is None else Place(blocks, int(match.group(2)), int(match.group(3)))


# ---- finding things ---------------------------------------------------------------------------

def block_list(layout: dict, path: tuple[int, ...]) -> tuple[list, int, str | None]:
    """The list holding the block at `path`, its index there, and the array field whose rows it repeats."""
    blocks, scope = layout.get("blocks", []), None
    for depth, index in enumerate(path):
        if not isinstance(blocks, list) or not 0 <= index < len(blocks):
            raise EditRefused(_("That part of the form no longer exists; reload the editor."))
        if depth == len(path) - 1:
            return blocks, index, scope
        parent = blocks[index]
        if parent.get("type") == "repeat":
            scope = parent.get("field")
        elif parent.get("type") != "section":
            raise EditRefused(_("That part of the form no longer exists; reload the editor."))
        blocks = parent.get("blocks", [])
    raise EditRefused(_("That part of the form no longer exists; reload the editor."))


def block_at(layout: dict, path: tuple[int, ...]) -> tuple[dict, str | None]:
    blocks, index, scope = block_list(layout, path)
    return blocks[index], scope


def cell_at(layout: dict, place: Place) -> tuple[list, int, dict, str | None]:
    block, scope = block_at(layout, place.blocks)
    rows = block.get("rows") if block.get("type") == "grid" else None
    if place.row is None or not rows or not 0 <= place.row < len(rows) or not 0 <= (place.col or 0) < len(rows[place.row]):
        raise EditRefused(_("That cell no longer exists; reload the editor."))
    row = rows[place.row]
    return row, place.col or 0, row[place.col or 0], scope


def properties_of(schema: dict, scope: str | None) -> tuple[dict, dict]:
    """The object schema whose `properties` hold the fields at this scope (the rows' item for a repeat)."""
    target = schema
    if scope:
        target = field_parent(schema, scope)[0]["properties"][scope.rsplit(".", 1)[-1]].get("items", {})
    target.setdefault("properties", {})
    return target, target["properties"]


def field_parent(schema: dict, path: str, scope: str | None = None) -> tuple[dict, str]:
    """The object schema directly holding the field (`family.guardian` → the `family` object) and its name."""
    parent, _props = properties_of(schema, scope) if scope else (schema, schema.get("properties", {}))
    *groups, name = path.split(".")
    for group in groups:
        parent = parent.get("properties", {}).get(group)
        if not isinstance(parent, dict):
            raise EditRefused(_("The field %(field)s no longer exists; reload the editor.", field=path))
    if name not in parent.get("properties", {}):
        raise EditRefused(_("The field %(field)s no longer exists; reload the editor.", field=path))
    return parent, name


def field_schema(schema: dict, path: str, scope: str | None = None) -> dict:
    parent, name = field_parent(schema, path, scope)
    return parent["properties"][name]


def field_kind(sub: dict) -> str:
    """The editor's name for a field's type (the type menu): the renderers' kind, with whole numbers apart."""
    spec = FieldSpec(path="", schema=sub, required=False)
    return {"number": spec.type, "datetime": "short_text", "rows": "multi_choice"}.get(spec.kind, spec.kind)


def options_text(sub: dict) -> str:
    """The options as the admin edits them: one per line, `code=label` when they differ."""
    options = FieldSpec(path="", schema=sub, required=False).options
    return "\n".join(str(o.value) if str(o.value) == o.label else f"{o.value}={o.label}" for o in options)


# ---- conditions ---------------------------------------------------------------------------------

def condition(field: str, op: str, value: str, schema: dict) -> dict | None:
    """A `when` from the picker: show when FIELD equals / includes VALUE, or is filled.
    A column of a table (`rows[].col`) matches when any row does."""
    if not field:
        return None
    table, _sep, column = field.partition("[].")
    sub = field_schema(schema, column, table) if column else field_schema(schema, table)
    name = column or table
    if op == "filled":
        inner: dict = {"required": [name.split(".")[-1]]}
    elif op in ("equals", "includes"):
        typed = typed_value(value, sub.get("items", {}) if op == "includes" else sub)
        test = {"contains": {"const": typed}} if op == "includes" else {"const": typed}
        inner = {"required": [name.split(".")[-1]], "properties": {name.split(".")[-1]: test}}
    else:
        raise EditRefused(_("Choose how the condition compares."))
    for group in reversed(name.split(".")[:-1]):  # a field in a group: the group holds the test
        inner = {"required": [group], "properties": {group: inner}}
    if column:
        inner = {"required": [table], "properties": {table: {"contains": inner}}}
    return inner


def typed_value(value: str, sub: dict) -> Any:
    kind = sub.get("type", "string")
    for option in options_of(sub):
        if str(option.value) == value:
            return option.value
    if kind == "boolean":
        return value in ("true", "是", "1")
    if kind == "integer" and re.fullmatch(r"-?\d{1,15}", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d{1,15}(\.\d{1,10})?", value):
        return int(value) if "." not in value else float(value)
    return value


def describe_condition(when: Any) -> dict:
    """The picker's values for a condition it can show; `custom` for any other JSON Schema."""
    if not when:
        return {"field": "", "op": "", "value": "", "custom": False}
    node, prefix, table = when, [], ""
    while isinstance(node, dict) and set(node) <= {"required", "properties"}:
        props = node.get("properties") or {}
        if len(props) != 1 and not (not props and len(node.get("required", [])) == 1):
            break
        if not props:
            return {"field": _join(table, prefix + node["required"]), "op": "filled", "value": "", "custom": False}
        (name, test), = props.items()
        if isinstance(test, dict) and set(test) == {"const"}:
            return {"field": _join(table, prefix + [name]), "op": "equals", "value": str(test["const"]).lower()
                    if isinstance(test["const"], bool) else str(test["const"]), "custom": False}
        if isinstance(test, dict) and set(test) == {"contains"} and isinstance(test["contains"], dict):
            contains = test["contains"]
            if set(contains) == {"const"}:
                return {"field": _join(table, prefix + [name]), "op": "includes", "value": str(contains["const"]), "custom": False}
            if not table and not prefix:
                table, node = name, contains
                continue
        prefix.append(name)
        node = test
    return {"field": "", "op": "", "value": "", "custom": True}


def _join(table: str, names: list[str]) -> str:
    return f"{table}[].{'.'.join(names)}" if table else ".".join(names)


def condition_choices(schema: dict) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(path, title, options as (code, label)) of the fields a condition may test: top-level fields and table columns."""
    found = []

    def walk(props: dict, prefix: str, table: str, title_prefix: str) -> None:
        for name, sub in props.items():
            if not isinstance(sub, dict):
                continue
            path = f"{prefix}{name}"
            title = title_prefix + str(sub.get("title") or name)
            if sub.get("type") == "object" and "properties" in sub:
                walk(sub["properties"], path + ".", table, title + " · ")
            elif sub.get("type") == "array" and isinstance(sub.get("items"), dict) and sub["items"].get("type") == "object" and not table:
                walk(sub["items"].get("properties", {}), "", path, title + " · ")
            else:
                options = [(str(o.value), o.label) for o in FieldSpec(path="", schema=sub, required=False).options]
                if sub.get("type") == "boolean":
                    options = [("true", _("Yes")), ("false", _("No"))]
                found.append((f"{table}[].{path}" if table else path, title, options))

    walk(schema.get("properties", {}), "", "", "")
    return found


# ---- the operations -----------------------------------------------------------------------------

def number_or_none(text: str, integer: bool = False) -> int | float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        whole = integer and re.fullmatch(r"-?\d+\.\d*", text)
        raise EditRefused(_("%(value)s is not a whole number.", value=text[:20]) if whole else _("%(value)s is not a number.", value=text[:20])) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise EditRefused(_("%(value)s is not a number.", value=text[:20]))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if abs(value) > 1e12:
        raise EditRefused(_("%(value)s is too large.", value=text[:20]))
    return value


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        raise EditRefused(_("The text is longer than %(limit)s characters.", limit=limit))
    return text


def parse_options(text: str, integer: bool) -> list[tuple[Any, str]]:
    options, seen = [], set()
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        code, _sep, label = line.partition("=")
        code, label = code.strip(), (label.strip() or code.strip())
        value: Any = int(code) if integer and re.fullmatch(r"-?\d{1,9}", code) else code
        if integer and not isinstance(value, int):
            raise EditRefused(_("The codes of this field are numbers: %(code)s is not.", code=code[:20]))
        if value in seen:
            raise EditRefused(_("The option %(code)s is listed twice.", code=code[:20]))
        seen.add(value)
        options.append((value, clean_text(label, 100)))
    if not options:
        raise EditRefused(_("A choice needs at least one option, one per line."))
    if len(options) > MAX_OPTIONS:
        raise EditRefused(_("A field may have at most %(limit)s options.", limit=MAX_OPTIONS))
    return options


def options_schema(options: list[tuple[Any, str]]) -> dict:
    if all(str(code) == label for code, label in options):
        return {"enum": [code for code, _label in options]}
    return {"oneOf": [{"const": code, "title": label} for code, label in options]}


def new_field_schema(kind: str, old: dict, form: dict) -> dict:
    """The field's schema for the chosen type, keeping its title, help and our own `x-` keys."""
    if kind not in KINDS:
        raise EditRefused(_("Choose a type for the field."))
    kept = {k: v for k, v in old.items() if k.startswith("x-")}
    title = clean_text(form.get("title", ""), 100) or old.get("title", "")
    if not title:
        raise EditRefused(_("A field needs a title."))
    sub: dict[str, Any] = {"title": title, **kept}
    if description := clean_text(form.get("description", ""), 500):
        sub["description"] = description
    if kind in ("short_text", "long_text"):
        sub["type"] = "string"
        limit = number_or_none(form.get("maxLength", ""), integer=True)
        sub["maxLength"] = limit or (100 if kind == "short_text" else 2000)
        if (least := number_or_none(form.get("minLength", ""), integer=True)) is not None:
            sub["minLength"] = least
        if pattern := clean_text(form.get("pattern", ""), 200):
            sub["pattern"] = pattern
    elif kind in ("integer", "number"):
        sub["type"] = kind
        for key in ("minimum", "maximum"):
            if (bound := number_or_none(form.get(key, ""), integer=kind == "integer")) is not None:
                sub[key] = bound
        if "minimum" in sub and "maximum" in sub and sub["minimum"] > sub["maximum"]:
            raise EditRefused(_("The lowest value is above the highest."))
    elif kind == "date":
        sub.update(type="string", format="date")
    elif kind == "boolean":
        sub["type"] = "boolean"
    else:
        source = old.get("items", {}) if old.get("type") == "array" else old
        integer = source.get("type") == "integer" or (old.get("type") == "integer")
        options = options_schema(parse_options(form.get("options", ""), integer))
        if kind == "choice":
            sub.update(type="integer" if integer else "string", **options)
        else:
            count = len(options.get("enum") or options.get("oneOf") or options.get("anyOf") or [])
            sub.update(type="array", uniqueItems=True, maxItems=max(count, 1), items={**({"type": "integer"} if integer else {}), **options})
    if (default := (form.get("default") or "").strip()) and kind != "multi_choice":
        sub["default"] = number_or_none(default) if kind == "number" else typed_value(default, sub)
    return sub


def current_values(sub: dict, required: bool) -> dict[str, str]:
    """A field's settings as the field panel shows them (and posts them back as `was_…`)."""
    values = {key: "" if sub.get(key) is None else str(sub[key]).lower() if isinstance(sub[key], bool) else str(sub[key]) for key in
              ("title", "description", "minimum", "maximum", "minLength", "maxLength", "pattern", "default")}
    readers = (sub.get("x-access") or {}).get("read", []) if isinstance(sub.get("x-access"), dict) else []
    return {**values, "kind": field_kind(sub), "options": options_text(sub), "required": "on" if required else "",
            "readers": ",".join(readers)}


def op_field(schema: dict, layout: dict, form: dict) -> None:
    """What the admin changed of a field: title, help, type, options, bounds, pattern, default, required, who reads it.
    Only the posted keys change: the rest of the field's schema (a format, a shared `$defs` entry, …) stays."""
    path, scope = form.get("field", ""), form.get("scope") or None
    parent, name = field_parent(schema, path, scope)
    old = parent["properties"][name]
    if old.get("type") == "array" and isinstance(old.get("items"), dict) and old["items"].get("type") == "object":
        if "title" in form:  # a table: its title only
            old["title"] = clean_text(form["title"], 100) or old.get("title", name)
        return
    if form.get("kind") and form["kind"] != field_kind(old):  # a new type: the field is made anew, its title and help kept
        sub = new_field_schema(form["kind"], old, {**current_values(old, False), **form})
    else:
        sub = patched_field(old, form, schema)
    parent["properties"][name] = sub
    if "readers" in form and not scope:  # a sensitive field: only these roles read it (x-access)
        readers = [r for r in form["readers"].split(",") if r]
        sub.pop("x-access", None)
        if readers:
            sub["x-access"] = {"read": readers}
    if "required" in form:
        required = [n for n in parent.get("required", []) if n != name] + ([name] if form["required"] in ("on", "true", "1") else [])
        _set_or_drop(parent, "required", required or None)


def patched_field(old: dict, form: dict, root: dict) -> dict:
    """A copy of the field's schema with the posted settings applied; a field using a shared definition
    (`$ref`) gets its own copy of it only when its options or limits change."""
    sub = copy.deepcopy(old)
    limits = ("options", "minimum", "maximum", "minLength", "maxLength", "pattern", "default")
    if "$ref" in sub and any(key in form for key in limits):
        sub = {k: v for k, v in resolve_local_ref(sub, root).items() if k != "$ref"}
    if "title" in form:
        if not (title := clean_text(form["title"], 100)):
            raise EditRefused(_("A field needs a title."))
        sub["title"] = title
    if "description" in form:
        _set_or_drop(sub, "description", clean_text(form["description"], 500) or None)
    kind = field_kind(sub)
    if "options" in form and kind in ("choice", "multi_choice"):
        target = sub["items"] if kind == "multi_choice" else sub
        integer = target.get("type") == "integer" or sub.get("type") == "integer"
        for key in ("enum", "oneOf", "anyOf"):
            target.pop(key, None)
        target.update(options_schema(parse_options(form["options"], integer)))
    if kind in ("integer", "number"):
        for key in ("minimum", "maximum"):
            if key in form:
                _set_or_drop(sub, key, number_or_none(form[key], integer=kind == "integer"))
        if isinstance(sub.get("minimum"), (int, float)) and isinstance(sub.get("maximum"), (int, float)) and sub["minimum"] > sub["maximum"]:
            raise EditRefused(_("The lowest value is above the highest."))
    if sub.get("type") == "string" and kind in ("short_text", "long_text"):
        for key in ("minLength", "maxLength"):
            if key in form:
                value = number_or_none(form[key], integer=True)
                if value is not None and not 0 <= value <= 100_000:
                    raise EditRefused(_("A length is 0 to 100,000 characters."))
                _set_or_drop(sub, key, value)
        if "pattern" in form:
            _set_or_drop(sub, "pattern", clean_text(form["pattern"], 200) or None)
    if "default" in form and kind != "multi_choice":
        text = form["default"].strip()
        _set_or_drop(sub, "default", None if not text else number_or_none(text) if kind == "number" else typed_value(text, sub))
    return sub


def _set_or_drop(node: dict, key: str, value: Any) -> None:
    if value is None:
        node.pop(key, None)
    else:
        node[key] = value


def op_cell(schema: dict, layout: dict, form: dict) -> None:
    """A cell's label, span, rowspan and condition."""
    row, col, cell, _scope = cell_at(layout, parse_place(form.get("place", "")))
    if "field" not in cell and "context" not in cell:
        label = clean_text(form.get("label", ""), 200)
        if not label:
            raise EditRefused(_("A label cell needs its text."))
        cell["label"] = label
    for key in ("span", "rowspan"):
        value = number_or_none(form.get(key, ""), integer=True)
        if value is not None and not 1 <= value <= 24:
            raise EditRefused(_("A cell spans 1 to 24 columns or rows."))
        if value in (None, 1):
            cell.pop(key, None)
        else:
            cell[key] = value
    _set_when(cell, schema, form)
    if "field" in cell and col > 0 and set(row[col - 1]) - {"when"} <= {"label", "span", "rowspan", "align", "vertical"}:
        _set_when(row[col - 1], schema, form)  # the field's label cell shows and hides with it


def _set_when(node: dict, schema: dict, form: dict) -> None:
    if form.get("when_custom") == "keep":
        return
    when = condition(form.get("when_field", ""), form.get("when_op", ""), form.get("when_value", ""), schema)
    if when is None:
        node.pop("when", None)
    else:
        node["when"] = when


def op_block(schema: dict, layout: dict, form: dict) -> None:
    """A block's title, style, text and condition."""
    block, _scope = block_at(layout, parse_place(form.get("place", "")).blocks)
    kind = block.get("type")
    if kind in ("section", "table", "repeat") and "title" in form:
        title = clean_text(form.get("title", ""), 200)
        if title:
            block["title"] = title
        else:
            block.pop("title", None)
    if kind == "text" and "text" in form:
        paragraphs = [p.strip() for p in clean_text(form.get("text", "")).split("\n") if p.strip()]
        if not paragraphs:
            raise EditRefused(_("A text block needs its text."))
        block["text"] = paragraphs[0] if len(paragraphs) == 1 else paragraphs
    if kind == "signature" and "label" in form:
        block["label"] = clean_text(form.get("label", ""), 200) or block.get("label", "")
    if kind in ("section", "grid", "text", "signature", "table", "repeat"):
        _set_when(block, schema, form)


def op_move_cell(schema: dict, layout: dict, form: dict) -> None:
    place = parse_place(form.get("place", ""))
    row, col, cell, _scope = cell_at(layout, place)
    block, _ = block_at(layout, place.blocks)
    rows = block["rows"]
    direction = form.get("direction")
    if direction in ("left", "right"):
        other = col - 1 if direction == "left" else col + 1
        if not 0 <= other < len(row):
            raise EditRefused(_("The cell is already at the edge of its row."))
        row[col], row[other] = row[other], row[col]
    elif direction in ("up", "down"):  # trades places with the cell above or below; each place keeps its width
        target = place.row + (-1 if direction == "up" else 1)
        if not 0 <= target < len(rows) or col >= len(rows[target]):
            raise EditRefused(_("There is no cell there to trade places with."))
        other = rows[target][col]
        geometry = ("span", "rowspan")
        row[col] = {**{k: v for k, v in other.items() if k not in geometry}, **{k: v for k, v in cell.items() if k in geometry}}
        rows[target][col] = {**{k: v for k, v in cell.items() if k not in geometry}, **{k: v for k, v in other.items() if k in geometry}}
    else:
        raise EditRefused(_("Choose where to move the cell."))


def place_after_move(place_text: str, direction: str) -> str:
    """Where a moved cell is now, so the editor keeps it selected."""
    try:
        place = parse_place(place_text)
    except EditRefused:
        return ""
    if place.row is None:
        return ""
    row, col = place.row, place.col or 0
    row, col = {"left": (row, col - 1), "right": (row, col + 1), "up": (row - 1, col), "down": (row + 1, col)}.get(direction, (row, col))
    return str(Place(place.blocks, max(row, 0), max(col, 0)))


def op_delete_cell(schema: dict, layout: dict, form: dict) -> None:
    """A cell goes; a field shown nowhere else goes from the schema too (the publish review lists its data)."""
    place = parse_place(form.get("place", ""))
    row, col, cell, scope = cell_at(layout, place)
    block, _ = block_at(layout, place.blocks)
    row.pop(col)
    if not row:
        block["rows"].pop(place.row)
    else:  # the neighbour takes the width the row now lacks: it still fills the grid
        lacking = _grid_width(block) - sum(c.get("span", 1) for c in row)
        if lacking > 0:
            neighbour = row[col - 1] if col > 0 else row[0]
            neighbour["span"] = neighbour.get("span", 1) + lacking
    if "field" in cell:
        _drop_field_if_unshown(schema, layout, cell["field"], scope)


def _drop_field_if_unshown(schema: dict, layout: dict, path: str, scope: str | None) -> None:
    shown = {(ref, ref_scope) for ref, _where, ref_scope in iter_field_refs(layout)}
    if (path, scope) in shown:
        return
    parent, name = field_parent(schema, path, scope)
    del parent["properties"][name]
    if not scope:  # nor listed, filtered, searched or sorted by
        listing = layout.get("list", {})
        for key in ("columns", "filters", "search"):
            if path in listing.get(key, []):
                listing[key] = [p for p in listing[key] if p != path]
        if listing.get("sort", "").lstrip("-") == path:
            del listing["sort"]
    if name in parent.get("required", []):
        _set_or_drop(parent, "required", [n for n in parent["required"] if n != name] or None)
    tested = _tested_names(layout)
    if all(part in tested for part in ([scope] if scope else []) + path.split(".")):  # the field (or a namesake) in a condition
        raise EditRefused(_("A condition elsewhere tests this field; change that condition first."))


def _tested_names(node: Any, in_when: bool = False) -> set[str]:
    """Every name a `when` of the layout mentions, at any depth (groups, table columns through `contains`)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if in_when and key == "properties" and isinstance(value, dict):
                found |= set(value)
            elif in_when and key == "required" and isinstance(value, list):
                found |= {n for n in value if isinstance(n, str)}
            found |= _tested_names(value, in_when or key == "when")
    elif isinstance(node, list):
        for value in node:
            found |= _tested_names(value, in_when)
    return found


def op_merge_right(schema: dict, layout: dict, form: dict) -> None:
    place = parse_place(form.get("place", ""))
    row, col, cell, _scope = cell_at(layout, place)
    if col + 1 >= len(row):
        raise EditRefused(_("There is no cell to the right to merge with."))
    right = row[col + 1]
    if "field" in right or "context" in right:
        raise EditRefused(_("The cell to the right holds a field; delete or move it first."))
    cell["span"] = cell.get("span", 1) + right.get("span", 1)
    row.pop(col + 1)


def op_split(schema: dict, layout: dict, form: dict) -> None:
    """The reverse of a merge: a cell spanning several columns gives one back as an empty label."""
    row, col, cell, _scope = cell_at(layout, parse_place(form.get("place", "")))
    if cell.get("span", 1) < 2:
        raise EditRefused(_("The cell spans one column; there is nothing to split."))
    cell["span"] -= 1
    if cell["span"] == 1:
        del cell["span"]
    row.insert(col + 1, {"label": "　"})


def add_new_field(form: dict, props: dict) -> tuple[str, dict]:
    """A new field from the new-field form, added to `props` under the admin's name (it names the column of
    exports) or field_1, field_2 …; its name and schema."""
    sub = new_field_schema(form.get("kind", "short_text"), {}, {**form, "options": form.get("options") or "是\n否"})
    name = (form.get("name") or "").strip() or new_field_name(props)
    if not FIELD_NAME.match(name):
        raise EditRefused(_("A field's name is 1 to 40 lower-case letters, digits or underscores, starting with a letter."))
    if name in props:
        raise EditRefused(_("There is already a field named %(name)s.", name=name))
    props[name] = sub
    return name, sub


def new_field_name(props: dict) -> str:
    number = 1
    while f"field_{number}" in props:
        number += 1
    return f"field_{number}"


def op_add_field(schema: dict, layout: dict, form: dict) -> None:
    """A new field after a cell, or in a new row at the end of a grid: its label cell and its input cell."""
    place = parse_place(form.get("place", ""))
    block, scope = block_at(layout, place.blocks)
    if block.get("type") != "grid":
        raise EditRefused(_("Fields are added to a grid; choose a cell of a grid."))
    name, sub = add_new_field(form, properties_of(schema, scope)[1])
    cells = [{"label": sub["title"]}, {"field": name}]
    rows = block.setdefault("rows", [])
    if place.row is None or form.get("where") == "new_row":
        width = _grid_width(block)
        if width > 2:
            cells[1]["span"] = width - 1
        rows.append(cells) if place.row is None else rows.insert(place.row + 1, cells)
    else:  # after the cell: the two new cells take their width from it, or from the widest cell of the row
        row = rows[place.row]
        row[place.col + 1:place.col + 1] = cells
        for _needed in range(2):
            if sum(c.get("span", 1) for c in row) <= _grid_width(block):
                break
            donor = row[place.col] if row[place.col].get("span", 1) > 1 else max(row, key=lambda c: c.get("span", 1))
            if donor.get("span", 1) < 2:
                break  # nothing to take: the row is wider than the grid, and the editor says so
            donor["span"] -= 1
            if donor["span"] == 1:
                del donor["span"]


def _grid_width(block: dict) -> int:
    columns = block.get("columns")
    if isinstance(columns, list):
        return len(columns)
    if isinstance(columns, int):
        return columns
    return max((sum(c.get("span", 1) for c in row) for row in block.get("rows", [])), default=2)


def op_add_row(schema: dict, layout: dict, form: dict) -> None:
    block, _scope = block_at(layout, parse_place(form.get("place", "")).blocks)
    if block.get("type") != "grid":
        raise EditRefused(_("Rows are added to a grid."))
    label = clean_text(form.get("label", ""), 200)
    if not label:
        raise EditRefused(_("Give the new row its label."))
    block.setdefault("rows", []).append([{"label": label, **({"span": _grid_width(block)} if _grid_width(block) > 1 else {})}])


def op_add_block(schema: dict, layout: dict, form: dict) -> None:
    """A section, grid, text or signature block after the chosen one (or at the end)."""
    kind = form.get("kind")
    if kind not in BLOCK_KINDS:
        raise EditRefused(_("Choose the kind of block to add."))
    title = clean_text(form.get("title", ""), 200)
    if not title:  # nothing made-up is ever printed on the paper form
        raise EditRefused(_("Give the new block its title (or, for a text, its words)."))
    new: dict[str, Any]
    props = schema.setdefault("properties", {})
    if kind == "section":
        name = new_field_name(props)
        props[name] = {"title": title, "type": "string", "maxLength": 2000}
        new = {"type": "section", "title": title, "style": "band",
               "blocks": [{"type": "grid", "columns": 4, "rows": [[{"label": title}, {"field": name, "span": 3}]]}]}
    elif kind == "grid":
        new = {"type": "grid", "columns": 4, "rows": [[{"label": title, "span": 4}]]}
    elif kind == "table":  # rows the teacher adds as needed (台账, 记录行): an array field with one column to start
        name = new_field_name(props)
        props[name] = {
            "title": title, "type": "array", "maxItems": 100,
            "items": {"type": "object", "additionalProperties": False,
                      "properties": {"item": {"title": _("Entry"), "type": "string", "maxLength": 200}}}}
        new = {"type": "table", "field": name, "title": title, "numbered": True,
               "columns": [{"field": "item", "label": _("Entry")}]}
    elif kind == "text":
        new = {"type": "text", "text": title}
    else:
        new = {"type": "signature", "label": title}
    if form.get("place"):
        blocks, index, _scope = block_list(layout, parse_place(form["place"]).blocks)
        blocks.insert(index + 1, new)
    else:
        layout.setdefault("blocks", []).append(new)


def op_move_block(schema: dict, layout: dict, form: dict) -> None:
    blocks, index, _scope = block_list(layout, parse_place(form.get("place", "")).blocks)
    other = index + (-1 if form.get("direction") == "up" else 1)
    if not 0 <= other < len(blocks):
        raise EditRefused(_("The block is already at the edge."))
    blocks[index], blocks[other] = blocks[other], blocks[index]


def op_delete_block(schema: dict, layout: dict, form: dict) -> None:
    blocks, index, scope = block_list(layout, parse_place(form.get("place", "")).blocks)
    removed = blocks.pop(index)
    for path, _where, inner in list(iter_field_refs({"blocks": [removed]})):
        if inner is None:  # a table's or repeat's own columns go with its field
            _drop_field_if_unshown(schema, layout, path, scope)


def op_add_column(schema: dict, layout: dict, form: dict) -> None:
    """A column of a table block: a field of its rows."""
    block, scope = block_at(layout, parse_place(form.get("place", "")).blocks)
    if block.get("type") != "table":
        raise EditRefused(_("Columns are added to a table of rows."))
    if scope:
        raise EditRefused(_("A table inside a repeated group is edited in the JSON view."))
    name, sub = add_new_field(form, properties_of(schema, block["field"])[1])
    block.setdefault("columns", []).append({"field": name, "label": sub["title"]})


def op_delete_column(schema: dict, layout: dict, form: dict) -> None:
    block, _scope = block_at(layout, parse_place(form.get("place", "")).blocks)
    columns = block.get("columns", []) if block.get("type") == "table" else []
    index = number_or_none(form.get("column", ""), integer=True)
    if index is None or not 0 <= index < len(columns):
        raise EditRefused(_("That column no longer exists; reload the editor."))
    if len(columns) == 1:
        raise EditRefused(_("A table keeps at least one column; delete the table instead."))
    removed = columns.pop(index)
    _drop_field_if_unshown(schema, layout, removed["field"], block["field"])


def op_form(schema: dict, layout: dict, form: dict) -> None:
    """What the admin changed of the form: title, help, paper, who may do what, the list's columns and filters."""
    if "title" in form:
        if not (title := clean_text(form["title"], 100)):
            raise EditRefused(_("The form needs a title."))
        schema["title"] = layout["title"] = title
    if "description" in form:
        _set_or_drop(schema, "description", clean_text(form["description"], 2000) or None)
    paper = {**layout.get("paper", {})}
    for key, allowed in (("paper_size", ("A4", "A3", "B5")), ("orientation", ("portrait", "landscape"))):
        if key in form:
            if form[key] not in allowed:
                raise EditRefused(_("Choose a paper size and orientation."))
            paper["size" if key == "paper_size" else key] = form[key]
    if paper:
        layout["paper"] = paper
    if any(f"access_{action}" in form for action in ACTIONS):  # who may create, read, edit, print and export (x-access)
        rules = schema.get("x-access") if isinstance(schema.get("x-access"), dict) else DEFAULT_FORM_ACCESS
        schema["x-access"] = {action: [r for r in form[f"access_{action}"].split(",") if r] if f"access_{action}" in form
                              else list(rules.get(action, DEFAULT_FORM_ACCESS[action])) for action in ACTIONS}
    for key, name in (("columns", "list_columns"), ("filters", "list_filters")):
        if name in form:
            listing = layout.setdefault("list", {})
            _set_or_drop(listing, key, [p for p in form[name].split(",") if p] or None)


def op_json(schema: dict, layout: dict, form: dict) -> None:
    """The advanced view: both documents replaced as typed (checked like any other draft)."""
    new_schema, new_layout = parse_json(form.get("schema_json", ""), "schema.json"), parse_json(form.get("layout_json", ""), "layout.json")
    if not isinstance(new_schema, dict) or not isinstance(new_layout, dict):
        raise EditRefused(_("The schema and the layout must each be a JSON object."))
    # the draft may have problems to fix later, but its shape must be one the editor can show
    shape = too_deep(new_schema, "schema.json") + too_deep(new_layout, "layout.json")
    if not shape:
        shape = [p for p in check_schema(new_schema, "schema.json") if not p.pointer.startswith("/x-") and p.pointer.count("/") <= 2] + \
            list(check_layout_shape(new_layout, "layout.json"))
    if shape:
        raise EditRefused(_("Not saved: %(problems)s", problems="；".join(f"{p.file}{p.pointer} {p.message}" for p in shape[:3])))
    schema.clear()
    schema.update(new_schema)
    layout.clear()
    layout.update(new_layout)


def parse_json(text: str, file: str) -> Any:
    """JSON typed in the advanced view; EditRefused saying which file and where, in words."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EditRefused(_("%(file)s is not valid JSON: line %(line)s, column %(column)s.", file=file, line=exc.lineno,
                            column=exc.colno)) from None
    except RecursionError:
        raise EditRefused(_("%(file)s is nested too deep.", file=file)) from None


Operation = Callable[[dict, dict, dict], None]
OPERATIONS: dict[str, Operation] = {
    "field": op_field, "cell": op_cell, "block": op_block, "form": op_form,
    "move_cell": op_move_cell, "delete_cell": op_delete_cell, "merge_right": op_merge_right, "split": op_split,
    "add_field": op_add_field, "add_row": op_add_row, "add_block": op_add_block, "move_block": op_move_block,
    "delete_block": op_delete_block, "add_column": op_add_column, "delete_column": op_delete_column, "json": op_json,
}
BY_FIELD = frozenset({"field", "form"})  # applied to the newest draft even when the editor showed an older one


def apply(op: str, schema: dict, layout: dict, form: dict) -> tuple[dict, dict]:
    """The draft after one operation, on copies: a refused edit leaves the draft as it was."""
    operation = OPERATIONS.get(op)
    if operation is None:
        raise EditRefused(_("Unknown edit."))
    schema, layout = copy.deepcopy(schema), copy.deepcopy(layout)
    operation(schema, layout, form)
    return schema, layout


# ---- what the editor shows ------------------------------------------------------------------------

@dataclass
class Selection:
    """The thing the admin clicked: a cell (with its field), a block, or nothing (the form itself)."""

    place: str = ""
    kind: str = "form"  # form | block | cell
    block: dict | None = None
    cell: dict | None = None
    scope: str | None = None
    field_path: str = ""
    field: dict | None = None
    condition: dict | None = None
    values: dict[str, str] = dataclasses.field(default_factory=dict)  # the field panel's settings as shown (current_values)


def select(schema: dict, layout: dict, place_text: str) -> Selection:
    if not place_text:
        return Selection()
    try:
        place = parse_place(place_text)
        if place.row is None:
            block, scope = block_at(layout, place.blocks)
            return Selection(str(place), "block", block=block, scope=scope, condition=describe_condition(block.get("when")))
        _row, _col, cell, scope = cell_at(layout, place)
    except EditRefused:
        return Selection()
    found = Selection(str(place), "cell", cell=cell, scope=scope, condition=describe_condition(cell.get("when")))
    if "field" in cell:
        try:
            parent, name = field_parent(schema, cell["field"], scope)
        except EditRefused:
            return found
        found.field_path, found.field = cell["field"], parent["properties"][name]
        found.values = current_values(found.field, name in parent.get("required", []))
    return found


def form_values(schema: dict, layout: dict) -> dict[str, str]:
    """The form settings panel's values as shown (and posted back as `was_…`)."""
    rules = schema.get("x-access") if isinstance(schema.get("x-access"), dict) else DEFAULT_FORM_ACCESS
    paper, listing = layout.get("paper") or {}, layout.get("list") or {}
    return {"title": str(layout.get("title") or schema.get("title", "")), "description": str(schema.get("description", "")),
            "paper_size": paper.get("size", "A4"), "orientation": paper.get("orientation", "portrait"),
            "list_columns": ",".join(listing.get("columns", [])), "list_filters": ",".join(listing.get("filters", [])),
            **{f"access_{action}": ",".join(rules.get(action, DEFAULT_FORM_ACCESS[action])) for action in ACTIONS}}


def places_of(parts: list) -> tuple[str, str]:
    """(block place, cell place or "") of a JSON pointer's parts into the layout: blocks/1/blocks/0/rows/4/2 → b1.0, b1.0/r4/c2."""
    blocks: list[str] = []
    for index in range(0, len(parts) - 1, 2):
        key, number = parts[index], str(parts[index + 1])
        if key == "blocks" and number.isdigit():
            blocks.append(number)
            continue
        if key == "rows" and blocks and number.isdigit() and index + 2 < len(parts) and str(parts[index + 2]).isdigit():
            return f"b{'.'.join(blocks)}", f"b{'.'.join(blocks)}/r{number}/c{parts[index + 2]}"
        break
    return (f"b{'.'.join(blocks)}" if blocks else ""), ""


def problem_places(pointers: list[str]) -> dict[str, list[int]]:
    """Problem index by the editor places it concerns: a problem at `/blocks/0/rows/1/3` is at b0 and at b0/r1/c3."""
    places: dict[str, list[int]] = {}
    for index, text in enumerate(pointers):
        for place in places_of(text.strip("/").split("/") if text else []):
            if place:
                places.setdefault(place, []).append(index)
    return places


def field_places(layout: dict) -> dict[tuple[str | None, str], str]:
    """(enclosing rows field, field path) → the place showing it (its cell, else its block), for problems found in the schema."""
    found: dict[tuple[str | None, str], str] = {}
    for path, parts, scope in iter_field_refs(layout):
        block, cell = places_of(parts)
        if block:
            found.setdefault((scope, path), cell or block)
    return found


def schema_problem_place(pointer_text: str, places: dict[tuple[str | None, str], str]) -> str:
    """`/properties/plan/maxLength` → the cell of `plan`; `/properties/rows/items/properties/date` → the rows' cell or table."""
    parts = pointer_text.strip("/").split("/") if pointer_text else []
    if len(parts) < 2 or parts[0] != "properties":
        return ""
    if parts[2:4] == ["items", "properties"] and len(parts) > 4:
        return places.get((parts[1], parts[4])) or places.get((None, parts[1]), "")
    return places.get((None, parts[1]), "")


def place_label(place_text: str) -> str:
    """A place as the admin reads it, counted from 1: `b1.0/r4/c2` → 第 2 块 › 第 1 块 › 第 5 行第 3 格."""
    try:
        place = parse_place(place_text)
    except EditRefused:
        return ""
    parts = [_("block %(n)s", n=n + 1) for n in place.blocks]
    if place.row is not None:
        parts.append(_("row %(row)s, cell %(cell)s", row=place.row + 1, cell=(place.col or 0) + 1))
    return " › ".join(parts)


def selected_after(op: str, form: dict, before: tuple[dict, dict], after: tuple[dict, dict]) -> str:
    """What the editor selects after an edit: the cell or block just added or moved, else what was selected."""
    if op in ("delete_cell", "delete_block"):
        return ""
    if op == "move_cell":
        return place_after_move(form.get("place", ""), form.get("direction", ""))
    if op == "add_field":
        added = set(field_places(after[1]).items()) - set(field_places(before[1]).items())
        cells = [place for (_scope, _path), place in added if "/r" in place]
        return cells[0] if cells else form.get("select", "")
    if op == "add_block":
        if not form.get("place"):
            return f"b{len(after[1].get('blocks', [])) - 1}"
        try:
            place = parse_place(form["place"])
        except EditRefused:
            return ""
        return str(Place((*place.blocks[:-1], place.blocks[-1] + 1)))
    if op == "move_block":
        try:
            place = parse_place(form.get("place", ""))
        except EditRefused:
            return ""
        return str(Place((*place.blocks[:-1], place.blocks[-1] + (-1 if form.get("direction") == "up" else 1))))
    return form.get("select", "")
