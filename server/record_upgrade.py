"""Carrying an old record to the current version of its form.

An old record keeps the version it was made with until someone who edits it chooses to carry it
over. The plan says what happens to each answer: carried to the same field (perhaps under a new
title), dropped because the new version has no such field (shown with its value, and kept in the
record's revision history), or refused by the new field (shown, to be typed again). Required fields
the new version adds are listed to fill. Nothing is dropped without being shown first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.definitions import Definition, add_group_objects, build_validator, get_path, set_path, unanswered
from server.tabular import value_text


@dataclass
class UpgradePlan:
    carried: dict  # the answers as the new version takes them
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old title, new title)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (title, answer) with no field in the new version
    refused: list[tuple[str, str]] = field(default_factory=list)  # (title, answer) the new field does not accept
    to_fill: list[str] = field(default_factory=list)  # required fields of the new version left empty
    loses_hidden: bool = False  # an answer this user may not read would leave the record: someone who may must do it

    @property
    def loses_answers(self) -> bool:
        return bool(self.dropped or self.refused)


def plan_upgrade(old: Definition, new: Definition, data: dict, hidden: frozenset[str] = frozenset(), restricted: str = "") -> UpgradePlan:
    """`hidden`: the fields this user may not read; their answers are carried unseen, and listed as `restricted`
    (never with their value) when they would leave the record."""
    plan = UpgradePlan(carried={})

    def shown(definition: Definition, path: str, value: Any) -> str:
        return restricted if path in hidden else value_text(definition, path, value)

    for path, spec in old.fields.items():
        value = get_path(data, path)
        if unanswered(value) or spec.computed:
            continue  # computed values are computed again at save
        target = new.fields.get(path)
        if target is None:
            plan.dropped.append((spec.title, shown(old, path, value)))
            plan.loses_hidden |= path in hidden
            continue
        if spec.item_fields and target.item_fields and isinstance(value, list):
            value = _carry_rows(plan, old, path, value, target.item_fields, restricted if path in hidden else "")
        if not build_validator(target.schema).is_valid(value):
            plan.refused.append((target.title, shown(old, path, value)))
            plan.loses_hidden |= path in hidden
            continue
        set_path(plan.carried, path, value)
        if target.title != spec.title:
            plan.renamed.append((spec.title, target.title))
    add_group_objects(new.schema, plan.carried)
    for error in new.validator.iter_errors(plan.carried):
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            prefix = ".".join(str(p) for p in error.absolute_path)
            spec = new.fields.get(f"{prefix}.{missing}" if prefix else missing)
            if spec is not None:
                plan.to_fill.append(spec.title)
    return plan


def _carry_rows(plan: UpgradePlan, old: Definition, path: str, rows: list[Any], columns: dict, restricted: str) -> list[Any]:
    """Rows keep the columns the new version has; an answer in a column it dropped is listed."""
    old_columns = old.fields[path].item_fields
    kept = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            continue
        for name, value in row.items():
            if name not in columns and not unanswered(value):
                title = old_columns[name].title if name in old_columns else name
                plan.dropped.append((f"{old.fields[path].title} · {number} · {title}", restricted or str(value)))
                plan.loses_hidden |= bool(restricted)
        kept.append({name: value for name, value in row.items() if name in columns})
    return kept
