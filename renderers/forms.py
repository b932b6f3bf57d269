"""Render a definition's layout as an entry form, a read-only view or a paper page.

The three modes walk the same plan (`renderers.plan`); only the cell contents differ:
an input, a formatted value, or a value on an underline with □/☑ boxes.

Most of a page is the same for every record (grids, labels, bands). That part is
rendered once per definition, mode and locale into a skeleton with holes; a request
fills only the holes: its field values, context values, and blocks whose shape
depends on the record (tables, repeats, anything with `when`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable

from markupsafe import Markup, escape

from renderers.environment import environment
from renderers.plan import Cell, plan_for, spread_long_text
from renderers import widgets
from renderers.widgets import Widget, marked_options, widget_for
from server.definitions import Definition, FieldSpec, condition_paths, get_path
from server.paths import without_paths
from server.i18n import current_locale, gettext as _

ENTRY, VIEW, PRINT = "entry", "view", "print"


def when_fields(definition: Definition) -> frozenset[str]:
    """Fields some `when` depends on: changing one re-renders the form (one round trip)."""
    cached = definition.cache.get("when_fields")
    if cached is None:
        names: set[str] = set()

        def collect(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("when"), dict):
                    names.update(condition_paths(node["when"]))
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(definition.layout.get("blocks", []))
        cached = definition.cache["when_fields"] = frozenset(names)
    return cached


@dataclass
class RenderState:
    """What every macro needs: the mode, the record, its errors and its context values."""

    definition: Definition
    mode: str
    data: dict
    errors: dict[str, str] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    blank: bool = False
    refresh_url: str = ""
    hidden: frozenset[str] = frozenset()  # fields this user may not read: shown as a notice, never as a value
    ledger: list["LedgerRow"] | None = None  # a ledger print: the ledger row block holds one row per record

    @property
    def entry(self) -> bool:
        return self.mode == ENTRY

    @property
    def paper(self) -> bool:
        return self.mode == PRINT

    def shown(self, when: dict | None) -> bool:
        if not when:
            return True
        if self.blank:
            return True  # a blank paper form shows its conditional parts ("若有，请说明")
        return self.definition.when_matches(when, self.readable_data)

    @cached_property
    def readable_data(self) -> dict:
        """The record as this user may read it: a part shown only for an answer they may not read would give
        that answer away (a 说明 row appearing only when 既往就诊 = 有), so conditions see no hidden answer."""
        return without_paths(self.data, self.hidden)

    def width(self, percent: float, scale: float = 1.0) -> str:
        """A column's width: millimetres of the printable width on paper, a percentage on screen."""
        if self.paper:
            return f"{percent * scale * plan_for(self.definition).content_width_mm / 100:.1f}mm"
        return f"{percent:.3f}%"

    def row_shown(self, row: list[Cell]) -> bool:
        """A grid row whose every cell is conditional and hidden is left out entirely."""
        if self.blank or not all(cell.when for cell in row):
            return True
        return any(self.shown(cell.when) for cell in row)

    def context_value(self, key: str) -> str:
        return "" if self.blank else self.context.get(key, "")

    def _long_text_filled(self, spec: FieldSpec, data: dict, prefix: str, when: dict | None = None) -> bool:
        value = get_path(data, spec.path)
        return (isinstance(value, str) and bool(value.strip()) and self.shown(when)
                and not (self.hidden and self._is_hidden(prefix + spec.path)))

    def grid_rows(self, block: Any, data: dict, prefix: str) -> list[tuple[list[Cell], bool]]:
        """A grid's rows as this record prints them, each with whether it may break across pages (it
        holds a filled long text). A filled long text that shares its row gets a full-width row of its
        own (plan.spread_long_text). Screens and blank paper keep the layout, every row whole."""
        if not self.paper or self.blank or not block.holds_long_text:
            return [(row, False) for row in block.rows]

        def filled(cell: Cell) -> bool:
            return self._long_text_filled(cell.spec, data, prefix, cell.when)

        columns = len(block.col_widths)
        rows: list[tuple[list[Cell], bool]] = []
        for index, row in enumerate(block.rows):
            for printed in spread_long_text(row, columns, filled) if index in block.spread_rows else [row]:
                rows.append((printed, any(cell.long_text and filled(cell) for cell in printed)))
        return rows

    def breaks_across_pages(self, block: Any, item: dict, prefix: str) -> bool:
        """A printed table row that holds a filled long text may continue on the next page."""
        return self.paper and not self.blank and any(
            column.long_text and self._long_text_filled(column.spec, item, prefix) for column in block.columns)

    def input_attrs(self, spec: FieldSpec, name: str, suffix: str = "") -> str:
        """id, name, accessibility and refresh attributes, all quoted and escaped (F5)."""
        attrs = _id_and_name(name, suffix)
        if not suffix:  # one input of its own (options are named by their <label>s, the group by its aria-label)
            attrs = f'aria-label="{escape(accessible_name(spec, name))}" ' + attrs  # first: `name="…" value="…"` stay together
        if name in self.errors:
            attrs += f' aria-invalid="true" aria-describedby="err-{escape(name.replace(".", "-"))}"'
        if self.refresh_url and name == spec.path and spec.path in when_fields(self.definition):
            attrs += (f' hx-post="{escape(self.refresh_url)}" hx-trigger="change" hx-target="closest form" '
                      f'hx-swap="outerHTML" hx-vals=\'{{"_action": "refresh"}}\'')
        return attrs

    def field(self, spec: FieldSpec, widget: Widget | None, data: dict, prefix: str, cell: Cell | None = None,
              compact: bool = False) -> Markup:
        """One field's cell content: an input (entry) or its value (view, paper)."""
        if self.hidden and self._is_hidden(prefix + spec.path):
            return _restricted()
        widget = widget or widget_for(spec)
        value = get_path(data, spec.path)
        if not self.entry:
            lines = cell.lines if cell else 0
            shown = getattr(display_macros(), widget.display)(self, spec, value, lines, compact)
            if cell and (cell.show_title or (cell.screen_title and not self.paper)):
                return Markup(f'<span class="field-title">{escape(spec.title)}：</span>') + shown
            return shown
        name = prefix + spec.path
        if value is None and name not in self.errors:
            # an empty input is the same for every record: build it once per definition
            refresh = self.refresh_url if spec.path in when_fields(self.definition) else ""
            key = (name, widget.name, id(cell) if cell else 0, refresh, widgets.level_names(spec),  # the school names the levels
                   widgets.date_limit(spec))
            cached = _EMPTY_INPUTS.get(self.definition, key)
            if cached is None:
                cached = _EMPTY_INPUTS.put(self.definition, key, self._entry_html(spec, widget, name, value, cell))
            return cached
        return self._entry_html(spec, widget, name, value, cell)

    def _entry_html(self, spec: FieldSpec, widget: Widget, name: str, value: Any, cell: Cell | None) -> Markup:
        html_id = name.replace(".", "-")
        parts = []
        if cell and (cell.show_title or cell.screen_title):
            required = '<span class="req">*</span>' if spec.required else ""
            parts.append(f'<label class="field-title" for="f-{escape(html_id)}">{escape(spec.title)}{required}</label>')
        parts.append(widget.entry(self, spec, name, value))
        if cell and cell.help:
            parts.append(f'<small class="help">{escape(cell.help)}</small>')
        parts.append(self.error_html(name))
        return Markup("".join(parts))

    def _is_hidden(self, name: str) -> bool:
        """A field path (rows numbered: `members.0.age`) that is, or lies in, a hidden field."""
        parts = [p for p in name.split(".") if not p.isdigit()]
        return any(".".join(parts[:n]) in self.hidden for n in range(1, len(parts) + 1))

    def option_cells(self, spec: FieldSpec, data: dict, prefix: str) -> Markup:
        """A matrix row's answer cells: a radio per option on screen, □/☑ on paper and in the view."""
        name = prefix + spec.path
        if self.hidden and self._is_hidden(name):
            return Markup(f'<td class="choice" colspan="{len(spec.options)}">{_restricted()}</td>')
        cells = []
        for index, option, code, picked in marked_options(spec, get_path(data, spec.path)):
            if self.entry:
                checked = " checked" if picked else ""
                cells.append(f'<td class="choice"><label><input type="radio" {self.input_attrs(spec, name, f"-{index}")} '
                             f'value="{escape(code)}"{checked} aria-label="{escape(spec.title + " " + option.label)}"></label></td>')
            else:
                cells.append(f'<td class="choice">{"☑" if picked else "□"}</td>')
        return Markup("".join(cells))

    def items(self, value: Any, minimum: int) -> list[dict]:
        items = [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []
        return items + [{} for _ in range(max(0, minimum - len(items)))]

    def rows(self, block: Any, data: dict, prefix: str) -> Markup:
        """The rows of a table or the items of a repeat: their number depends on the record."""
        if self.hidden and self._is_hidden(prefix + block.spec.path):
            return _restricted()
        macro = layout_macros().table_body if block.type == "table" else layout_macros().repeat_body
        return macro(self, block, data, prefix)

    def error_html(self, name: str) -> Markup:
        error = self.errors.get(name)
        if not error:
            return Markup("")
        return Markup(f'<p class="error" id="err-{escape(name.replace(".", "-"))}">{escape(error)}</p>')

    def is_deferred(self, block: Any) -> bool:
        """Only the skeleton pass defers blocks; a request renders what it is given."""
        return False

    def ledger_cell(self, row: "LedgerRow", column: Any) -> Markup:
        """One record's cell in a ledger of many: its value as its own form version prints it."""
        if column.spec is None:
            return escape(row.context.get(column.context, ""))
        spec = row.definition.fields.get(column.spec.path)
        if spec is None:
            return Markup("")
        state = RenderState(row.definition, PRINT, row.data, context=row.context, hidden=row.hidden)
        return state.field(spec, column.widget if spec.kind == column.spec.kind else None, row.data, "", None, True)


@dataclass
class LedgerRow:
    """One record in a ledger print: the version of the form it was made with, its answers, its context
    values and the fields the reader may not see."""

    definition: Definition
    data: dict
    context: dict[str, str]
    hidden: frozenset[str] = frozenset()


class _EmptyInputCache:
    """Per definition and locale, the HTML of inputs with nothing in them (most of a new form)."""

    LIMIT = 5000

    def get(self, definition: Definition, key: tuple) -> Markup | None:
        return definition.cache.get(("empty_inputs", current_locale.get()), {}).get(key)

    def put(self, definition: Definition, key: tuple, html: Markup) -> Markup:
        entries = definition.cache.setdefault(("empty_inputs", current_locale.get()), {})
        if len(entries) >= self.LIMIT:
            entries.clear()
        entries[key] = html
        return html


_EMPTY_INPUTS = _EmptyInputCache()


# --- skeletons ------------------------------------------------------------------------

HOLE_MARK = "\x00" + secrets.token_hex(6) + ":"  # per process: no definition text can forge it
HOLE_RE = re.compile(re.escape(HOLE_MARK) + r"(\d+)\x00")
Hole = Callable[[RenderState], str]


def _shape_depends_on_record(block: Any) -> bool:
    return bool(block.when) or any(cell.when for row in block.rows for cell in row)


class SkeletonState(RenderState):
    """Renders the record-independent part once; leaves a numbered hole for everything else."""

    def __init__(self, definition: Definition, mode: str, blank: bool):
        super().__init__(definition, mode, {}, blank=blank)
        self.holes: list[Hole] = []

    def _hole(self, fill: Hole) -> Markup:
        self.holes.append(fill)
        return Markup(f"{HOLE_MARK}{len(self.holes) - 1}\x00")

    def field(self, spec: FieldSpec, widget: Widget | None, data: dict, prefix: str, cell: Cell | None = None,
              compact: bool = False) -> Markup:
        return self._hole(lambda state: state.field(spec, widget, state.data, prefix, cell, compact))

    def context_value(self, key: str) -> str:
        return self._hole(lambda state: escape(state.context_value(key)))

    def option_cells(self, spec: FieldSpec, data: dict, prefix: str) -> Markup:
        return self._hole(lambda state: state.option_cells(spec, state.data, prefix))

    def rows(self, block: Any, data: dict, prefix: str) -> Markup:
        return self._hole(lambda state: state.rows(block, state.data, prefix))

    def error_html(self, name: str) -> Markup:
        return self._hole(lambda state: state.error_html(name))

    def is_deferred(self, block: Any) -> bool:
        """Also a filled paper grid with long texts: its rows depend on what they hold."""
        return _shape_depends_on_record(block) or bool(self.paper and not self.blank and block.holds_long_text)

    def defer(self, block: Any, prefix: str) -> Markup:
        def fill(state: RenderState) -> str:
            return layout_macros().block(state, block, state.data, prefix) if state.shown(block.when) else ""
        return self._hole(fill)


@dataclass
class Skeleton:
    parts: list[str | int]
    holes: list[Hole]

    def fill(self, state: RenderState) -> Markup:
        holes = self.holes
        return Markup("".join(part if isinstance(part, str) else str(holes[part](state)) for part in self.parts))


def skeleton_for(definition: Definition, mode: str, blank: bool) -> Skeleton:
    key = ("skeleton", mode, blank, current_locale.get())
    skeleton = definition.cache.get(key)
    if skeleton is None:
        state = SkeletonState(definition, mode, blank)
        html = str(layout_macros().render(state, plan_for(definition)))
        pieces = HOLE_RE.split(html)  # text, hole number, text, hole number, …
        parts: list[str | int] = [int(p) if i % 2 else p for i, p in enumerate(pieces) if p or i % 2]
        skeleton = definition.cache[key] = Skeleton(parts, state.holes)
    return skeleton


def render_layout(definition: Definition, mode: str, data: dict | None = None, *, errors: dict[str, str] | None = None,
                  context: dict[str, str] | None = None, blank: bool = False, refresh_url: str = "",
                  hidden: frozenset[str] = frozenset()) -> Markup:
    state = RenderState(definition, mode, data or {}, errors or {}, context or {}, blank, refresh_url, hidden)
    return skeleton_for(definition, mode, blank).fill(state)


def render_ledger(definition: Definition, rows: list[LedgerRow], *, context: dict[str, str]) -> Markup:
    """The layout of a ledger form (`Definition.ledger_block`) with one row per record, on paper."""
    state = RenderState(definition, PRINT, {}, context=context, ledger=rows)
    return Markup(layout_macros().render(state, plan_for(definition)))


def restricted_notice() -> str:
    """What stands in place of a field the user may not read (pages, PDFs, history)."""
    return _("(visible to authorised roles only)")


def _restricted() -> Markup:
    return Markup(f'<span class="restricted">{escape(restricted_notice())}</span>')


def accessible_name(spec: FieldSpec, name: str) -> str:
    """An input's accessible name is its field's title, whatever the layout shows around it (a blank inside a
    letter, a signature line, a table cell); in a table or repeat the row's number is added."""
    rows = [int(part) + 1 for part in name.split(".")[:-len(spec.path.split("."))] if part.isdigit()]
    title = spec.title or spec.path
    for row in rows:
        title = _("%(title)s, row %(row)s", title=title, row=row)
    return title


@lru_cache(maxsize=20_000)
def _id_and_name(name: str, suffix: str) -> str:
    return f'id="{escape("f-" + name.replace(".", "-") + suffix)}" name="{escape(name)}"'


@lru_cache(maxsize=1)
def layout_macros() -> Any:
    return environment().get_template("layout.html").module


@lru_cache(maxsize=1)
def display_macros() -> Any:
    """The macros of display.html (one per Widget.display), callable from Python."""
    return environment().get_template("display.html").module
