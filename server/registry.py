"""The registry: every good definition, by id, in the handbook's order.

Loaded once at start-up from `form_defs/` and the extra folders of XINDANG_FORM_DIRS; a scale
gets the item texts its school imported (`<data dir>/forms/<form_id>/item_texts.json`).
A broken definition is logged and left out; the others are served.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.checks import Problem, load_form_dir
from server.definitions import Definition
from server.scale_items import apply_school_texts

log = logging.getLogger("xindang.registry")


@dataclass
class Part:
    id: str
    title: str
    forms: list[Definition] = field(default_factory=list)


@dataclass
class Registry:
    forms: dict[str, Definition]
    parts: list[Part]
    problems: dict[str, list[Problem]]
    catalog: dict
    library: Any = None  # server.form_versions.FormLibrary, for a school's registry
    school_id: int | None = None
    upstream: frozenset[str] = frozenset()  # forms whose shipped definition changed since the school's version
    versions: tuple = ()  # ((form_id, version), …) of a school's registry: what a cache of its output is keyed by

    def get(self, form_id: str) -> Definition | None:
        return self.forms.get(form_id)

    async def at(self, form_id: str, version: int) -> Definition | None:
        """The definition a record was made with (its `form_version`); the current one when they agree."""
        current = self.forms.get(form_id)
        if (current is not None and current.version == version) or self.library is None:
            return current
        return await self.library.pinned(self.school_id, form_id, version, current) or current

    @classmethod
    def load(cls, form_dirs: list[Path], school_forms_dir: Path | None = None) -> "Registry":
        """Definitions from `form_dirs`; with `school_forms_dir`, each carries the school's imported item texts."""
        forms: dict[str, Definition] = {}
        problems: dict[str, list[Problem]] = {}
        for form_dir in form_dir_list(form_dirs):
            if form_dir.name in forms:
                continue  # the first folder in XINDANG_FORM_DIRS order wins
            definition, found = load_form_dir(form_dir)
            if definition is None:
                problems[form_dir.name] = found
                for problem in found:
                    log.error("definition left out: %s", problem)
            else:
                if school_forms_dir is not None:
                    definition, found = apply_school_texts(definition, school_forms_dir)
                    for problem in found:
                        log.error("%s: the school's item texts are not used: %s", form_dir.name, problem)
                forms[form_dir.name] = definition
        catalog = read_catalog(form_dirs[0] / "catalog.json") if form_dirs else {}
        return cls(forms=forms, parts=order_parts(catalog, forms), problems=problems, catalog=catalog)


def form_dir_list(form_dirs: list[Path]) -> list[Path]:
    found = []
    for base in form_dirs:
        if base.is_dir():
            found += sorted(p for p in base.iterdir()
                            if p.is_dir() and not p.name.startswith(".") and (p / "schema.json").exists())
    return found


def read_catalog(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("catalog unreadable (%s): forms are listed without parts", exc)
        return {}


def order_parts(catalog: dict, forms: dict[str, Definition]) -> list[Part]:
    parts, placed = [], set()
    for entry in catalog.get("parts", []):
        part = Part(id=entry["id"], title=entry["title"])
        for form in entry.get("forms", []):
            if form["id"] in forms:
                part.forms.append(forms[form["id"]])
                placed.add(form["id"])
        if part.forms:
            parts.append(part)
    rest = [d for form_id, d in sorted(forms.items()) if form_id not in placed]
    if rest:
        parts.append(Part(id="other", title="", forms=rest))  # titled "Other forms" in the UI language
    return parts
