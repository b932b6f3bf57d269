"""The widget registry: how a field is typed on screen, read back from a form post, and shown.

A field's widget is looked up by the shape of its data (`FieldSpec.kind`), unless the
layout names one. Each widget knows how to write its input (a small Python function:
the entry page has one per field, so it must be cheap), how to turn posted strings
into the schema's type, and which display.html macro shows its value.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from markupsafe import escape

from server.definitions import FieldSpec, Option
from server.i18n import gettext as _, local_today

MISSING = object()  # nothing was entered: the key is left out of the record

# The school's names and colours of the risk levels, by ordinal ({"label", "colour"} each), set per
# request from the school's settings; empty: the definitions' own labels.
risk_levels: ContextVar[tuple[dict, ...]] = ContextVar("risk_levels", default=())


def _text(values: list[str], spec: FieldSpec) -> Any:
    value = values[0].replace("\r\n", "\n") if values else ""
    return value if value.strip() else MISSING


def _number(values: list[str], spec: FieldSpec) -> Any:
    raw = values[0].strip() if values else ""
    if not raw:
        return MISSING
    try:
        number = int(raw) if spec.type == "integer" else float(raw) if ("." in raw or "e" in raw.lower()) else int(raw)
    except ValueError:
        return raw  # left as typed: the schema's type check reports it in Chinese
    return number if not isinstance(number, float) or math.isfinite(number) else raw


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


def level_names(spec: FieldSpec) -> tuple:
    """The school's names and colours that a risk-level field's options show (a cache key part)."""
    return tuple((level.get("label"), level.get("colour")) for level in risk_levels.get()) if spec.risk_level else ()


def choices(spec: FieldSpec) -> list[Option]:
    """The options of a choice field; a boolean offers 是 / 否; a risk level is named as the school names it."""
    if spec.options:
        levels = risk_levels.get() if spec.risk_level else ()
        if levels:
            return [Option(o.value, levels[o.value].get("label") or o.label, levels[o.value].get("colour", ""))
                    if type(o.value) is int and 0 <= o.value < len(levels) else o for o in spec.options]
        return spec.options
    if spec.type == "boolean":
        return [Option(True, _("Yes")), Option(False, _("No"))]
    if spec.type == "integer" and "minimum" in spec.schema and "maximum" in spec.schema:
        low, high = int(spec.schema["minimum"]), int(spec.schema["maximum"])
        if high - low <= 20:
            return [Option(n, str(n)) for n in range(low, high + 1)]
    return []


class InputState(Protocol):
    """What an input needs from the render state (renderers.forms.RenderState)."""

    def input_attrs(self, spec: FieldSpec, name: str, suffix: str = "") -> str: ...


# --- inputs: each returns escaped HTML; every attribute value is quoted (F5) ---------

def _limits(spec: FieldSpec) -> str:
    out = ""
    if spec.schema.get("maxLength"):
        out += f' maxlength="{int(spec.schema["maxLength"])}"'
    if spec.required:
        out += ' aria-required="true"'
    return out


def _input(kind: str) -> Callable[[InputState, FieldSpec, str, Any], str]:
    def render(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
        if isinstance(value, str) and "\n" in value:
            # stored before single-line fields refused line breaks: a one-line input would drop them on the
            # next save without a word; shown whole, the save asks for them to be removed
            return _textarea_input(state, spec, name, value)
        return f'<input type="{kind}" {state.input_attrs(spec, name)} value="{escape(form_value(value))}"{_limits(spec)}>'
    return render


def date_limit(spec: FieldSpec) -> str:
    """The last day a date field accepts (`"x-not-after": "today"`) for the input's `max`; part of the
    empty-input cache key, so a page built yesterday is not served today."""
    return local_today().isoformat() if spec.schema.get("x-not-after") == "today" else ""


def _date_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    latest = date_limit(spec)
    bound = f' max="{latest}"' if latest else ""
    return f'<input type="date" {state.input_attrs(spec, name)} value="{escape(form_value(value))}"{bound}{_limits(spec)}>'


def _textarea_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    return f'<textarea {state.input_attrs(spec, name)} rows="3"{_limits(spec)}>{escape(form_value(value))}</textarea>'


def _number_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    bounds = "".join(f' {attr}="{escape(spec.schema[key])}"' for key, attr in (("minimum", "min"), ("maximum", "max"))
                     if key in spec.schema)
    step = "1" if spec.type == "integer" else "any"
    return (f'<input type="number" {state.input_attrs(spec, name)} value="{escape(form_value(value))}" step="{step}"'
            f'{bounds}{_limits(spec)}>')


def marked_options(spec: FieldSpec, value: Any) -> Iterator[tuple[int, Option, str, bool]]:
    """(index, option, its form code, whether the value holds it) for each choice of the field."""
    picked = {form_value(v) for v in value} if isinstance(value, list) else {form_value(value)} if value is not None else set()
    for index, option in enumerate(choices(spec)):
        code = form_value(option.value)
        yield index, option, code, code in picked


def _option_inputs(kind: str, css: str = "options") -> Callable[[InputState, FieldSpec, str, Any], str]:
    def render(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
        items = []
        for index, option, code, picked in marked_options(spec, value):
            checked = " checked" if picked else ""
            items.append(f'<label class="option"><input type="{kind}" {state.input_attrs(spec, name, f"-{index}")} '
                         f'value="{escape(code)}"{checked}>{escape(option.label)}</label>')
        role = "radiogroup" if kind == "radio" else "group"
        return f'<span class="{css}" role="{role}" aria-label="{escape(spec.title)}">{"".join(items)}</span>'
    return render


def _select_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    current = form_value(value) if value is not None else None
    options = "".join(
        f'<option value="{escape(code)}"{" selected" if code == current else ""}>{escape(option.label)}</option>'
        for option in choices(spec) for code in [form_value(option.value)])
    prompt = escape(_("Please choose"))
    return f'<select {state.input_attrs(spec, name)}{_limits(spec)}><option value="">{prompt}</option>{options}</select>'


def _checkbox_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    checked = " checked" if value is True else ""
    return (f'<label class="option"><input type="checkbox" {state.input_attrs(spec, name)} value="true"{checked}>'
            f'{escape(spec.title)}</label>')


def _readonly_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    return f'<span class="readonly">{escape(form_value(value))}</span>'


def computed_text(spec: FieldSpec, value: Any) -> str:
    """A computed score as printed: a mean keeps its decimals (2.00, not 2.0)."""
    if spec.decimals and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{spec.decimals}f}"
    return form_value(value)


def _computed_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    if value is None:
        pending = escape(_("Computed when saved"))  # Babel does not look inside f-strings
        return f'<span class="computed pending">{pending}</span>'
    return f'<span class="computed">{escape(computed_text(spec, value))}</span>'


def _photo_input(state: InputState, spec: FieldSpec, name: str, value: Any) -> str:
    label = escape(_("Photo"))
    return f'<span class="photo-box">{label}</span>'


@dataclass(frozen=True)
class Widget:
    name: str
    entry: Callable[[InputState, FieldSpec, str, Any], str]
    parse: Callable[[list[str], FieldSpec], Any]
    display: str  # the display.html macro: text, long, date, choice, multi, boolean
    single_input: bool = True  # one element a <label for> can name (not a group of options)

    @property
    def posts_value(self) -> bool:
        """False for widgets that show a value but send none back (a save keeps the stored one)."""
        return self.parse is not _readonly


WIDGETS: dict[str, Widget] = {
    w.name: w
    for w in [
        Widget("text", _input("text"), _text, "text"),
        Widget("textarea", _textarea_input, _text, "long"),
        Widget("number", _number_input, _number, "text"),
        Widget("date", _date_input, _text, "date"),
        Widget("time", _input("time"), _text, "text"),
        Widget("datetime", _input("datetime-local"), _text, "text"),
        Widget("radio", _option_inputs("radio"), _choice, "choice", single_input=False),
        Widget("select", _select_input, _choice, "choice"),
        Widget("scale", _option_inputs("radio", "options scale"), _choice, "choice", single_input=False),
        Widget("checkboxes", _option_inputs("checkbox"), _choices, "multi", single_input=False),
        Widget("checkbox", _checkbox_input, _checkbox, "boolean"),
        Widget("readonly", _readonly_input, _readonly, "text", single_input=False),
        Widget("computed", _computed_input, _readonly, "computed", single_input=False),
        Widget("file", _readonly_input, _readonly, "text", single_input=False),
        Widget("photo", _photo_input, _readonly, "text", single_input=False),
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
    "computed": "computed",
}
MAX_RADIO_OPTIONS = 6


def widget_for(spec: FieldSpec, override: str | None = None) -> Widget:
    if override:
        return WIDGETS[override]
    kind = spec.kind
    if kind == "choice" and len(choices(spec)) > MAX_RADIO_OPTIONS:
        kind = "long_choice"
    return WIDGETS[DEFAULT_BY_KIND.get(kind, "text")]
