"""A layout compiled once into plain objects the templates walk: fields resolved, widgets
chosen, column widths computed. Entry page, view and print all render the same plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

from markupsafe import Markup, escape

from renderers.widgets import WIDGETS, Widget, widget_for
from server.definitions import CONTEXT_PREFIX, Definition, FieldSpec, Option

PAPER_MM = {"A4": (210, 297), "A3": (297, 420), "B5": (176, 250)}
DEFAULT_MARGINS_MM = (15, 14, 14, 14)  # top, right, bottom, left
BLANK_RE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


@dataclass
class Cell:
    kind: str  # "label", "field" or "context"
    text: str = ""
    spec: FieldSpec | None = None
    widget: Widget | None = None
    context: str = ""
    span: int = 1
    rowspan: int = 1
    lines: int = 0
    height_mm: float | None = None
    align: str = ""
    vertical: bool = False
    show_title: bool = False
    help: str = ""
    when: dict | None = None
    label_for: FieldSpec | None = None  # a label cell: the field of the cell right after it
    label_for_input: bool = False  # …which is one input a <label for> can point at
    title_above: str = ""  # on paper, a long text moved to a full-width row of its own: its label, above it
    screen_title: bool = False  # a field alone in its grid row, with no label: its title is shown on screen
    label_given: bool = False  # the layout says how the field cell is labelled (a "label" key)

    @property
    def long_text(self) -> bool:
        """A field typed into a textarea: on paper it may run over several pages."""
        return self.kind == "field" and self.widget is not None and self.widget.name == "textarea"


@dataclass
class Column:
    label: str
    spec: FieldSpec | None = None
    widget: Widget | None = None
    context: str = ""
    width_pct: float = 0
    lines: int = 0

    @property
    def long_text(self) -> bool:
        """A column typed into a textarea: its rows may break across pages on paper."""
        return self.widget is not None and self.widget.name == "textarea"

    @cached_property
    def td_open(self) -> Markup:
        """The opening cell tag of this column in every row (its label names it on a phone)."""
        return Markup(f'<td data-label="{escape(self.label)}">')


@dataclass
class Segment:
    kind: str  # "text", "field" or "context"
    value: str = ""
    spec: FieldSpec | None = None
    widget: Widget | None = None


@dataclass
class Block:
    type: str
    when: dict | None = None
    title: str = ""
    style: str = ""
    rows: list[list[Cell]] = field(default_factory=list)
    col_widths: list[float] = field(default_factory=list)
    children: list["Block"] = field(default_factory=list)
    spec: FieldSpec | None = None
    columns: list[Column] = field(default_factory=list)
    numbered: bool = False
    print_rows: int = 0
    min_items: int = 0
    row_height_mm: float = 9
    paragraphs: list[list[Segment]] = field(default_factory=list)
    name_spec: FieldSpec | None = None
    date_spec: FieldSpec | None = None
    seal: bool = False
    items: list[FieldSpec] = field(default_factory=list)  # a matrix: one row per field
    options: list[Option] = field(default_factory=list)  # …and one column per option they share
    label: str = ""
    label_width: float = 40
    # a grid's rows where a long text shares the row with other cells (not only its own label): filled,
    # that text is printed on a full-width row of its own (`spread_long_text`)
    spread_rows: frozenset[int] = frozenset()
    holds_long_text: bool = False  # a grid with a long text: filled, its rows may break across pages


@dataclass
class Plan:
    title: str
    subtitle: str
    paper_size: str
    orientation: str
    margins_mm: tuple[float, float, float, float]
    confidential: bool
    header: list[dict]
    blocks: list[Block]
    footer: list[dict] = field(default_factory=list)

    @property
    def content_width_mm(self) -> float:
        width, height = PAPER_MM[self.paper_size]
        page_width = height if self.orientation == "landscape" else width
        return page_width - self.margins_mm[1] - self.margins_mm[3]


def plan_for(definition: Definition) -> Plan:
    """The definition's plan, built on first use and kept with the definition."""
    plan = definition.cache.get("plan")
    if plan is None:
        plan = definition.cache["plan"] = build_plan(definition)
    return plan


def build_plan(definition: Definition) -> Plan:
    layout = definition.layout
    paper = definition.paper
    header, footer = ([{**item, "spec": definition.field(item["field"]) if "field" in item else None}
                       for item in layout.get(key, [])] for key in ("header", "footer"))
    return Plan(
        title=definition.title,
        subtitle=layout.get("subtitle", ""),
        paper_size=paper.get("size", "A4"),
        orientation=paper.get("orientation", "portrait"),
        margins_mm=tuple(paper.get("margins_mm", DEFAULT_MARGINS_MM)),
        confidential=bool(layout.get("confidential")),
        header=header,
        blocks=[_block(definition, raw, None) for raw in layout.get("blocks", [])],
        footer=footer,
    )


def _spec(definition: Definition, path: str, scope: str | None) -> FieldSpec:
    spec = definition.field(path, within=scope)
    if spec is None:  # the checks guarantee this cannot happen for a loaded definition
        raise KeyError(path)
    return spec


