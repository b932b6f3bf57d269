"""Exports that statistics can use: the XLSX keeps numbers, dates and a scale's answer codes typed (labels in a
codebook sheet), freezes and filters its header row, and still never holds a formula; CSV headers are
neutralised like its cells, and a title a spreadsheet would run is refused by the definition checks."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json

import openpyxl
from click.testing import CliRunner

from _formdata import CJK, assert_chinese, example, shipped_registry


async def seed_scales() -> dict:
    from server.models import School, Student, User
    from server.records import create_record
    from server.scoring import compute

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    registry = shipped_registry()
    scale = registry.get("scale_mhrsp")
    students = [await Student.get(student_number="T0001"), await Student.get(student_number="T0002")]
    for student, answer in zip(students, (1, 0)):
        data = copy.deepcopy(example("scale_mhrsp"))
        data["answers"] = {key: answer for key in data["answers"]}
        data["strengths"] = "=HYPERLINK(\"http://evil.example\",\"点我\")"
        compute(scale.scoring, data)
        await create_record(scale, school, admin, data, [student])
    ledger = registry.get("attention_ledger")
    await create_record(ledger, school, admin, {**example("attention_ledger"), "level": 2}, [students[0]])
    return {"scale": scale.form_id}


def _sheet_rows(sheet) -> tuple[list, list[list]]:
    rows = [list(row) for row in sheet.iter_rows()]
    return rows[0], rows[1:]


def test_the_xlsx_has_typed_numbers_dates_and_answer_codes_with_a_codebook(logged_in):
    world = logged_in
    world.run(seed_scales)
    response = world.client.get("/forms/scale_mhrsp?format=xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.worksheets[0]
    header, body = _sheet_rows(sheet)
    titles = [c.value for c in header]
    assert len(body) == 2
    scale = shipped_registry().get("scale_mhrsp")

    # frozen header row and a filter over the whole table
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(titles))}3"
    assert all(c.font.b for c in header)

    # a scale's answers: the code, a number cell
    first_item = titles.index(scale.fields["answers.q1"].title)
    answers = sorted(row[first_item].value for row in body)
    assert answers == [0, 1] and all(row[first_item].data_type == "n" for row in body)
    # a computed score: a number; the band (text) stays text
    score = titles.index(scale.fields["scores.a"].title)
    assert all(isinstance(row[score].value, int) and row[score].data_type == "n" for row in body)
    band = titles.index(scale.fields["scores.a_level"].title)
    assert all(row[band].data_type == "s" and CJK.search(row[band].value) for row in body)
    # a date: an Excel date with a date format, not text
    rated = titles.index(scale.fields["rated_on"].title)
    for row in body:
        assert row[rated].is_date and row[rated].value.date() == dt.date(2026, 10, 9)
        assert row[rated].number_format == "yyyy-mm-dd"
    assert all(row[6].is_date and row[6].number_format == "yyyy-mm-dd hh:mm:ss" for row in body)  # saved at
    assert all(row[5].value == 1 and row[5].data_type == "n" for row in body)  # the revision, a number

    # text that starts like a formula is still text, neutralised; nothing anywhere is a formula
    strengths = titles.index(scale.fields["strengths"].title)
    assert all(row[strengths].value.startswith("'=HYPERLINK") and row[strengths].data_type == "s" for row in body)
    assert all(c.data_type != "f" for row in [header, *body] for c in row)

    # the codebook: field, code, label for every coded column
    codebook = workbook.worksheets[1]
    assert codebook.title == "编码说明"
    book = [[c.value for c in row] for row in codebook.iter_rows()]
    assert book[0] == ["字段", "编码", "含义"]
    q1 = [row for row in book[1:] if row[0] == scale.fields["answers.q1"].title]
    assert [(code, label) for _title, code, label in q1] == [(o.value, o.label) for o in scale.fields["answers.q1"].options]
    assert all(isinstance(row[1], int) for row in book[1:])


def test_a_risk_level_is_exported_as_its_code_with_the_schools_names_in_the_codebook(logged_in):
    world = logged_in
    world.run(seed_scales)
    workbook = openpyxl.load_workbook(io.BytesIO(world.client.get("/forms/attention_ledger?format=xlsx").content))
    header, body = _sheet_rows(workbook.worksheets[0])
    level = [c.value for c in header].index("关注等级")
    assert body[0][level].value == 2 and body[0][level].data_type == "n"
    book = [[c.value for c in row] for row in workbook.worksheets[1].iter_rows()]
    assert ["关注等级", 2, "重点关注"] in book
    # the CSV stays text for people: the level's name
    rows = list(csv.reader(io.StringIO(world.client.get("/forms/attention_ledger?format=csv").content.decode("utf-8-sig"))))
    assert rows[1][rows[0].index("关注等级")] == "重点关注"


def _formula_titled_definition():
    from server.definitions import Definition

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "测试", "type": "object",
              "x-subject": "school", "additionalProperties": False,
              "properties": {"a": {"title": '=HYPERLINK("http://evil.example")', "type": "string", "maxLength": 10},
                             "b": {"title": "+cmd|' /C calc'!A0", "type": "string", "maxLength": 10},
                             "c": {"title": "@SUM(1)", "type": "integer"},
                             "d": {"title": "-2+3", "type": "string", "maxLength": 10}}}
    layout = {"title": "测试", "blocks": [{"type": "grid", "columns": 2, "rows": [
        [{"field": "a"}, {"field": "b"}], [{"field": "c"}, {"field": "d"}]]}]}
    return schema, layout, Definition(form_id="formula_titles", schema=schema, layout=layout)


def test_csv_and_xlsx_headers_are_neutralised():
    from server.tabular import export_rows, to_csv, to_xlsx

    _schema, _layout, definition = _formula_titled_definition()
    header = next(csv.reader(io.StringIO(to_csv(export_rows(definition, [], None)).decode("utf-8-sig"))))
    titles = header[7:]
    assert titles == ["'" + definition.fields[p].title for p in "abcd"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in header)
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(export_rows(definition, [], None, typed=True), "t"))).active
    cells = next(sheet.iter_rows())
    assert [c.value for c in cells][7:] == titles and all(c.data_type == "s" for c in cells)


def test_the_checks_refuse_titles_a_spreadsheet_would_run(tmp_path):
    from server.checks import check_definition, check_publishable
    from server.cli import main

    schema, layout, _definition = _formula_titled_definition()
    problems = check_definition("formula_titles", schema, layout)
    refused = {p.pointer for p in problems}
    assert {"/properties/a/title", "/properties/b/title", "/properties/c/title", "/properties/d/title"} <= refused
    for problem in problems:
        assert_chinese(problem.message)
    assert any("公式" in p.message for p in problems)
    assert {p.pointer for p in check_publishable("formula_titles", schema, layout)} >= refused  # the editor's publishing
    # an option's title is a header's neighbour in the codebook: refused too
    optioned = json.loads(json.dumps(schema))
    optioned["properties"]["a"] = {"title": "选项", "type": "integer", "oneOf": [{"const": 0, "title": "=1+1"}]}
    assert "/properties/a/oneOf/0/title" in {p.pointer for p in check_definition("formula_titles", optioned, layout)}

    folder = tmp_path / "formula_titles"
    folder.mkdir()
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    (folder / "layout.json").write_text(json.dumps(layout, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["check-forms", str(tmp_path)])
    assert result.exit_code != 0
    assert "/properties/a/title" in result.output and "公式" in result.output
