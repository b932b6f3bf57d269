"""The widget registry: how a field is typed on screen, read back from a form post, and shown.

A field's widget is looked up by the shape of its data (`FieldSpec.kind`), unless the
layout names one. Each widget knows its entry macro (templates/widgets.html), how to
turn posted strings into the schema's type, and how its value is displayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from server.definitions import FieldSpec, Option
from server.i18n import gettext as _

MISSING = object()  # nothing was entered: the key is left out of the record


def _text(values: list[str], spec: FieldSpec) -> Any:
    value = values[0].replace("\r\n", "\n") if values else ""
    return value if value.strip() else MISSING


def _number(values: list[str], spec: FieldSpec) -> Any:
    raw = values[0].strip() if values else ""
    if not raw:
        return MISSING
    try:
        return int(raw) if spec.type == "integer" else float(raw) if ("." in raw or "e" in raw.lower()) else int(raw)
    except ValueError:
        return raw  # left as typed: the schema's type check reports it in Chinese


def _choice(values: list[str], spec: FieldSpec) -> Any:
    raw = values[0] if values else ""
    if raw == "":
        return MISSING
    return _option_value(raw, choices(spec))


def _choices(values: list[str], spec: FieldSpec) -> Any:
    picked = [_option_value(v, choices(spec)) for v in values if v != ""]
    return picked or MISSING


def _checkbox(values: list[str], spec: FieldSpec) -> Any:
    return bool(values) and values[0] in ("true", "on", "1")


def _readonly(values: list[str], spec: FieldSpec) -> Any:
    return MISSING


def _option_value(raw: str, options: list[Option]) -> Any:
    for option in options:
        if form_value(option.value) == raw:
            return option.value
    return raw


def form_value(value: Any) -> str:
    """How a value is written into an HTML form (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def choices(spec: FieldSpec) -> list[Option]:
    """The options of a choice field; a boolean offers 是 / 否."""
    if spec.options:
        return spec.options
    if spec.type == "boolean":
        return [Option(True, _("Yes")), Option(False, _("No"))]
    if spec.type == "integer" and "minimum" in spec.schema and "maximum" in spec.schema:
        low, high = int(spec.schema["minimum"]), int(spec.schema["maximum"])
        if high - low <= 20:
            return [Option(n, str(n)) for n in range(low, high + 1)]
    return []


@dataclass(frozen=True)
class Widget:
    name: str
    parse: Callable[[list[str], FieldSpec], Any]
    display: str  # the display.html macro: text, long, date, choice, multi, boolean
    inline: bool = True  # fits inside a line of text (letter blanks)


WIDGETS: dict[str, Widget] = {
    w.name: w
    for w in [
        Widget("text", _text, "text"),
        Widget("textarea", _text, "long", inline=False),
        Widget("number", _number, "text"),
        Widget("date", _text, "date"),
        Widget("time", _text, "text"),
        Widget("datetime", _text, "text"),
        Widget("radio", _choice, "choice"),
        Widget("select", _choice, "choice"),
        Widget("scale", _choice, "choice"),
        Widget("checkboxes", _choices, "multi", inline=False),
        Widget("checkbox", _checkbox, "boolean"),
        Widget("readonly", _readonly, "text"),
        Widget("file", _readonly, "text"),
        Widget("photo", _readonly, "text"),
    ]
}

# The widget a field gets when the layout names none, by the shape of its data.
DEFAULT_BY_KIND: dict[str, str] = {
    "short_text": "text",
    "long_text": "textarea",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
    "choice": "radio",
    "long_choice": "select",
    "boolean": "radio",
    "multi_choice": "checkboxes",
}
MAX_RADIO_OPTIONS = 6


def widget_for(spec: FieldSpec, override: str | None = None) -> Widget:
    if override:
        return WIDGETS[override]
    kind = spec.kind
    if kind == "choice" and len(choices(spec)) > MAX_RADIO_OPTIONS:
        kind = "long_choice"
    return WIDGETS[DEFAULT_BY_KIND.get(kind, "text")]
