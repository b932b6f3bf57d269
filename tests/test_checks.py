"""Definition checks: each kind of broken definition is reported with file, JSON pointer and a
sentence, by server.checks and by `xindang check-forms`; the registry leaves broken forms out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from _formdata import FORMS, assert_chinese
from server.checks import check_definition, load_form_dir
from server.registry import Registry
from server.settings import FORM_DEFS_DIR

SOURCE = FORM_DEFS_DIR / "screening_consent"
SHIPPED = FORMS


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, value) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")


def _edit(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(form_dir: Path) -> None:
        document = _json(form_dir / name)
        change(document)
        _write(form_dir / name, document)
    return apply


def _grid(layout: dict) -> dict:
    """The reply slip's grid (the only grid of screening_consent)."""
    return next(b for b in layout["blocks"] if b["type"] == "grid")


def _grid_index(layout: dict) -> int:
    return next(i for i, b in enumerate(layout["blocks"]) if b["type"] == "grid")


def _row_of(layout: dict, field: str) -> int:
    return next(r for r, row in enumerate(_grid(layout)["rows"]) if any(c.get("field") == field for c in row))


_LAYOUT = _json(SOURCE / "layout.json")
G = _grid_index(_LAYOUT)
PHONE_ROW = _row_of(_LAYOUT, "guardian_phone")
NOTE_ROW = _row_of(_LAYOUT, "guardian_note")


def _invalid_json(form_dir: Path) -> None:
    (form_dir / "schema.json").write_text('{"type": "object", "properties": {', encoding="utf-8")


def _set_cell(row: int, col: int, **values) -> Callable[[dict], None]:
    def change(layout: dict) -> None:
        _grid(layout)["rows"][row][col].update(values)
    return change


def _example(form_dir: Path) -> None:
    example = _json(form_dir / "examples" / "full.json")
    example["decision"] = "也许"
    _write(form_dir / "examples" / "full.json", example)


# kind → (how to break a copy, file the problem is in, the JSON pointer, a word of the sentence)
BREAKERS: dict[str, tuple[Callable[[Path], None], str, str, str]] = {
    "invalid_json": (_invalid_json, "schema.json", "/", "JSON"),
    "invalid_schema": (_edit("schema.json", lambda s: s["properties"]["batch"].__setitem__("type", 5)),
                       "schema.json", "/properties/batch/type", "JSON Schema"),
    "unknown_block_type": (_edit("layout.json", lambda l: l["blocks"][0].__setitem__("type", "poster")),
                           "layout.json", "/blocks/0/type", "poster"),
    "unknown_cell_key": (_edit("layout.json", _set_cell(0, 0, colour="red")),
                         "layout.json", f"/blocks/{G}/rows/0/0", "colour"),
    "layout_field_missing_in_schema": (_edit("layout.json", _set_cell(NOTE_ROW, 1, field="guardian_hobby")),
                                       "layout.json", f"/blocks/{G}/rows/{NOTE_ROW}/1/field", "guardian_hobby"),
    "schema_field_not_shown": (_edit("schema.json", lambda s: s["properties"].__setitem__(
                                   "favourite_colour", {"title": "颜色", "type": "string", "maxLength": 10})),
                               "layout.json", "/blocks", "favourite_colour"),
    "field_shown_twice": (_edit("layout.json", _set_cell(PHONE_ROW, 1, field="guardian_name")),
                          "layout.json", f"/blocks/{G}/rows/{PHONE_ROW}/1/field", "guardian_name"),
    "invalid_when": (_edit("layout.json", _set_cell(NOTE_ROW, 1, when={"type": 5})),
                     "layout.json", f"/blocks/{G}/rows/{NOTE_ROW}/1/when/type", "JSON Schema"),
    "when_unknown_field": (_edit("layout.json", _set_cell(NOTE_ROW, 1, when={"properties": {"decison": {"const": "同意参加"}}})),
                           "layout.json", f"/blocks/{G}/rows/{NOTE_ROW}/1/when", "decison"),
    "remote_ref": (_edit("schema.json", lambda s: s["properties"]["batch"].__setitem__("$ref", "https://example.com/x.json")),
                   "schema.json", "/properties/batch/$ref", "https://example.com/x.json"),
    "re2_backreference": (_edit("schema.json", lambda s: s["properties"]["batch"].__setitem__("pattern", "^(a)\\1$")),
                          "schema.json", "/properties/batch/pattern", "\\1"),
    "grid_spans": (_edit("layout.json", _set_cell(PHONE_ROW, 1, span=2)),
                   "layout.json", f"/blocks/{G}/rows/{PHONE_ROW}", "3"),
    "example_invalid": (_example, "examples/full.json", "/decision", "请选择其中一项"),
    "risk_level_not_ordinal": (_edit("schema.json", lambda s: s["properties"]["batch"].__setitem__("x-risk-level", True)),
                               "schema.json", "/properties/batch", "x-risk-level"),
    "agreement_unknown_field": (_edit("schema.json", lambda s: s.__setitem__("x-account-agreement", {"account": "nobody"})),
                                "schema.json", "/x-account-agreement/account", "account"),
}


def broken_copy(base: Path, kind: str) -> Path:
    target = base / kind
    shutil.copytree(SOURCE, target)
    BREAKERS[kind][0](target)
    return target


