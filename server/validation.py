"""From a form post or an API body to checked data, with a Chinese message per field.

HTML posts are strings: each field's widget turns them into the schema's type, then
the definition's prebuilt validator runs. Fields hidden by a `when` are dropped first:
neither shown, nor validated, nor stored.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import anyio
from jsonschema.exceptions import ValidationError

from renderers.plan import field_widgets
from renderers.widgets import MISSING
from server.definitions import Definition, FieldSpec, add_group_objects, build_validator, delete_path, get_path, pointer, set_path
from server.i18n import gettext as _, local_today
from server.scoring import compute, drop_computed

MAX_STRING_CHARS = 20_000  # a single answer; schemas usually set a lower maxLength
MAX_DEPTH = 32  # objects and lists nested deeper than any form needs
SMALL_INT = re.compile(r"[0-9]{1,9}")
# Pictographs an emoji sequence joins (U+200D between two of them: 👨‍👩‍👧, ❤️‍🔥, 🧑🏽‍💻), with the emoji variation selector.
_EMOJI = "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
# The one rule for invisible characters in anything a person types (answers, the roster, names, labels):
# C0/C1 controls (tab and new lines are fine), zero-width and bidirectional controls (U+200B, U+202E …),
# and a zero-width joiner that does not join two emoji. Emoji, their joiners and variation selectors pass.
CONTROL_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b\u200c\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
    f"|(?<![{_EMOJI}\ufe0f])\u200d|\u200d(?![{_EMOJI}])")
LINE_BREAKS = re.compile(r"\r\n?")
MAX_ROWS = 500
MAX_ITEMS = MAX_ROWS  # any list of an answer, whatever its schema says (table rows are the longest)
MAX_ERRORS = 100  # problems listed for one save; the rest are counted
MAX_VALUES = 20_000  # answers, lists and groups in one record: 500 table rows of 40 cells
ROW_KEY = re.compile(r"^(?P<index>[0-9]{1,4})\.(?P<rest>.+)$")
ANY_ROW_KEY = re.compile(r"^(?P<index>[0-9]+)\.")


class FormLike(Protocol):
    def getall(self, key: str, default: Any = ...) -> list[Any]: ...
    def keys(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class FieldError:
    path: tuple  # ("sessions", 0, "topic")
    message: str

    @property
    def name(self) -> str:
        """The input name on the entry page."""
        return ".".join(str(p) for p in self.path)

    @property
    def pointer(self) -> str:
        return pointer(self.path)


def small_int(value: Any) -> int | None:
    """An id, version, page or row number from a request: ASCII digits, at most 9 of them."""
    return int(value) if isinstance(value, str) and SMALL_INT.fullmatch(value) else None


def form_text(form: FormLike, key: str) -> str:
    """A control value of a form post (`_action`, `_student`, `_version`); never a file."""
    values = form.getall(key, [])
    return values[0] if values and isinstance(values[0], str) else ""


def parse_form(definition: Definition, form: FormLike, keep_empty_rows: bool = False) -> dict:
    """Typed data from posted strings; what was left empty is left out."""
    widgets = field_widgets(definition)
    keys = list(form.keys())
    data: dict = {}
    for path, spec in definition.fields.items():
        if spec.item_fields:
            rows = _parse_rows(spec, form, keys, widgets, keep_empty_rows)
            if rows:
                set_path(data, path, rows)
            continue
        value = widgets[(None, path)].parse(_strings(form, path), spec)
        if value is not MISSING:
            set_path(data, path, value)
    return data


def _strings(form: FormLike, key: str) -> list[str]:
    # one more value than any list may hold is enough to refuse the post, and keeps parsing linear in the form
    return [v if isinstance(v, str) else "" for v in form.getall(key, [])[:MAX_ITEMS + 1]]


def _parse_rows(spec: FieldSpec, form: FormLike, keys: list[str], widgets: dict, keep_empty: bool) -> list[dict]:
    prefix = spec.path + "."
    indexes = sorted({int(m.group("index")) for k in keys if k.startswith(prefix) and (m := ROW_KEY.match(k[len(prefix):]))})
    rows = []
    for index in indexes[:MAX_ROWS]:
        item: dict = {}
        for sub_path, sub_spec in spec.item_fields.items():
            value = widgets[(spec.path, sub_path)].parse(_strings(form, f"{prefix}{index}.{sub_path}"), sub_spec)
            if value is not MISSING:
                set_path(item, sub_path, value)
        # an unticked checkbox answers False: a row holding nothing else is still an empty row
        if keep_empty or any(value is not False for value in item.values()):
            rows.append(item)
    return rows


def carry_unposted(definition: Definition, stored: dict, posted: dict) -> dict:
    """Fields whose widget sends nothing (read-only, file) keep their stored value on a page save."""
    for (scope, path), widget in field_widgets(definition).items():
        if scope is None and not widget.posts_value and (value := get_path(stored, path)) is not None:
            set_path(posted, path, value)
    return posted


def apply_row_action(definition: Definition, data: dict, action: str) -> None:
    """`add:<field>` appends an empty row, `remove:<field>:<n>` drops one (entry page buttons)."""
    verb, _sep, rest = action.partition(":")
    path, _sep, index = rest.partition(":")
    spec = definition.fields.get(path)
    if spec is None or not spec.item_fields:
        return
    rows = get_path(data, path)
    if not isinstance(rows, list):  # a nested array (`family.members`) lives under its parent object
        rows = []
        set_path(data, path, rows)
    if verb == "add" and len(rows) < MAX_ROWS:
        rows.append({})
    elif verb == "remove" and (number := small_int(index)) is not None and number < len(rows):
        rows.pop(number)


def drop_hidden(definition: Definition, data: dict) -> set[str]:
    """Remove what `when` hides, until nothing more is hidden (a hidden answer can hide others)."""
    hidden: set[str] = set()
    while True:
        now = definition.hidden_paths(data)
        for path in now - hidden:
            delete_path(data, path)
        if now <= hidden:
            return hidden
        hidden |= now


DRAFT_MAY_SKIP = frozenset({"required", "dependentRequired"})  # a 草稿 may leave out answers, never give wrong ones


def validate(definition: Definition, data: Any, *, draft: bool = False) -> list[FieldError]:
    """Every problem, one per field, in Chinese; hidden fields are removed from `data` first.
    When there is none, the definition's scores are computed into `data`.
    `draft`: a half-filled record (草稿) may skip what DRAFT_MAY_SKIP names (its required answers); types,
    lengths, options and patterns still apply. Its scores are computed when it is finished, not from a part."""
    if not isinstance(data, dict):
        return [FieldError((), _("The data must be a JSON object."))]
    # lists longer than the form allows are refused before anything whose cost grows with their length
    too_long = [found for error in definition.size_validator.iter_errors(data) for found in _explain(definition, error)]
    if too_long:
        return capped(too_long)
    normalise_line_endings(data)
    bad = list(_bad_values(data))
    if bad:
        return capped(bad)
    drop_computed(definition.scoring, data)
    hidden = drop_hidden(definition, data)
    add_group_objects(definition.schema, data)
    errors: dict[tuple, FieldError] = {}
    for error in definition.validator.iter_errors(data):
        if draft and error.validator in DRAFT_MAY_SKIP:
            continue
        for found in _explain(definition, error):
            if not _under(found.path, hidden):  # neither shown nor validated
                errors.setdefault(found.path, found)
    for found in answer_rule_errors(definition, data):
        errors.setdefault(found.path, found)
    for found in date_order_errors(definition, data):
        if not _under(found.path, hidden):
            errors.setdefault(found.path, found)
    if not errors:
        return [] if draft else computed_errors(definition, data)
    return capped(list(errors.values()))


async def validate_off_loop(definition: Definition, data: Any, *, draft: bool = False) -> list[FieldError]:
    """`validate` in a worker thread: a large body is checked while other requests are answered."""
    return await anyio.to_thread.run_sync(functools.partial(validate, definition, data, draft=draft))


def capped(errors: list[FieldError]) -> list[FieldError]:
    """At most MAX_ERRORS problems, then one line saying how many more there are: a page or an
    answer listing a hundred thousand problems helps nobody and costs the server."""
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return errors[:MAX_ERRORS] + [FieldError((), _("%(count)s more problems are not listed; fix those above and save again.", count=more))]


def explain_error(error: ValidationError) -> list[FieldError]:
    """jsonschema's error as the Chinese messages a save shows (also used for a definition's examples)."""
    return _explain(None, error)


def create_limit_errors(definition: Definition, roles: frozenset[str], data: Any) -> list[FieldError]:
    """`x-create-when`: when every role that lets this user create the form is limited, the new record must
    match one of those roles' schemas (a 班主任 creates in-school referrals only); the first refusal is told."""
    limits = definition.schema.get("x-create-when") or {}
    if not roles or any(role not in limits for role in roles) or not isinstance(data, dict):
        return []
    refusals = []
    for role in sorted(roles):
        key = ("create-when", role)
        if key not in definition.cache:  # definitions are immutable: one validator per role (RE2, formats, no remote refs)
            definition.cache[key] = build_validator(limits[role])
        found = [e for error in definition.cache[key].iter_errors(data) for e in _explain(definition, error)]
        if not found:
            return []
        refusals = refusals or found
    return refusals


