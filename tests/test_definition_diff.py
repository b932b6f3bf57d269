"""A definition's changes against the stored records: every critical kind (a removed field with data, a
removed or re-coded option in use, values a narrower field refuses, a field made required that old records
leave empty) and the harmless ones, and `xindang diff-form` at the console."""

from __future__ import annotations

import copy
import json
import shutil

from click.testing import CliRunner

from _formdata import CJK, example, shipped_registry
from server.checks import load_form_dir
from server.cli import main as cli
from server.definition_diff import compare
from server.definitions import Definition

FORM = "classroom_observation"


def changed(edit) -> Definition:
    base = shipped_registry().get(FORM)
    schema, layout = copy.deepcopy(base.schema), copy.deepcopy(base.layout)
    edit(schema, layout)
    return Definition(form_id=FORM, schema=schema, layout=layout)


def kinds(changes) -> dict[str, tuple[bool, int]]:
    return {f"{c.kind}:{c.path}": (c.critical, c.records) for c in changes}


def test_the_same_definition_changes_nothing():
    old = shipped_registry().get(FORM)
    assert compare(old, changed(lambda s, layout: None), [example(FORM)]) == []


def test_removing_a_field_is_critical_only_when_records_answered_it():
    def drop(schema, layout):
        del schema["properties"]["plan"]
        del schema["properties"]["head_teacher"]
    records = [example(FORM), {k: v for k, v in example(FORM).items() if k != "head_teacher"}]
    found = kinds(compare(shipped_registry().get(FORM), changed(drop), records))
    assert found["field_removed:plan"] == (True, 2)
    assert found["field_removed:head_teacher"] == (True, 1)
    assert "layout_changed:" not in found  # the layout itself was not touched here
    found = kinds(compare(shipped_registry().get(FORM), changed(drop), []))
    assert found["field_removed:plan"] == (False, 0)


def test_options_removed_recoded_relabelled_and_added():
    def options(schema, layout):
        enum = schema["properties"]["reason"]["enum"]
        enum.remove("台账学生定期观察")  # in use
        enum.remove("同伴反映")  # not in use
        enum.append("新增来源")
        steps = schema["properties"]["next_step"]["items"]["enum"]
        steps[steps.index("心理教师约谈")] = "心理教师面谈"  # a multiple choice: the stored list holds the old code
    changes = compare(shipped_registry().get(FORM), changed(options), [example(FORM), example(FORM)])
    found = kinds(changes)
    removed = [c for c in changes if c.kind == "option_removed"]
    assert any(c.critical and c.records == 2 and "台账学生定期观察" in c.message for c in removed)
    assert any(not c.critical and "同伴反映" in c.message for c in removed)
    assert any(c.critical and "心理教师约谈" in c.message and c.path == "next_step" for c in removed)
    assert found["option_added:reason"] == (False, 0)
    assert all(CJK.search(c.message) for c in changes)


def test_a_recoded_option_with_the_same_label_is_named_as_such():
    def recode(schema, layout):
        schema["properties"]["reason"].pop("enum")
        schema["properties"]["reason"]["oneOf"] = [{"const": v, "title": v} for v in
                                                   ["日常发现", "台账学生定期观察", "家长反映", "同伴反映", "心理教师建议", "其他"]]

    def recode_again(schema, layout):
        recode(schema, layout)
        schema["properties"]["reason"]["oneOf"][1] = {"const": "ledger", "title": "台账学生定期观察"}
        schema["properties"]["reason"]["oneOf"][0]["title"] = "日常发现（含课间）"
    old = changed(recode)
    found = kinds(compare(old, changed(recode_again), [example(FORM)]))
    assert found["option_recoded:reason"] == (True, 1)
    assert found["option_relabelled:reason"] == (False, 0)


def test_narrower_fields_and_new_required_fields_count_the_records_they_break():
    def narrow(schema, layout):
        schema["properties"]["plan"]["maxLength"] = 10  # the example's plan is longer
        schema["properties"]["review_summary"]["title"] = "阶段小结"
        schema["required"].append("reviewer")  # one record below has no reviewer
        schema["properties"]["observed_minutes"] = {"title": "观察时长（分钟）", "type": "integer", "minimum": 1, "maximum": 45}
        schema["required"].append("observed_minutes")
    records = [example(FORM), {k: v for k, v in example(FORM).items() if k != "reviewer"}]
    found = kinds(compare(shipped_registry().get(FORM), changed(narrow), records))
    assert found["values_unfit:plan"] == (True, 2)
    assert found["made_required:reviewer"] == (True, 1)
    assert found["field_added:observed_minutes"] == (True, 2)
    assert found["title_changed:review_summary"] == (False, 0)
    within_rows = kinds(compare(shipped_registry().get(FORM), changed(
        lambda s, layout: s["properties"]["observations"]["items"]["properties"]["lesson"].update(maxLength=3)), records))
    assert within_rows["values_unfit:observations[].lesson"] == (True, 2)


def test_diff_form_command(tmp_path):
    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    folder = tmp_path / FORM
    shutil.copytree(shipped_registry().get(FORM).source_dir, folder)
    shutil.rmtree(folder / "examples")  # the school's new version has no examples of its own
    same = runner.invoke(cli, ["diff-form", str(folder)], env=env)
    assert same.exit_code == 0 and CJK.search(same.output), same.output
    schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    schema["properties"]["reason"]["enum"] = ["日常发现"]  # the demo records chose others
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    assert load_form_dir(folder)[0] is not None
    critical = runner.invoke(cli, ["diff-form", str(folder)], env=env)
    assert critical.exit_code == 3 and "【关键】" in critical.output, critical.output
    schema["properties"]["reason"]["pattern"] = "(a+)+$"
    schema["properties"]["reason"]["type"] = 5  # broken: refused with the definition's problems
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    broken = runner.invoke(cli, ["diff-form", str(folder)], env=env)
    assert broken.exit_code == 1 and CJK.search(broken.output)
