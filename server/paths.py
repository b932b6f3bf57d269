"""Dotted field paths (`family.structure`) in record data, and JSON pointers for messages."""

from __future__ import annotations

import copy
from typing import Any


def pointer(parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts: how problems and API errors name a place."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def get_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def set_path(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def delete_path(data: dict, path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.get(part)
        if not isinstance(data, dict):
            return
    data.pop(parts[-1], None)


def without_paths(data: dict, paths: frozenset[str] | set[str]) -> dict:
    """A copy of the data without these fields (the data itself when there are none): what a user may read."""
    if not paths:
        return data
    kept = copy.deepcopy(data)
    for path in paths:
        delete_path(kept, path)
    return kept


def unanswered(value: Any) -> bool:
    """Nothing entered: no value, an empty text, no choice ticked, no rows."""
    return value is None or value == "" or value == [] or value == {}