def date_order_errors(definition: Definition, data: dict) -> list[FieldError]:
    """`x-after` on a top-level date field: it must be later than the date of the field named (e.g. a sealing's
    end after the application). JSON Schema cannot compare two answers, so the definition declares it."""
    wrong = []
    for path, spec in definition.fields.items():
        earlier = spec.schema.get("x-after")
        if not earlier or "." in path:
            continue
        value, before = data.get(path), data.get(earlier)
        if isinstance(value, str) and isinstance(before, str) and _iso_day(value) and _iso_day(before) and value <= before:
            wrong.append(FieldError((path,), _("Must be after %(field)s (%(date)s).", field=field_title(definition, (earlier,)),
                                                date=before)))
    return wrong


def _iso_day(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def computed_errors(definition: Definition, data: dict) -> list[FieldError]:
    """Compute the scores into `data`, stored with the answers they come from. A score that does not
    fit its own field is the definition's fault: the save is refused with a message saying so."""
    compute(definition.scoring, data)
    wrong = []
    for path, validator in definition.computed_validators.items():
        value = get_path(data, path)
        if value is None:
            continue
        if (isinstance(value, float) and not math.isfinite(value)) or not validator.is_valid(value):
            wrong.append(FieldError(tuple(path.split(".")), _("This score does not fit its field; the form's scoring rules need fixing by an administrator.")))
    return wrong


def _under(path: tuple, hidden: set[str]) -> bool:
    names = [str(p) for p in path]
    return any(".".join(names[:n]) in hidden for n in range(1, len(names) + 1))


def normalise_line_endings(data: Any) -> None:
    """Every entrance stores line breaks as \\n (a browser posts \\r\\n, an API client may send \\r):
    the same text saved again from the page is then the same answer."""
    stack = [data]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in list(pairs):
            if isinstance(value, str):
                if "\r" in value:
                    node[key] = LINE_BREAKS.sub("\n", value)
            elif isinstance(value, (dict, list)):
                stack.append(value)


def answer_rule_errors(definition: Definition, data: dict) -> Iterable[FieldError]:
    """What JSON Schema cannot say: a single-line field holds no line break (its input could not show one,
    and a save from the page would join the lines); a date marked `"x-not-after": "today"` is not in the future."""
    today = local_today().isoformat()
    for (scope, path), widget in field_widgets(definition).items():
        spec = definition.fields[scope].item_fields.get(path) if scope else definition.fields.get(path)
        single_line = widget.name == "text"
        not_after = spec is not None and spec.schema.get("x-not-after") == "today"
        if not (single_line or not_after):
            continue
        for where, value in _values_at(data, scope, path):
            if not isinstance(value, str):
                continue
            if single_line and "\n" in value:
                yield FieldError(where, _("This field holds a single line: please remove the line breaks."))
            elif not_after and len(value) == 10 and value > today:
                yield FieldError(where, _("This date cannot be later than today (%(today)s).", today=today))


def _values_at(data: dict, scope: str | None, path: str) -> Iterable[tuple[tuple, Any]]:
    """(error path, value) of a field, or of that column in each row of the table `scope`."""
    if scope is None:
        yield tuple(path.split(".")), get_path(data, path)
        return
    rows = get_path(data, scope)
    for index, row in enumerate(rows if isinstance(rows, list) else []):
        if isinstance(row, dict):
            yield (*scope.split("."), index, *path.split(".")), get_path(row, path)


def row_index_errors(definition: Definition, form: FormLike) -> list[FieldError]:
    """A posted row number beyond what its table may hold (`events.999999.day`) refuses the save: the row
    would otherwise be dropped without a word."""
    keys = list(form.keys())
    errors = []
    for path, spec in definition.fields.items():
        if not spec.item_fields:
            continue
        prefix = path + "."
        limit = min(MAX_ROWS, spec.schema.get("maxItems", MAX_ROWS))
        for key in keys:
            found = ANY_ROW_KEY.match(key[len(prefix):]) if key.startswith(prefix) else None
            if found and (len(found["index"]) > 9 or int(found["index"]) >= limit):
                errors.append(FieldError(tuple(path.split(".")), _(
                    "The page sent row %(row)s of this table, which holds at most %(limit)s rows: nothing was saved. "
                    "Please reload the page and enter the rows again.", row=found["index"][:12], limit=limit)))
                break
    return errors


def _field_path(definition: Definition, path: tuple) -> tuple:
    """An error about one ticked option of a check box group (`activities.0`) belongs to the group,
    where the page shows its message."""
    if definition is None:  # a definition's example being checked: pointers as they are
        return path
    fields, start = definition.fields, 0
    for index, part in enumerate(path):
        if not isinstance(part, str):
            continue
        spec = fields.get(".".join(str(p) for p in path[start:index + 1]))
        if spec is None:
            continue
        if spec.item_fields:
            fields, start = spec.item_fields, index + 2  # past the row number
        elif spec.type == "array" and index + 1 < len(path):
            return path[:index + 1]
    return path


def _bad_values(data: Any) -> Iterable[FieldError]:
    """Answers no form asks for: too long, invisible control characters, nested too deep.
    Walked with a stack, so a hostile body cannot exhaust Python's recursion limit."""
    stack: list[tuple[Any, tuple]] = [(data, ())]
    visited = 0
    while stack:
        value, path = stack.pop()
        visited += 1
        if isinstance(value, list) and len(value) > MAX_ITEMS:  # a list longer than any form allows
            yield FieldError(path, _("Please choose or add at most %(limit)s.", limit=MAX_ITEMS))
            continue
        if visited + len(stack) + (len(value) if isinstance(value, (dict, list)) else 0) > MAX_VALUES:
            # bounds the work of every later step, whatever the body holds
            yield FieldError((), _("The data holds more answers than any form has."))
            return
        if len(path) > MAX_DEPTH:
            yield FieldError(path[:MAX_DEPTH], _("The data is nested too deeply."))
            return
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                yield FieldError(path, _("This answer is too long."))
            elif CONTROL_CHARS.search(value):
                yield FieldError(path, _("This answer contains invisible control characters."))
        elif isinstance(value, float) and not math.isfinite(value):
            yield FieldError(path, _("Please enter a number."))
        elif isinstance(value, dict):
            stack.extend((sub, (*path, key)) for key, sub in value.items())
        elif isinstance(value, list):
            stack.extend((sub, (*path, index)) for index, sub in enumerate(value))


def _explain(definition: Definition | None, error: ValidationError) -> list[FieldError]:
    path = tuple(error.absolute_path)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return [FieldError((*path, name), _("This field is required.")) for name in value if name not in error.instance]
    if kind == "dependentRequired":
        return [FieldError((*path, name), _("This field is required.")) for names in value.values() for name in names
                if name not in error.instance]
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        message = _("This form has no field with this name.")
        return [FieldError((*path, name), message) for name in extra]
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    return [FieldError(_field_path(definition, path), custom if isinstance(custom, str) and custom else _message(kind, value, error))]


def _message(kind: str, value: Any, error: ValidationError) -> str:
    if kind == "type":
        wanted = value if isinstance(value, str) else value[0]
        return {
            "integer": _("Please enter a whole number."),
            "number": _("Please enter a number."),
            "string": _("Please enter text."),
            "boolean": _("Please choose yes or no."),
            "array": _("Please choose from the options."),
        }.get(wanted, _("The value has the wrong type."))
    if kind in ("enum", "const", "oneOf", "anyOf"):
        return _("Please choose one of the options.")
    if kind == "minLength":
        return _("Please enter at least %(limit)s characters.", limit=value)
    if kind == "maxLength":
        return _("Please enter at most %(limit)s characters (now %(count)s).", limit=value, count=len(error.instance))
    if kind in ("minimum", "exclusiveMinimum"):
        return _("The value must be at least %(limit)s.", limit=value) if kind == "minimum" else _("The value must be greater than %(limit)s.", limit=value)
    if kind in ("maximum", "exclusiveMaximum"):
        return _("The value must be at most %(limit)s.", limit=value) if kind == "maximum" else _("The value must be less than %(limit)s.", limit=value)
    if kind == "pattern":
        hint = error.schema.get("description") if isinstance(error.schema, dict) else ""
        return _("The format is not valid: %(hint)s", hint=hint) if hint else _("The format is not valid.")
    if kind == "format":
        return _("Please enter a valid date (YYYY-MM-DD).") if value == "date" else _("The format is not valid.")
    if kind == "minItems":
        return _("Please choose or add at least %(limit)s.", limit=value)
    if kind == "maxItems":
        return _("Please choose or add at most %(limit)s.", limit=value)
    if kind == "uniqueItems":
        return _("Each option may be chosen only once.")
    return _("The value is not valid.")


def field_title(definition: Definition, path: tuple) -> str:
    """The title of the field an error is about, for messages outside the page (API)."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return ""
    # the longest leading path that is a field: `family.members` of ("family", "members", 1, "age")
    cut = next((n for n in range(len(names), 0, -1) if ".".join(names[:n]) in definition.fields), 0)
    if not cut:  # a group of fields (`family`), or a name the schema does not have
        node = definition.schema
        for name in names:
            node = (node.get("properties") or {}).get(name, {}) if isinstance(node, dict) else {}
        return node.get("title", names[-1]) if isinstance(node, dict) else names[-1]
    top = definition.fields[".".join(names[:cut])]
    if top.item_fields and cut < len(names):
        sub = top.item_fields.get(".".join(names[cut:]))
        row = next((p for p in path if isinstance(p, int)), None)
        if row is not None:  # 家庭成员 · 第 2 行 · 年龄: which row the message is about
            where = _("item %(number)s", number=row + 1) if top.path in _repeat_paths(definition) else _("row %(number)s", number=row + 1)
            return f"{top.title} · {where} · {sub.title}" if sub else f"{top.title} · {where}"
        return f"{top.title} · {sub.title}" if sub else top.title
    return top.title


def _repeat_paths(definition: Definition) -> set[str]:
    """Array fields the layout shows as repeated blocks (第 2 项) rather than table rows (第 2 行)."""
    cached = definition.cache.get("repeat_paths")
    if cached is not None:
        return cached
    found, stack = set(), list(definition.layout.get("blocks", []))
    while stack:
        block = stack.pop()
        if isinstance(block, dict):
            if block.get("type") == "repeat" and isinstance(block.get("field"), str):
                found.add(block["field"])
            stack.extend(block.get("blocks", []) if isinstance(block.get("blocks"), list) else [])
    definition.cache["repeat_paths"] = found
    return found
