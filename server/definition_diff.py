"""What changing a definition does to the records already made with it.

Before a school replaces a form's definition, every change is listed with its effect on the stored
answers, in the spirit of REDCap's critical-change review: a removed field that has data, a removed or
re-coded option that is in use, a narrower type, length or range that stored values no longer fit, a
field made required that old records leave empty. Those are critical; the rest (a new field, a new
option, a new title or label, a changed page) are listed for information.

The comparison is pure: two definitions and the stored answers in, a list of changes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from server.access import ACTIONS, DEFAULT_FORM_ACCESS, read_rules, role_names
from server.definitions import Definition, FieldSpec, build_validator, get_path, unanswered
from server.i18n import gettext as _, ngettext

ROW = "[]"  # a field inside each row of a table: "members[].name"


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # field_added | field_removed | type_changed | values_unfit | option_removed | option_recoded | option_added |
    #            option_relabelled | made_required | title_changed | help_changed | layout_changed | access_widened |
    #            access_changed | form_title_changed
    message: str
    critical: bool = False
    records: int = 0  # stored records the change touches


def flat_fields(definition: Definition) -> dict[str, FieldSpec]:
    """Every field, table columns included as `table[].column`."""
    found: dict[str, FieldSpec] = {}
    for path, spec in definition.fields.items():
        found[path] = spec
        for name, item in spec.item_fields.items():
            found[f"{path}{ROW}.{name}"] = item
    return found


def stored_values(records: list[dict], path: str) -> Iterator[tuple[int, Any]]:
    """(record index, answer) for every non-empty answer of this field in the stored records."""
    table, _sep, column = path.partition(ROW + ".")
    for index, data in enumerate(records):
        if column:
            rows = get_path(data, table)
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and not unanswered(row.get(column)):
                    yield index, row.get(column)
        else:
            value = get_path(data, path)
            if not unanswered(value):
                yield index, value


def compare(old: Definition, new: Definition, records: list[dict]) -> list[Change]:
    """`records`: the stored answers of the form (of any version: see server.form_versions.stored_answers)."""
    before, after = flat_fields(old), flat_fields(new)
    changes: list[Change] = []
    for path, spec in before.items():
        used = {index for index, _value in stored_values(records, path)}
        if path not in after:
            changes.append(Change(path, "field_removed", _removed_message(spec, len(used)), critical=bool(used), records=len(used)))
            continue
        changes += _field_changes(path, spec, after[path], records)
    for path, spec in after.items():
        if path in before:
            continue
        missing = len(records) if spec.required and ROW not in path and not spec.computed else 0
        message = _("New field “%(title)s”.", title=spec.title)
        if missing:
            message += " " + ngettext("It is required, and %(num)d stored record has no answer for it.",
                                      "It is required, and %(num)d stored records have no answer for it.", missing)
        changes.append(Change(path, "field_added", message, critical=bool(missing), records=missing))
    if old.schema.get("description") != new.schema.get("description"):
        changes.append(Change("", "help_changed", _("The help text above the form changes.")))
    if old.title != new.title:
        changes.append(Change("", "form_title_changed", _("The form's title: “%(old)s” → “%(new)s”.", old=old.title, new=new.title)))
    changes += access_changes(old, new, len(records))
    if old.layout != new.layout:
        changes.append(Change("", "layout_changed", _("The paper page changes (cells, blocks, size or orientation).")))
    return changes


def _field_changes(path: str, old: FieldSpec, new: FieldSpec, records: list[dict]) -> list[Change]:
    changes: list[Change] = []
    values = list(stored_values(records, path))
    title = new.title
    if old.title != new.title:
        changes.append(Change(path, "title_changed", _("Field “%(old)s” is now called “%(new)s”.", old=old.title, new=new.title)))
    if old.description != new.description:
        changes.append(Change(path, "help_changed", _("The help text of “%(title)s” changes.", title=new.title)))
    if old.type != new.type:
        changes.append(Change(path, "type_changed", _("Field “%(title)s” changes type: %(old)s → %(new)s.", title=title, old=old.type,
                                                         new=new.type), critical=bool(values), records=len({i for i, _v in values})))
    old_options = {o.value: o.label for o in old.options}
    new_options = {o.value: o.label for o in new.options}
    new_by_label = {label: value for value, label in new_options.items()}
    for value, label in old_options.items():
        in_use = {i for i, v in values if v == value or (isinstance(v, list) and value in v)}
        if value not in new_options:
            recoded = new_by_label.get(label)
            if recoded is not None and recoded not in old_options:
                message = _("Option “%(label)s” of “%(title)s” is re-coded: %(old)s → %(new)s.", label=label, title=title,
                            old=value, new=recoded)
                kind = "option_recoded"
            else:
                message = _("Option “%(label)s” of “%(title)s” is removed.", label=label, title=title)
                kind = "option_removed"
            if in_use:
                message += " " + ngettext("%(num)d stored record chose it.", "%(num)d stored records chose it.", len(in_use))
            changes.append(Change(path, kind, message, critical=bool(in_use), records=len(in_use)))
        elif new_options[value] != label:
            changes.append(Change(path, "option_relabelled", _("Option “%(old)s” of “%(title)s” now reads “%(new)s”.", old=label,
                                                               title=title, new=new_options[value])))
    for value, label in new_options.items():
        if value not in old_options and label not in old_options.values():
            changes.append(Change(path, "option_added", _("New option “%(label)s” for “%(title)s”.", label=label, title=title)))
    if old.type == new.type and values and old.schema != new.schema:  # an unchanged field takes what it took before
        unfit = _unfit(new, values, set(old_options) - set(new_options))
        if unfit:
            changes.append(Change(path, "values_unfit", ngettext(
                "%(num)d stored record has an answer to “%(title)s” that the new definition refuses (its length, range, pattern or format).",
                "%(num)d stored records have an answer to “%(title)s” that the new definition refuses (its length, range, pattern or format).",
                len(unfit), title=title), critical=True, records=len(unfit)))
    if new.required and not old.required and ROW not in path:
        empty = len(records) - len({i for i, _v in values})
        message = _("Field “%(title)s” becomes required.", title=title)
        if empty:
            message += " " + ngettext("%(num)d stored record leaves it empty.", "%(num)d stored records leave it empty.", empty)
        changes.append(Change(path, "made_required", message, critical=bool(empty), records=empty))
    return changes


def access_changes(old: Definition, new: Definition, stored: int) -> list[Change]:
    """Who may do what, form and field by field. A role gaining access is critical: it reaches every
    record (old ones too: access follows the version in use), so only a 系统管理员 confirms it."""
    names = role_names()
    changes: list[Change] = []

    def roles(found: set[str]) -> str:
        return "、".join(names.get(r, r) for r in sorted(found))

    before, after = form_access(old), form_access(new)
    for action in ACTIONS:
        gained, lost = after[action] - before[action], before[action] - after[action]
        verb = action_names()[action]
        if gained:
            changes.append(Change("", "access_widened", _("More roles may %(action)s the records: %(roles)s.", action=verb, roles=roles(gained)),
                                  critical=bool(stored), records=stored))
        if lost:
            changes.append(Change("", "access_changed", _("Fewer roles may %(action)s the records: %(roles)s no longer.", action=verb,
                                                          roles=roles(lost))))
    for path in old.fields.keys() & new.fields.keys():
        was, now = field_readers(old, path, before["read"]), field_readers(new, path, after["read"])
        title = new.fields[path].title
        if now - was - (after["read"] - before["read"]):  # a field opened beyond what the form's own change says
            changes.append(Change(path, "access_widened", _("Field “%(title)s” becomes readable by: %(roles)s.", title=title,
                                                            roles=roles(now - was)), critical=bool(stored), records=stored))
        elif was - now - (before["read"] - after["read"]):
            changes.append(Change(path, "access_changed", _("Field “%(title)s” is no longer readable by: %(roles)s.", title=title,
                                                            roles=roles(was - now))))
    return changes


def form_access(definition: Definition) -> dict[str, set[str]]:
    rules = definition.schema.get("x-access") if isinstance(definition.schema.get("x-access"), dict) else DEFAULT_FORM_ACCESS
    return {action: set(rules.get(action, DEFAULT_FORM_ACCESS[action])) for action in ACTIONS}


def field_readers(definition: Definition, path: str, form_readers: set[str]) -> set[str]:
    readers = set(form_readers)
    for rule in read_rules(definition.schema, path):
        readers &= set(rule.get("read", []))
    return readers


def action_names() -> dict[str, str]:
    return {"create": _("create"), "read": _("read"), "edit": _("edit"), "print": _("print"), "export": _("export")}


def _unfit(new: FieldSpec, values: list[tuple[int, Any]], removed_options: set) -> set[int]:
    """Records whose answer the new field refuses, apart from removed options (listed on their own)."""
    validator = build_validator(new.schema)
    unfit = set()
    for index, value in values:
        chosen = value if isinstance(value, list) else [value]
        if any(not isinstance(v, (dict, list)) and v in removed_options for v in chosen):
            continue
        if not validator.is_valid(value):
            unfit.add(index)
    return unfit


def _removed_message(spec: FieldSpec, used: int) -> str:
    if not used:
        return _("Field “%(title)s” is removed (no stored record has an answer for it).", title=spec.title)
    return ngettext("Field “%(title)s” is removed: %(num)d stored record has an answer for it.",
                    "Field “%(title)s” is removed: %(num)d stored records have an answer for it.", used, title=spec.title)