def run_cli(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XINDANG_DATA_DIR": str(tmp / "cli-data"), "XINDANG_SECRET_KEY": "cli-test"}
    env.pop("XINDANG_FORM_DIRS", None)
    return subprocess.run([sys.executable, "-c", "from server.cli import main; main()", "check-forms", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("broken")
    for kind in BREAKERS:
        broken_copy(base, kind)
    return base


@pytest.fixture(scope="module")
def cli_output(broken_tree, tmp_path_factory) -> subprocess.CompletedProcess:
    return run_cli(str(broken_tree), tmp=tmp_path_factory.mktemp("cli"))


def test_the_unbroken_copy_passes(tmp_path):
    shutil.copytree(SOURCE, tmp_path / "screening_consent")
    definition, problems = load_form_dir(tmp_path / "screening_consent")
    assert problems == []
    assert definition is not None and definition.form_id == "screening_consent"


@pytest.mark.parametrize("kind", list(BREAKERS))
def test_each_error_kind_is_reported_with_file_and_pointer(broken_tree, kind):
    _breaker, file, where, word = BREAKERS[kind]
    definition, problems = load_form_dir(broken_tree / kind)
    assert definition is None
    matching = [p for p in problems if p.file == f"{kind}/{file}" and (p.pointer or "/") == where]
    assert matching, f"no problem at {kind}/{file}:{where} in {[str(p) for p in problems]}"
    assert any(word in p.message for p in matching), [p.message for p in matching]
    for problem in problems:
        assert_chinese(problem.message)


@pytest.mark.parametrize("kind", list(BREAKERS))
def test_cli_reports_each_error_kind(cli_output, kind):
    _breaker, file, where, _word = BREAKERS[kind]
    assert cli_output.returncode == 1, cli_output.stdout + cli_output.stderr
    lines = cli_output.stdout.splitlines()
    assert any(line.startswith(f"{kind}/{file}:{where}: ") for line in lines), cli_output.stdout


def test_cli_single_broken_folder_exits_1(tmp_path):
    folder = broken_copy(tmp_path, "remote_ref")
    result = run_cli(str(folder), tmp=tmp_path)
    assert result.returncode == 1
    assert "remote_ref/schema.json:/properties/batch/$ref:" in result.stdout


def test_check_definition_directly_on_broken_data():
    schema, layout = _json(SOURCE / "schema.json"), _json(SOURCE / "layout.json")
    assert check_definition("x", schema, layout) == []
    schema["properties"]["tools"]["items"]["enum"] = "not a list"
    problems = check_definition("x", schema, layout)
    assert any(p.file == "x/schema.json" and p.pointer.startswith("/properties/tools/items/enum") for p in problems)
    assert check_definition("x", [], layout)[0].message  # not an object: a problem, not an exception
    assert check_definition("x", _json(SOURCE / "schema.json"), {"blocks": "no"})


def test_shipped_forms_pass(tmp_path):
    for form_id in SHIPPED:
        definition, problems = load_form_dir(FORM_DEFS_DIR / form_id)
        assert problems == [], [str(p) for p in problems]
        assert definition is not None
    result = run_cli(tmp=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_cli(str(FORM_DEFS_DIR), tmp=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_registry_leaves_broken_definitions_out(tmp_path):
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    shutil.copytree(SOURCE, good / "consent_copy")
    broken_copy(bad, "field_shown_twice")
    broken_copy(bad, "invalid_json")
    registry = Registry.load([FORM_DEFS_DIR, good, bad])
    assert "consent_copy" in registry.forms
    for form_id in SHIPPED:
        assert form_id in registry.forms
    assert "field_shown_twice" not in registry.forms and "invalid_json" not in registry.forms
    assert set(registry.problems) == {"field_shown_twice", "invalid_json"}
    placed = {d.form_id for part in registry.parts for d in part.forms}
    assert "consent_copy" in placed and "field_shown_twice" not in placed


def test_a_condition_inside_a_repeat_is_reported(tmp_path):
    form_dir = tmp_path / "counseling_copy"
    shutil.copytree(FORM_DEFS_DIR / "individual_counseling", form_dir)
    layout = _json(form_dir / "layout.json")
    repeat_path = next(["blocks", i, "blocks", j] for i, b in enumerate(layout["blocks"]) if b["type"] == "section"
                       for j, inner in enumerate(b["blocks"]) if inner["type"] == "repeat")
    repeat = layout["blocks"][repeat_path[1]]["blocks"][repeat_path[3]]
    repeat["blocks"][0]["rows"][0][1]["when"] = {"properties": {"risk_screen": {"const": "x"}}}
    _write(form_dir / "layout.json", layout)
    definition, problems = load_form_dir(form_dir)
    assert definition is None
    assert any(p.pointer == "/" + "/".join(map(str, repeat_path)) + "/blocks/0" for p in problems), problems


def test_footer_fields_are_shown_on_screen_and_paper(tmp_path):
    from renderers.forms import VIEW, render_layout
    from renderers.pdf import print_html

    form_dir = tmp_path / "consent_footer"
    shutil.copytree(SOURCE, form_dir)
    layout = _json(form_dir / "layout.json")
    schema = _json(form_dir / "schema.json")
    schema["properties"]["archived_by"] = {"title": "归档人", "type": "string", "maxLength": 20}
    layout["footer"] = [{"label": "归档人", "field": "archived_by"}]
    _write(form_dir / "layout.json", layout)
    _write(form_dir / "schema.json", schema)
    definition, problems = load_form_dir(form_dir)
    assert definition is not None, problems
    assert "王老师" in render_layout(definition, VIEW, {"archived_by": "王老师"})
    assert "王老师" in print_html(definition, {"archived_by": "王老师"})