def _percentages(weights: list[float]) -> list[float]:
    total = sum(weights) or 1
    return [round(100 * w / total, 3) for w in weights]


def _block(definition: Definition, raw: dict, scope: str | None) -> Block:
    kind = raw["type"]
    block = Block(type=kind, when=raw.get("when"), title=raw.get("title", ""), style=raw.get("style", ""))
    if kind == "grid":
        columns = raw.get("columns", 1)
        block.col_widths = _percentages([1] * columns if isinstance(columns, int) else columns)
        block.rows = [_label_fields([_cell(definition, c, scope) for c in row]) for row in raw.get("rows", [])]
        block.spread_rows = _rows_sharing_long_text(block.rows)
        block.holds_long_text = any(cell.long_text for row in block.rows for cell in row)
    elif kind == "section":
        block.style = raw.get("style", "band")
        block.children = [_block(definition, b, scope) for b in raw.get("blocks", [])]
    elif kind in ("table", "ledger_row"):
        inner = raw["field"] if kind == "table" else scope
        if kind == "table":
            block.spec = _spec(definition, raw["field"], scope)
        block.columns = [_column(definition, c, inner) for c in raw.get("columns", [])]
        widths = _percentages([c.get("width", 1) for c in raw.get("columns", [])])
        for column, width in zip(block.columns, widths):
            column.width_pct = width
        block.numbered = raw.get("numbered", False)
        block.print_rows = raw.get("print_rows", 0)
        block.min_items = raw.get("min_items", 1 if kind == "table" else 0)
        block.row_height_mm = raw.get("row_height_mm", 9)
    elif kind == "repeat":
        block.spec = _spec(definition, raw["field"], scope)
        block.children = [_block(definition, b, raw["field"]) for b in raw.get("blocks", [])]
        block.print_rows = raw.get("print_items", 1)
        block.min_items = raw.get("min_items", 1)
    elif kind == "text":
        texts = raw["text"] if isinstance(raw["text"], list) else [raw["text"]]
        block.paragraphs = [_segments(definition, t, scope) for t in texts]
        block.style = raw.get("style", "paragraph")
    elif kind == "signature":
        block.title = raw["label"]
        block.name_spec = _spec(definition, raw["field"], scope) if "field" in raw else None
        block.date_spec = _spec(definition, raw["date_field"], scope) if "date_field" in raw else None
        block.seal = raw.get("seal", False)
    elif kind == "matrix":
        block.items = [_spec(definition, path, scope) for path in raw["fields"]]
        block.options = block.items[0].options  # the checks make every question offer the same ones
        block.label = raw.get("label", "")
        block.label_width = raw.get("label_width", 40)
        block.row_height_mm = raw.get("row_height_mm", 7)
    elif kind == "cut_line":
        block.title = raw.get("label", "")
    return block


def _cell(definition: Definition, raw: dict, scope: str | None) -> Cell:
    cell = Cell(
        kind="label",
        span=raw.get("span", 1),
        rowspan=raw.get("rowspan", 1),
        lines=raw.get("lines", 0),
        height_mm=raw.get("height_mm"),
        align=raw.get("align", ""),
        vertical=raw.get("vertical", False),
        help=raw.get("help", ""),
        when=raw.get("when"),
    )
    label = raw.get("label")
    if "field" in raw:
        cell.kind = "field"
        cell.spec = _spec(definition, raw["field"], scope)
        cell.widget = widget_for(cell.spec, raw.get("widget"))
        cell.show_title = label is True
        cell.label_given = "label" in raw
        cell.text = label if isinstance(label, str) else cell.spec.title
        cell.help = cell.help or cell.spec.description
    elif "context" in raw:
        cell.kind, cell.context = "context", raw["context"]
    else:
        cell.text = label or ""
    return cell


def _label_fields(row: list[Cell]) -> list[Cell]:
    """On paper a label cell names the field cell after it; on screen it becomes that field's <label>."""
    if len(row) == 1 and row[0].kind == "field" and not row[0].label_given and row[0].widget.name != "checkbox":
        row[0].screen_title = True  # nothing else in the row names it (a check box names itself)
    for label, following in zip(row, row[1:]):
        if label.kind == "label" and label.text and following.kind == "field" and not following.show_title:
            label.label_for = following.spec
            label.label_for_input = following.widget.single_input
    return row


def _rows_sharing_long_text(rows: list[list[Cell]]) -> frozenset[int]:
    """Rows holding a long text beside cells other than its label. A grid with row spans keeps its
    shape: moving a cell out of a spanned row would break the columns below it."""
    if any(cell.rowspan > 1 for row in rows for cell in row):
        return frozenset()
    found = set()
    for index, row in enumerate(rows):
        for position, cell in enumerate(row):
            if cell.long_text:
                own_label = position > 0 and row[position - 1].label_for is cell.spec
                if len(row) > (2 if own_label else 1):
                    found.add(index)
    return frozenset(found)


