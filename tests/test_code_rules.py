"""Local code rules (what the issue asks of semgrep, kept as plain tests): no template without
autoescaping, no unquoted `{{ }}` attribute or inline event handler in a template, and no SQL
statement built by string formatting."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = [p for folder in ("server", "renderers") for p in (ROOT / folder).rglob("*.py")]
TEMPLATES = list((ROOT / "renderers" / "templates").rglob("*.html"))
SQL_WORDS = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|DROP|ALTER TABLE)\s")  # SQL keywords, as our SQL writes them


def test_autoescape_is_never_turned_off():
    for path in PYTHON:
        assert "autoescape=False" not in path.read_text(encoding="utf-8").replace(" ", ""), path


ATTRIBUTE_MACROS = ("cell_style(",)  # macros that write whole, quoted attributes


def test_template_values_sit_in_quoted_attributes_and_no_inline_handlers():
    tag = re.compile(r"<[a-zA-Z](?:[^<>\"']|\"[^\"]*\"|'[^']*')*>", re.S)
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for found in tag.finditer(text):
            markup = found.group(0)
            unquoted = re.sub(r"'[^']*'", "", re.sub(r'"[^"]*"', "", markup))
            for expression in re.findall(r"\{\{(.*?)\}\}", unquoted):
                assert expression.strip().startswith(ATTRIBUTE_MACROS), (path.name, markup[:120])  # value="{{ x }}"
            assert not re.search(r"\son[a-z]+\s*=", unquoted), (path.name, markup[:120])  # CSP: no inline script


def test_no_sql_statement_is_built_by_formatting():
    for path in PYTHON:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            formatted = None
            if isinstance(node, ast.JoinedStr):
                formatted = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
                formatted = str(node.left.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                    and isinstance(node.func.value, ast.Constant):
                formatted = str(node.func.value.value)
            if formatted and SQL_WORDS.search(formatted):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno}: SQL built by formatting: {formatted[:80]!r}")
