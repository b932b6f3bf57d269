"""Scores computed from a record's answers, declared in the schema (`x-scoring`), never code.

A scale's definition lists rules in order; each sets one read-only field of the record:

    {"set": "scores.depression", "mean": ["answers.q5", "answers.q13", …], "round": 2}
    {"set": "scores.subscale_a", "sum": ["answers.q1", …, "answers.q10"]}
    {"set": "scores.flagged", "count": ["scores.depression", …], "at_least": 2}
    {"set": "scores.depression_level", "bands": "scores.depression",
     "levels": [{"from": 0, "value": "未见明显问题"}, {"from": 2, "value": "轻度"}, …]}

Inputs are answer fields or targets of earlier rules. A rule with an unanswered input sets
nothing (and so neither do the rules built on it). Arithmetic is decimal, rounded half up, so a
mean of 2.005 is 2.01 on every machine; a band is chosen from the rounded value the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from server.paths import delete_path, get_path, set_path

OPERATIONS = ("sum", "mean", "count", "bands")
DEFAULT_MEAN_DIGITS = 2
WIDE = Context(prec=400, Emax=999_999, Emin=-999_999)  # exact for any JSON number a form accepts


def operation_of(entry: dict) -> str | None:
    return next((op for op in OPERATIONS if op in entry), None)


def inputs_of(entry: dict) -> list:
    """The field paths a raw rule reads."""
    operation = operation_of(entry)
    if operation is None:
        return []
    value = entry[operation]
    return [value] if operation == "bands" else list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class Level:
    start: Decimal
    value: Any


@dataclass(frozen=True)
class Rule:
    target: str
    operation: str  # one of OPERATIONS
    inputs: tuple[str, ...]
    digits: int | None = None  # decimals kept by `mean` (and `sum` of decimals)
    at_least: Decimal | None = None  # `count`: how many inputs reach this value
    levels: tuple[Level, ...] = ()  # `bands`: ascending starts


def parse_rules(raw: Any) -> list[Rule]:
    """Rules from `x-scoring`; a malformed entry is skipped here and reported by the checks."""
    rules = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("set"), str):
            continue
        operation = operation_of(entry)
        try:
            if operation == "bands":
                levels = tuple(Level(Decimal(str(level["from"])), level["value"]) for level in entry["levels"])
                rules.append(Rule(entry["set"], operation, (entry["bands"],), levels=levels))
            elif operation in ("sum", "mean", "count"):
                digits = entry.get("round", DEFAULT_MEAN_DIGITS if operation == "mean" else None)
                at_least = Decimal(str(entry["at_least"])) if operation == "count" else None
                rules.append(Rule(entry["set"], operation, tuple(inputs_of(entry)), digits=digits, at_least=at_least))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    return rules


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return Decimal(str(value))


def _rounded(value: Decimal, digits: int | None, whole: bool) -> int | float:
    """Half-up to `digits` decimals; without `digits`, an int when every input was one."""
    if digits is None:
        return int(value) if whole else float(value)
    quantized = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(quantized) if digits == 0 else float(quantized)


def band(levels: tuple[Level, ...], value: Decimal) -> Any:
    """The level whose range holds the value: the last one starting at or below it (none below the first)."""
    found = None
    for level in levels:
        if value >= level.start:
            found = level.value
    return found


def evaluate(rule: Rule, data: dict) -> Any:
    """The rule's value for this record, or None when an input is unanswered."""
    values = [get_path(data, path) for path in rule.inputs]
    numbers = [_number(value) for value in values]
    if not numbers or any(n is None for n in numbers):
        return None
    whole = all(isinstance(value, int) for value in values)
    with localcontext(WIDE):
        if rule.operation == "sum":
            return _rounded(sum(numbers, Decimal(0)), rule.digits, whole)
        if rule.operation == "mean":
            return _rounded(sum(numbers, Decimal(0)) / len(numbers), rule.digits, whole)
        if rule.operation == "count":
            return sum(1 for n in numbers if n >= rule.at_least)
        return band(rule.levels, numbers[0])


def drop_computed(rules: list[Rule], data: dict) -> None:
    """What a client sent for a computed field is not an answer: it is recomputed on save."""
    for rule in rules:
        delete_path(data, rule.target)


def compute(rules: list[Rule], data: dict) -> dict:
    """Set every computed field of the record, in rule order."""
    drop_computed(rules, data)
    for rule in rules:
        value = evaluate(rule, data)
        if value is not None:
            set_path(data, rule.target, value)
    return data