def spread_long_text(row: list[Cell], columns: int, filled: Callable[[Cell], bool]) -> list[list[Cell]]:
    """On paper, each filled long text of a shared row moves to a full-width row of its own below the
    row, its label above the text; the width it and its label leave goes to the nearest field of the
    row (the one before it, else the one after)."""
    kept: list[Cell] = []
    moved: list[Cell] = []
    freed_before: list[int] = []  # per kept cell: span freed right after it
    pending = 0  # span freed before any kept cell
    for cell in row:
        if cell.long_text and filled(cell):
            label = kept.pop() if kept and kept[-1].label_for is cell.spec else None
            span = cell.span + (label.span + freed_before.pop() if label else 0)
            title = label.text if label else cell.text
            moved.append(replace(cell, span=columns, title_above=title, show_title=False, label_for=None))
            if kept:
                freed_before[-1] += span
            else:
                pending += span
        else:
            kept.append(cell)
            freed_before.append(0)
    if not moved:
        return [row]
    if not kept:
        return [[cell] for cell in moved]
    spans = [cell.span for cell in kept]
    takers = [i for i, cell in enumerate(kept) if cell.kind != "label"] or list(range(len(kept)))
    for index, freed in enumerate(freed_before):
        if freed:
            before = [i for i in takers if i <= index]
            spans[before[-1] if before else takers[0]] += freed
    if pending:
        spans[takers[0]] += pending
    shared = [replace(cell, span=span) if span != cell.span else cell for cell, span in zip(kept, spans)]
    return [shared] + [[cell] for cell in moved]


def _column(definition: Definition, raw: dict, scope: str | None) -> Column:
    if "field" in raw:
        spec = _spec(definition, raw["field"], scope)
        return Column(label=raw.get("label") or spec.title, spec=spec, widget=widget_for(spec, raw.get("widget")),
                      lines=raw.get("lines", 0))
    return Column(label=raw.get("label", ""), context=raw["context"])


def _segments(definition: Definition, text: str, scope: str | None) -> list[Segment]:
    segments, position = [], 0
    for match in BLANK_RE.finditer(text):
        if match.start() > position:
            segments.append(Segment("text", text[position:match.start()]))
        name = match.group(1)
        if name.startswith(CONTEXT_PREFIX):
            segments.append(Segment("context", name))
        else:
            spec = _spec(definition, name, scope)
            segments.append(Segment("field", name, spec, widget_for(spec)))
        position = match.end()
    if position < len(text):
        segments.append(Segment("text", text[position:]))
    return segments



def field_widgets(definition: Definition) -> dict[tuple[str | None, str], Widget]:
    """(enclosing array field, path) → the widget the layout shows it with."""
    cached = definition.cache.get("widgets")
    if cached is not None:
        return cached
    found: dict[tuple[str | None, str], Widget] = {}

    def visit(blocks: list[Block], scope: str | None) -> None:
        for block in blocks:
            for row in block.rows:
                for cell in row:
                    if cell.spec:
                        found[(scope, cell.spec.path)] = cell.widget
            inner = block.spec.path if block.type == "table" else scope
            for column in block.columns:
                if column.spec:
                    found[(inner, column.spec.path)] = column.widget
            for paragraph in block.paragraphs:
                for segment in paragraph:
                    if segment.spec:
                        found[(scope, segment.spec.path)] = segment.widget
            for spec in block.items:
                found[(scope, spec.path)] = WIDGETS["radio"]
            for spec in (block.name_spec, block.date_spec):
                if spec:
                    found[(scope, spec.path)] = widget_for(spec)
            visit(block.children, block.spec.path if block.type == "repeat" else scope)

    plan = plan_for(definition)
    for item in plan.header:
        if item["spec"]:
            found[(None, item["spec"].path)] = widget_for(item["spec"])
    visit(plan.blocks, None)
    for path, spec in definition.fields.items():
        found.setdefault((None, path), widget_for(spec))
        for sub_path, sub_spec in spec.item_fields.items():
            found.setdefault((path, sub_path), widget_for(sub_spec))
    definition.cache["widgets"] = found
    return found


def field_positions(definition: Definition) -> dict[str, tuple[int, int]]:
    """Top-level field path → (its place on the page, the matrix it is a question of, or -1).
    Error summaries follow the page's order and can speak of a matrix's questions together."""
    cached = definition.cache.get("positions")
    if cached is not None:
        return cached
    found: dict[str, tuple[int, int]] = {}

    def put(spec: FieldSpec | None, matrix: int = -1) -> None:
        if spec is not None and spec.path not in found:
            found[spec.path] = (len(found), matrix)

    def visit(blocks: list[Block]) -> None:
        for number, block in enumerate(blocks):
            for row in block.rows:
                for cell in row:
                    put(cell.spec)
            put(block.spec)
            for column in block.columns:
                put(column.spec)
            for paragraph in block.paragraphs:
                for segment in paragraph:
                    put(segment.spec)
            for spec in block.items:
                put(spec, id(block))
            put(block.name_spec)
            put(block.date_spec)
            if block.type != "repeat":
                visit(block.children)

    plan = plan_for(definition)
    for item in plan.header:
        put(item["spec"])
    visit(plan.blocks)
    definition.cache["positions"] = found
    return found
