"""What a school-authored form showed the checks miss (issue 14, items 3, 4, 12, 13, 17): references to
nothing, keywords the server does not run, unbounded data, a table without columns, examples checked
always and in Chinese, and reminders that do not fail the check."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from _formdata import assert_chinese
from server.checks import check_definition, check_publishable, definition_warnings, load_form_dir
from server.settings import FORM_DEFS_DIR
from test_checks import run_cli


def _read(form_id: str) -> tuple[dict, dict]:
    folder = FORM_DEFS_DIR / form_id
    return (json.loads((folder / "schema.json").read_text(encoding="utf-8")),
            json.loads((folder / "layout.json").read_text(encoding="utf-8")))


def _copy(tmp_path: Path, form_id: str) -> Path:
    target = tmp_path / form_id
    shutil.copytree(FORM_DEFS_DIR / form_id, target)
    return target


def _write(folder: Path, schema: dict | None = None, layout: dict | None = None) -> None:
    for name, document in (("schema.json", schema), ("layout.json", layout)):
        if document is not None:
            (folder / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _at(problems, pointer: str, word: str) -> list:
    found = [p for p in problems if p.pointer == pointer and word in p.message]
    assert found, [str(p) for p in problems]
    for problem in found:
        assert_chinese(problem.message)
    return found


# --- item 4: every $ref resolves -------------------------------------------------------------------

def test_a_reference_to_nothing_is_refused_by_the_checks_publishing_and_check_forms(tmp_path):
    folder = _copy(tmp_path, "screening_consent")  # a folder with examples: check-forms printed a traceback
    schema, layout = _read("screening_consent")
    schema["properties"]["guardian_note"] = {"$ref": "#/$defs/missing", "title": "备注"}
    _write(folder, schema)
    definition, problems = load_form_dir(folder)
    assert definition is None
    _at(problems, "/properties/guardian_note/$ref", "#/$defs/missing")
    _at(check_publishable("screening_consent", schema, layout), "/properties/guardian_note/$ref", "$defs")
    result = run_cli(str(folder), tmp=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "/properties/guardian_note/$ref" in result.stdout


def test_a_reference_that_resolves_passes():
    schema, layout = _read("screening_consent")
    schema["$defs"] = {"note": {"type": "string", "maxLength": 200}}
    schema["properties"]["guardian_note"] = {"$ref": "#/$defs/note", "title": "备注"}
    assert check_definition("screening_consent", schema, layout) == []


def test_a_reference_in_a_condition_resolves_in_the_condition():
    schema, layout = _read("monthly_mood")
    block = next(b for b in layout["blocks"] if b.get("type") == "grid")
    block["when"] = {"$ref": "#/$defs/nowhere"}
    _at(check_definition("monthly_mood", schema, layout), f"/blocks/{layout['blocks'].index(block)}/when/$ref", "#/$defs/nowhere")


# --- item 3: keywords the server cannot run safely are refused with a sentence -------------------

@pytest.mark.parametrize("keyword", ["unevaluatedProperties", "unevaluatedItems", "$dynamicRef"])
def test_keywords_the_server_does_not_run_are_refused(keyword):
    schema, layout = _read("screening_consent")
    schema[keyword] = "#/$defs/x" if keyword == "$dynamicRef" else False
    _at(check_definition("screening_consent", schema, layout), f"/{keyword}", keyword)


def test_a_pattern_property_re2_refuses_is_refused():
    schema, layout = _read("screening_consent")
    schema["patternProperties"] = {"^(?=a)": {"type": "string", "maxLength": 5}}
    _at(check_definition("screening_consent", schema, layout), "/patternProperties/^(?=a)", "RE2")


# --- item 13: what bounds a record is required ---------------------------------------------------

def test_an_object_that_accepts_any_key_is_refused():
    schema, layout = _read("monthly_mood")
    del schema["additionalProperties"]
    del schema["properties"]["checkins"]["items"]["additionalProperties"]
    problems = check_definition("monthly_mood", schema, layout)
    _at(problems, "", "additionalProperties")
    _at(problems, "/properties/checkins/items", "additionalProperties")


def test_a_long_text_without_max_length_is_refused():
    schema, layout = _read("screening_consent")
    del schema["properties"]["guardian_note"]["maxLength"]
    _at(check_definition("screening_consent", schema, layout), "/properties/guardian_note", "maxLength")


def test_a_list_without_max_items_is_refused():
    schema, layout = _read("screening_consent")
    del schema["properties"]["grades"]["maxItems"]
    _at(check_definition("screening_consent", schema, layout), "/properties/grades", "maxItems")
    schema["properties"]["grades"]["maxItems"] = 100_000
    _at(check_definition("screening_consent", schema, layout), "/properties/grades", "maxItems")


# --- item 12: a table without columns is reported at the table, saying what to add -----------------

def test_a_table_without_columns_is_reported_at_the_table():
    schema, layout = _read("monthly_mood")
    index = next(i for i, b in enumerate(layout["blocks"]) if b.get("type") == "table")
    del layout["blocks"][index]["columns"]
    problems = check_definition("monthly_mood", schema, layout)
    found = _at(problems, f"/blocks/{index}", "columns")
    assert '{"field": "date"}' in found[0].message
    assert not [p for p in problems if p.pointer == "/blocks"], [str(p) for p in problems]


def test_a_field_missing_from_its_table_is_reported_at_the_table():
    schema, layout = _read("monthly_mood")
    index = next(i for i, b in enumerate(layout["blocks"]) if b.get("type") == "table")
    dropped = layout["blocks"][index]["columns"].pop()["field"]
    _at(check_definition("monthly_mood", schema, layout), f"/blocks/{index}", dropped)


# --- item 17: examples are checked always, in Chinese -----------------------------------------------

def test_examples_are_checked_even_when_the_layout_has_problems_and_in_chinese(tmp_path):
    folder = _copy(tmp_path, "screening_consent")
    schema, layout = _read("screening_consent")
    layout["blocks"].append({"type": "grid", "rows": [[{"field": "no_such_field"}]]})
    _write(folder, layout=layout)
    example = json.loads((folder / "examples" / "full.json").read_text(encoding="utf-8"))
    example["decision"], example["guardian_phone"] = "也许", "12"
    (folder / "examples" / "full.json").write_text(json.dumps(example, ensure_ascii=False), encoding="utf-8")
    _definition, problems = load_form_dir(folder)
    mine = [p for p in problems if p.file == "screening_consent/examples/full.json"]
    assert {p.pointer for p in mine} == {"/decision", "/guardian_phone"}, [str(p) for p in problems]
    for problem in mine:
        assert_chinese(problem.message)
        assert " is not " not in problem.message and "does not match" not in problem.message
    assert any(p.file == "screening_consent/layout.json" for p in problems)


# --- item 13: reminders that do not fail the check ----------------------------------------------------

def test_a_field_cell_without_a_label_in_its_row_is_a_reminder():
    schema, layout = _read("screening_consent")
    grid = next(b for b in layout["blocks"] if b["type"] == "grid")
    g = layout["blocks"].index(grid)
    r = next(r for r, row in enumerate(grid["rows"]) if any(c.get("field") == "guardian_note" for c in row))
    for cell in grid["rows"][r]:
        if "label" in cell:
            cell["label"] = ""
    c = next(c for c, cell in enumerate(grid["rows"][r]) if cell.get("field") == "guardian_note")
    assert check_definition("screening_consent", schema, layout) == []  # not a problem …
    _at(definition_warnings("screening_consent", schema, layout), f"/blocks/{g}/rows/{r}/{c}", schema["properties"]["guardian_note"]["title"])


def test_a_table_named_by_nothing_is_a_reminder():
    schema, layout = _read("registration")
    section = layout["blocks"][1]
    table = next(b for b in section["blocks"] if b.get("type") == "table")
    section["blocks"].remove(table)
    del table["title"]
    layout["blocks"].insert(2, table)  # after the section, under no heading
    assert check_definition("registration", schema, layout) == []
    _at(definition_warnings("registration", schema, layout), "/blocks/2", "title")
    titled = copy.deepcopy(layout)
    titled["blocks"][2]["title"] = "家庭成员"
    assert not [w for w in definition_warnings("registration", schema, titled) if w.pointer == "/blocks/2"]


def test_a_homeroom_teachers_signature_on_a_psychology_teacher_only_form_is_a_reminder(tmp_path):
    schema, layout = _read("screening_consent")
    schema["x-access"] = {action: ["psych_teacher"] for action in ("create", "read", "edit", "print", "export")}
    schema["properties"]["head_teacher_signed_on"] = {"title": "班主任签字日期", "type": "string", "format": "date"}
    layout["blocks"].append({"type": "signature", "label": "班主任签名", "date_field": "head_teacher_signed_on"})
    assert check_definition("screening_consent", schema, layout) == []
    _at(definition_warnings("screening_consent", schema, layout), f"/blocks/{len(layout['blocks']) - 1}/label", "homeroom_teacher")
    # check-forms prints the reminder and still passes
    folder = _copy(tmp_path, "screening_consent")
    _write(folder, schema, layout)
    result = run_cli(str(folder), tmp=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "提醒" in result.stdout and "班主任签名" in result.stdout
    # when the 班主任 may write the record, nothing to remind
    schema["x-access"]["create"] = schema["x-access"]["edit"] = ["psych_teacher", "homeroom_teacher"]
    schema["x-access"]["read"] = ["psych_teacher", "homeroom_teacher"]
    assert definition_warnings("screening_consent", schema, layout) == []


def test_the_shipped_definitions_pass_with_only_reminders_about_hand_signed_roles():
    for folder in sorted(p for p in FORM_DEFS_DIR.iterdir() if (p / "schema.json").is_file()):
        definition, problems = load_form_dir(folder)
        assert problems == [], [str(p) for p in problems]
        for warning in definition_warnings(definition.form_id, definition.schema, definition.layout):
            assert warning.pointer.endswith("/label"), str(warning)


def test_the_editor_shows_the_reminders_of_a_definition(logged_in):
    response = logged_in.client.get("/admin/forms/support_plan")
    assert response.status_code == 200
    box = response.text.split('class="reminders"', 1)[1].split("</div>", 1)[0]
    assert "提醒（不影响发布" in box and "homeroom_teacher" in box and "班主任" in box
    assert 'class="reminders"' not in logged_in.client.get("/admin/forms/monthly_mood").text
