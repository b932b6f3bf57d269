"""Render a definition's layout as an entry form, a read-only view or a paper page.

The three modes walk the same plan (`renderers.plan`); only the cell contents differ:
an input, a formatted value, or a value on an underline with □/☑ boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from renderers.environment import environment
from renderers.plan import Plan, plan_for
from server.definitions import Definition, FieldSpec, walk_blocks

ENTRY, VIEW, PRINT = "entry", "view", "print"


def when_fields(definition: Definition) -> frozenset[str]:
    """Fields some `when` depends on: changing one re-renders the form (one round trip)."""
    cached = definition.cache.get("when_fields")
    if cached is None:
        names: set[str] = set()

        def collect(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("when"), dict):
                    names.update(_condition_fields(node["when"]))
                for value in node.values():
                    collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(definition.layout.get("blocks", []))
        cached = definition.cache["when_fields"] = frozenset(names)
    return cached


def _condition_fields(when: dict) -> set[str]:
    names = set(when.get("properties", {})) | set(when.get("required", []))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in when.get(key, []):
            names |= _condition_fields(sub)
    if isinstance(when.get("not"), dict):
        names |= _condition_fields(when["not"])
    return names


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
        return self.definition.when_matches(when, self.data)

    def context_value(self, key: str) -> str:
        return "" if self.blank else self.context.get(key, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")

    def input_attrs(self, spec: FieldSpec, name: str, suffix: str = "") -> Markup:
        """id, name, accessibility and refresh attributes, all quoted and escaped (F5)."""
        element_id = "f-" + name.replace(".", "-") + suffix
        parts = [f'id="{escape(element_id)}"', f'name="{escape(name)}"']
        if name in self.errors:
            parts.append(f'aria-invalid="true" aria-describedby="err-{escape(name.replace(".", "-"))}"')
        if self.refresh_url and spec.path in when_fields(self.definition) and "." not in name:
            parts.append(
                f'hx-post="{escape(self.refresh_url)}" hx-trigger="change" hx-target="closest form" '
                f'hx-swap="outerHTML" hx-vals=\'{{"_action": "refresh"}}\''
            )
        return Markup(" ".join(parts))

    def items(self, value: Any, minimum: int) -> list[dict]:
        items = [item if isinstance(item, dict) else {} for item in value] if isinstance(value, list) else []
        return items + [{} for _ in range(max(0, minimum - len(items)))]


def render_layout(definition: Definition, mode: str, data: dict | None = None, *, errors: dict[str, str] | None = None,
                  context: dict[str, str] | None = None, blank: bool = False, refresh_url: str = "") -> Markup:
    state = RenderState(definition, mode, data or {}, errors or {}, context or {}, blank, refresh_url)
    template = environment().get_template("layout.html")
    return Markup(template.module.render(state, plan_for(definition)))


def plan(definition: Definition) -> Plan:
    return plan_for(definition)


def has_blocks_of(definition: Definition, kind: str) -> bool:
    return any(b.get("type") == kind for b in walk_blocks(definition.layout.get("blocks", [])))
