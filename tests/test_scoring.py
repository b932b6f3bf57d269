"""The scales: factor maps as published, scores computed at save with hand-computed expectations,
band edges, the scoring checks, and a school's imported item texts."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner

from _formdata import CJK, assert_chinese, definition, example
from server.checks import check_definition
from server.definitions import Definition
from server.cli import main as cli
from server.registry import Registry
from server.scale_items import read_item_texts, scale_items
from server.scoring import band, compute
from server.settings import FORM_DEFS_DIR, Settings
from server.validation import validate

# docs/HANDBOOK.md §3.1, written out again here so that a slip in the definition shows up
MSSMHS_FACTORS = {
    "强迫症状": [3, 10, 12, 22, 23, 48],
    "偏执": [11, 20, 24, 26, 47, 49],
    "敌对": [19, 21, 25, 50, 52, 58],
    "人际关系紧张与敏感": [4, 17, 18, 45, 51, 59],
    "抑郁": [5, 13, 14, 16, 44, 57],
    "焦虑": [6, 15, 34, 43, 46, 56],
    "学习压力": [31, 33, 36, 38, 40, 55],
    "适应不良": [1, 8, 9, 29, 39, 41],
    "情绪不平衡": [2, 7, 27, 32, 35, 53],
    "心理不平衡": [28, 30, 37, 42, 54, 60],
}
MHRSP_BLOCKS = {"a": range(1, 11), "b": range(11, 21), "c": range(21, 31), "d": range(31, 41),
                "e": range(41, 51), "f": range(51, 61), "g": range(61, 71), "h": range(71, 81)}


def item_numbers(paths) -> list[int]:
    return [int(re.fullmatch(r"answers\.q(\d+)", p).group(1)) for p in paths]


def rule(form_id: str, target: str):
    return next(r for r in definition(form_id).scoring if r.target == target)


def scored(form_id: str, answers: dict[int, int], **extra) -> dict:
    """Validate a record with these answers (as a save does) and return what would be stored."""
    data = {**copy.deepcopy(example(form_id, "sparse")), **extra}
    data["answers"] = {f"q{n}": v for n, v in answers.items()}
    errors = validate(definition(form_id), data)
    assert not errors, errors
    return data["scores"]


# --- factor maps ----------------------------------------------------------------------

def test_mssmhs_factor_map_is_the_published_one_and_uses_each_item_once():
    d = definition("scale_mssmhs")
    means = [r for r in d.scoring if r.operation == "mean" and r.target != "scores.total"]
    by_title = {d.fields[r.target].title.removesuffix("均分"): sorted(item_numbers(r.inputs)) for r in means}
    assert by_title == MSSMHS_FACTORS
    used = [n for r in means for n in item_numbers(r.inputs)]
    assert sorted(used) == list(range(1, 61)) and len(used) == len(set(used)) == 60
    assert sorted(item_numbers(rule("scale_mssmhs", "scores.total").inputs)) == list(range(1, 61))
    assert [spec.path for spec in scale_items(d)] == [f"answers.q{n}" for n in range(1, 61)]


def test_mhrsp_subscales_are_blocks_of_ten_and_use_each_item_once():
    d = definition("scale_mhrsp")
    sums = {r.target.removeprefix("scores."): item_numbers(r.inputs) for r in d.scoring
            if r.operation == "sum" and r.target != "scores.total"}
    assert sums == {key: list(numbers) for key, numbers in MHRSP_BLOCKS.items()}
    used = [n for numbers in sums.values() for n in numbers]
    assert sorted(used) == list(range(1, 81)) and len(set(used)) == 80
    assert [o.value for o in d.fields["answers.q1"].options] == [2, 1, 0]
    assert [o.label for o in d.fields["answers.q1"].options] == ["经常", "偶尔", "没有"]


def test_items_show_as_numbers_until_a_school_imports_texts():
    for form_id, count in (("scale_mssmhs", 60), ("scale_mhrsp", 80)):
        items = scale_items(definition(form_id))
        assert [s.title for s in items] == [f"第 {n} 题" for n in range(1, count + 1)]
        assert not any(s.description for s in items)


# --- hand-computed scores ---------------------------------------------------------------

def test_mssmhs_all_none_scores_one_everywhere():
    scores = scored("scale_mssmhs", {n: 1 for n in range(1, 61)})
    assert scores["depression"] == 1.0 and scores["depression_level"] == "未见明显问题"
    assert scores["total"] == 1.0 and scores["attention_count"] == 0 and scores["result"] == "未见异常"


def test_mssmhs_one_factor_at_two_flags_the_student():
    answers = {n: 1 for n in range(1, 61)}
    answers.update({5: 2, 13: 2, 14: 2, 16: 2, 44: 2, 57: 2})  # 抑郁 12/6 = 2.00
    scores = scored("scale_mssmhs", answers)
    assert scores["depression"] == 2.0 and scores["depression_level"] == "轻度"
    # total (54 + 12) / 60 = 1.10
    assert scores["total"] == 1.1 and scores["total_level"] == "未见明显问题"
    assert scores["attention_count"] == 1 and scores["result"] == "需关注"


def test_mssmhs_factor_just_below_two_is_not_flagged_and_means_round_half_up():
    answers = {n: 1 for n in range(1, 61)}
    answers.update({5: 2, 13: 2, 14: 2, 16: 2, 44: 2})  # 抑郁 11/6 = 1.8333…
    answers.update({6: 3, 15: 2, 34: 2, 43: 2, 46: 2, 56: 2})  # 焦虑 13/6 = 2.1666…
    scores = scored("scale_mssmhs", answers)
    assert scores["depression"] == 1.83 and scores["depression_level"] == "未见明显问题"
    assert scores["anxiety"] == 2.17 and scores["anxiety_level"] == "轻度"
    assert scores["attention_count"] == 1


def test_mssmhs_total_mean_and_its_bands():
    answers = {n: 2 for n in range(1, 61)}
    answers[1] = 1  # 适应不良 11/6 = 1.83; total 119/60 = 1.9833 → 1.98
    scores = scored("scale_mssmhs", answers)
    assert scores["total"] == 1.98 and scores["total_level"] == "未见明显问题"
    assert scores["maladjustment"] == 1.83
    assert scores["attention_count"] == 9 and scores["result"] == "需关注"

    scores = scored("scale_mssmhs", {n: 5 if n % 2 else 4 for n in range(1, 61)})  # 270/60 = 4.50
    assert scores["total"] == 4.5 and scores["total_level"] == "偏重"
    scores = scored("scale_mssmhs", {n: 5 for n in range(1, 61)})
    assert scores["total"] == 5.0 and scores["total_level"] == "严重" and scores["attention_count"] == 11


@pytest.mark.parametrize("value, level", [
    ("1.00", "未见明显问题"), ("1.99", "未见明显问题"), ("2.00", "轻度"), ("2.99", "轻度"), ("3.00", "中度"),
    ("3.99", "中度"), ("4.00", "偏重"), ("4.99", "偏重"), ("5.00", "严重"),
])
def test_mssmhs_band_edges(value, level):
    for target in ("scores.depression_level", "scores.total_level"):
        assert band(rule("scale_mssmhs", target).levels, Decimal(value)) == level


@pytest.mark.parametrize("value, level", [("0", "正常范围"), ("9", "正常范围"), ("10", "需关注"), ("20", "需关注")])
def test_mhrsp_band_edges(value, level):
    assert band(rule("scale_mhrsp", "scores.a_level").levels, Decimal(value)) == level


def test_mhrsp_subscale_nine_is_normal_and_ten_is_flagged():
    answers = {n: 0 for n in range(1, 81)}
    answers.update({1: 2, 2: 2, 3: 2, 4: 2, 5: 1})  # A 学习 9
    answers.update({11: 2, 12: 2, 13: 2, 14: 2, 15: 1, 16: 1})  # B 情绪 10
    answers.update({71: 1})  # H 1
    scores = scored("scale_mhrsp", answers, rater_role="家长")
    assert (scores["a"], scores["a_level"]) == (9, "正常范围")
    assert (scores["b"], scores["b_level"]) == (10, "需关注")
    assert (scores["h"], scores["h_level"]) == (1, "正常范围")
    assert scores["total"] == 20 and scores["flagged_count"] == 1 and scores["result"] == "需关注"

    scores = scored("scale_mhrsp", {n: 2 for n in range(1, 81)})
    assert scores["a"] == 20 and scores["total"] == 160 and scores["flagged_count"] == 8
    scores = scored("scale_mhrsp", {n: 0 for n in range(1, 81)})
    assert scores["total"] == 0 and scores["flagged_count"] == 0 and scores["result"] == "未见异常"


def test_unanswered_items_give_errors_and_no_scores():
    d = definition("scale_mssmhs")
    data = copy.deepcopy(example("scale_mssmhs", "sparse"))
    del data["answers"]["q7"]
    data["answers"]["q8"] = 6
    errors = {e.name: e.message for e in validate(d, data)}
    assert set(errors) == {"answers.q7", "answers.q8"}
    for message in errors.values():
        assert_chinese(message)
    assert "scores" not in data or not data["scores"]


def test_posted_scores_are_ignored_and_recomputed():
    data = copy.deepcopy(example("scale_mhrsp", "sparse"))
    data["scores"] = {"total": 150, "result": "需关注", "a": "很多"}
    assert validate(definition("scale_mhrsp"), data) == []
    assert data["scores"]["total"] == 0 and data["scores"]["result"] == "未见异常" and data["scores"]["a"] == 0


# --- the scoring format is checked --------------------------------------------------------

def mini_scale(rules: list, **score_fields) -> tuple[dict, dict]:
    response = {"type": "integer", "oneOf": [{"const": 0, "title": "否"}, {"const": 1, "title": "是"}]}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "title": "小量表", "additionalProperties": False,
        "properties": {
            "q1": {"title": "第 1 题", **response}, "q2": {"title": "第 2 题", **response},
            "note": {"type": "string", "title": "备注", "maxLength": 50},
            "total": {"type": "integer", "title": "总分", "readOnly": True},
            "level": {"type": "string", "title": "等级", "enum": ["低", "高"], "readOnly": True},
            **score_fields,
        },
        "x-scoring": rules,
    }
    layout = {"title": "小量表", "blocks": [
        {"type": "matrix", "fields": ["q1", "q2"]},
        {"type": "grid", "columns": 2, "rows": [[{"label": "备注"}, {"field": "note"}],
                                               [{"field": "total"}, {"field": "level"}],
                                               *[[{"label": k}, {"field": k}] for k in score_fields]]},
    ]}
    return schema, layout


def test_a_good_mini_scale_passes_and_scores():
    schema, layout = mini_scale([{"set": "total", "sum": ["q1", "q2"]},
                                 {"set": "level", "bands": "total", "levels": [{"from": 0, "value": "低"}, {"from": 2, "value": "高"}]}])
    assert check_definition("mini", schema, layout) == []
    mini = Definition(form_id="mini", schema=schema, layout=layout)
    for answers, total, level in (({"q1": 1, "q2": 1}, 2, "高"), ({"q1": 0, "q2": 1}, 1, "低"), ({"q1": 1}, None, None)):
        data = dict(answers)
        validate(mini, data)
        assert (data.get("total"), data.get("level")) == (total, level)


def test_a_score_that_does_not_fit_its_field_refuses_the_save():
    schema, layout = mini_scale([{"set": "total", "sum": ["q1", "q2"]}])
    schema["properties"]["total"]["maximum"] = 1
    mini = Definition(form_id="mini", schema=schema, layout=layout)
    errors = validate(mini, {"q1": 1, "q2": 1})
    assert [e.name for e in errors] == ["total"] and "计分规则" in errors[0].message


def test_huge_numbers_give_a_message_not_a_crash():
    big = {"type": "number", "title": "分值"}
    computed = {"type": "number", "readOnly": True}
    schema, layout = mini_scale([{"set": "avg", "mean": ["x", "y"]}, {"set": "both", "sum": ["x", "y"]}],
                                avg=dict(computed, title="均值"), both=dict(computed, title="合计"),
                                x=dict(big, title="甲"), y=dict(big, title="乙"))
    assert check_definition("mini", schema, layout) == []
    mini = Definition(form_id="mini", schema=schema, layout=layout)
    data = {"x": 1e30, "y": 3e30}
    assert validate(mini, data) == [] and data["avg"] == 2e30 and data["both"] == 4e30
    data = {"x": 1.7e308, "y": 1.7e308}
    errors = validate(mini, data)  # the mean fits a float, the sum does not
    assert data["avg"] == 1.7e308 and [e.name for e in errors] == ["both"]
    assert_chinese(errors[0].message)


@pytest.mark.parametrize("rules, expected", [
    ([{"set": "total", "sum": ["q1", "q9"]}], "q9"),
    ([{"set": "note", "sum": ["q1", "q2"]}], "readOnly"),
    ([{"set": "total", "sum": ["q1"]}, {"set": "total", "sum": ["q2"]}], "total"),
    ([{"set": "total", "sum": ["q1", "note"]}], "note"),
    ([{"set": "level", "bands": "total", "levels": [{"from": 0, "value": "低"}]}, {"set": "total", "sum": ["q1"]}], "total"),
    ([{"set": "total", "sum": ["q1"]}, {"set": "level", "bands": "total", "levels": [{"from": 2, "value": "高"}, {"from": 0, "value": "低"}]}], "levels"),
    ([{"set": "total", "sum": ["q1"]}, {"set": "level", "bands": "total", "levels": [{"from": 0, "value": "中"}]}], "中"),
    ([{"set": "total", "sum": ["q1"], "eval": "__import__('os')"}], "x-scoring"),
    ([{"set": "total", "median": ["q1"]}], "x-scoring"),
    ([{"set": "total", "mean": ["q1", "q2"]}], "round"),
    ([{"set": "total", "sum": ["q1"]}], "必填"),
])
def test_bad_scoring_rules_are_reported_in_chinese(rules, expected):
    schema, layout = mini_scale(rules)
    if expected == "必填":
        schema["required"] = ["total"]
    problems = check_definition("mini", schema, layout)
    assert problems, rules
    assert any(expected in str(p) for p in problems), problems
    for problem in problems:
        assert CJK.search(problem.message), problem


def test_a_matrix_needs_one_shared_set_of_options():
    schema, layout = mini_scale([])
    schema["properties"]["q2"] = {"type": "integer", "title": "第 2 题", "oneOf": [{"const": 0, "title": "没有"}, {"const": 2, "title": "经常"}]}
    problems = check_definition("mini", schema, layout)
    assert any("q2" in p.message and p.pointer == "/blocks/0/fields/1" for p in problems), problems
    layout["blocks"][0]["fields"] = ["q1", "note"]
    schema["properties"]["q2"]["oneOf"] = schema["properties"]["q1"]["oneOf"]
    layout["blocks"][1]["rows"][0] = [{"field": "q2"}, {"label": "x"}]
    problems = check_definition("mini", schema, layout)
    assert any("note" in p.message for p in problems), problems


# --- entry, view, paper ---------------------------------------------------------------------

def test_scale_entry_view_and_list_show_scores(logged_in):
    world, client = logged_in, logged_in.client
    form = client.get("/forms/scale_mssmhs/new")
    assert form.status_code == 200
    assert "第 60 题" in form.text and 'name="answers.q60"' in form.text
    assert form.text.count('type="radio" id="f-answers-q1-') == 5
    assert "保存后自动计算" in form.text
    token = world.run(_token)
    body = {"students": [world.student_ids[0]], "data": example("scale_mssmhs")}
    created = client.post("/api/forms/scale_mssmhs/records", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    scores = created.json()["data"]["scores"]
    assert scores["depression"] == 2.5 and scores["result"] == "需关注"
    record_id = created.json()["id"]
    view = client.get(f"/records/{record_id}")
    assert "2.50" in view.text and "需关注" in view.text and "轻度" in view.text
    assert view.text.count('<td class="choice">☑</td>') == 60 and view.text.count('<td class="choice">□</td>') == 240
    listing = client.get("/forms/scale_mssmhs", params={"f.scores.result": "需关注"})
    assert f'href="/records/{record_id}"' in listing.text and "需关注" in listing.text
    listing = client.get("/forms/scale_mssmhs", params={"f.scores.result": "未见异常"})
    assert f'href="/records/{record_id}"' not in listing.text
    csv_text = client.get("/forms/scale_mssmhs", params={"format": "csv"}).content.decode("utf-8-sig")
    assert "抑郁均分" in csv_text and "2.50" in csv_text


def test_unanswered_questions_are_one_line_of_the_error_summary_in_page_order(logged_in):
    world, client = logged_in, logged_in.client
    answers = {f"answers.q{n}": "1" for n in range(1, 81) if not 21 <= n <= 30 and n != 45}
    response = client.post("/forms/scale_mhrsp", data={**answers, "_student": str(world.student_ids[0]),
                                                        "rater": "周敏", "_csrf_token": world.csrf()})
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</ul>', response.text, re.S).group(0)
    lines = re.findall(r"<li><a href=\"#([^\"]+)\">([^<]+)</a></li>", summary)
    assert [text for _anchor, text in lines] == [
        "评定人身份：此项为必填项。", "第 21 题 至 第 30 题（共 10 题）：此项为必填项。", "第 45 题：此项为必填项。",
        "评定日期：此项为必填项。"]
    assert lines[1][0] == "err-answers-q21" and 'id="err-answers-q21"' in response.text
    assert 'id="err-answers-q30"' in response.text  # every question still has its own message
    assert 'value="1" checked' in response.text and world.run(_count) == 0


def test_a_scale_offers_the_students_of_its_grades(logged_in):
    world, client = logged_in, logged_in.client  # the test school's students are in 七年级
    offered = f'value="pick-student:{world.student_ids[0]}"'  # the picker's suggestion of the first student
    assert "本表适用于七年级、八年级、九年级" in client.get("/forms/scale_mssmhs/new").text
    assert offered in client.get("/forms/scale_mssmhs/students?q=T000").text
    assert "本表适用于一年级" in client.get("/forms/scale_mhrsp/new").text
    assert offered not in client.get("/forms/scale_mhrsp/students?q=T000").text
    # a student chosen anyway (a link, a refused save) stays chosen
    answers = {f"answers.q{n}": "0" for n in range(1, 81)}
    refused = client.post("/forms/scale_mhrsp", data={**answers, "_student": str(world.student_ids[0]), "_csrf_token": world.csrf()})
    assert refused.status_code == 422 and f'<input type="hidden" name="_student" value="{world.student_ids[0]}">' in refused.text


@pytest.mark.parametrize("grades", [[], [0], [7, 7], ["七"], [True], 7])
def test_bad_grades_are_reported(grades):
    schema, layout = mini_scale([])
    schema["x-grades"] = grades
    problems = check_definition("mini", schema, layout)
    assert [p.pointer for p in problems] == ["/x-grades"] and CJK.search(problems[0].message)


async def _count() -> int:
    from server.models import Record

    return await Record.all().count()


async def _token() -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username="admin"))


# --- importing licensed item texts --------------------------------------------------------------

def items_csv(count: int, header: bool = True, skip: int | None = None) -> str:
    lines = ["题号,题目"] if header else []
    lines += [f"{n},虚构示例题目{n}：我最近{'常常' if n % 2 else '有时'}感到……" for n in range(1, count + 1) if n != skip]
    return "\n".join(lines) + "\n"


def test_item_file_is_read_in_utf8_and_gbk():
    texts, problems = read_item_texts(items_csv(60).encode("utf-8-sig"), 60)
    assert problems == [] and len(texts) == 60 and texts[3].startswith("虚构示例题目3")
    texts, problems = read_item_texts(items_csv(60, header=False).encode("gbk"), 60)
    assert problems == [] and texts[60].startswith("虚构示例题目60")


def test_item_file_oddities():
    texts, problems = read_item_texts("1,我感到紧张,不安\n2,\"有逗号, 也有引号\"\n".encode(), 2)
    assert problems == [] and texts == {1: "我感到紧张,不安", 2: "有逗号, 也有引号"}
    texts, problems = read_item_texts("①,文本\n²,文本\n".encode(), 2)
    assert any("不是整数" in p for p in problems) and texts == {}
    texts, problems = read_item_texts(b'1,"never closed' + b"x" * 200_000, 1)
    assert problems and all(CJK.search(p) for p in problems)
    texts, problems = read_item_texts("\n\n题号,题目\n\n0001,第一题\n".encode(), 1)
    assert problems == [] and texts == {1: "第一题"}


def test_item_file_problems_are_listed_line_by_line():
    raw = (items_csv(60, skip=4) + "7,重复的第七题\n61,多出的一题\n八,不是数字\n9,\n").encode("utf-8")
    texts, problems = read_item_texts(raw, 60)
    joined = "\n".join(problems)
    assert "第 61 行" in joined and "第 7 题已在第 7 行出现过" in joined
    assert "61 超出范围" in joined and "“八”不是整数" in joined and "4" in problems[-1]
    for problem in problems:
        assert_chinese(problem)
    assert read_item_texts(b"\xff\xff\x81", 60)[1]  # bytes no encoding reads: a problem, never an exception
    assert read_item_texts(b"1," + b"x" * 1_000_001, 60)[1] == ["文件超过 1 MB。"]


def test_import_scale_items_command(tmp_path, caplog):
    data_dir = tmp_path / "data"
    good = tmp_path / "items.csv"
    good.write_text(items_csv(60), encoding="utf-8")
    env = {"XINDANG_DATA_DIR": str(data_dir), "XINDANG_SECRET_KEY": "x", "XINDANG_LOCALE": "zh_Hans_CN"}
    runner = CliRunner()
    texts_file = data_dir / "forms" / "scale_mssmhs" / "item_texts.json"

    bad = tmp_path / "bad.csv"
    bad.write_text(items_csv(60, skip=12), encoding="utf-8")
    result = runner.invoke(cli, ["import-scale-items", "scale_mssmhs", str(bad)], env=env)
    assert result.exit_code == 1 and "12" in result.output and not texts_file.exists()
    result = runner.invoke(cli, ["import-scale-items", "registration", str(good)], env=env)
    assert result.exit_code == 1 and not (data_dir / "forms" / "registration").exists()
    result = runner.invoke(cli, ["import-scale-items", "no_such_form", str(good)], env=env)
    assert result.exit_code == 1

    result = runner.invoke(cli, ["import-scale-items", "scale_mssmhs", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in texts_file.parent.iterdir()) == ["item_texts.json"]
    shipped = json.loads((FORM_DEFS_DIR / "scale_mssmhs" / "schema.json").read_text())
    assert shipped["properties"]["answers"]["properties"]["q1"].get("description") is None

    settings = Settings.from_env(env)
    registry = Registry.load(settings.form_dirs, settings.school_forms_dir)
    imported = registry.get("scale_mssmhs")
    assert scale_items(imported)[2].description.startswith("虚构示例题目3")
    assert imported.fields["answers.q3"].title == "第 3 题" and scores_survive(imported)
    assert not scale_items(registry.get("scale_mhrsp"))[0].description
    assert not scale_items(Registry.load(settings.form_dirs).get("scale_mssmhs"))[2].description

    from renderers.forms import ENTRY, PRINT, render_layout
    assert "虚构示例题目60" in render_layout(imported, ENTRY) and "虚构示例题目60" in render_layout(imported, PRINT, blank=True)

    # importing again (a corrected file) replaces the texts
    good.write_text(items_csv(60).replace("虚构示例", "更正后"), encoding="utf-8")
    result = runner.invoke(cli, ["import-scale-items", "scale_mssmhs", str(good)], env=env)
    assert result.exit_code == 0, result.output
    again = Registry.load(settings.form_dirs, settings.school_forms_dir).get("scale_mssmhs")
    assert scale_items(again)[0].description.startswith("更正后")

    # a stored file that no longer fits (edited by hand, or a scale with other numbering) is left unused, loudly
    stored = json.loads(texts_file.read_text(encoding="utf-8"))
    del stored["texts"]["60"]
    texts_file.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    caplog.clear()
    unused = Registry.load(settings.form_dirs, settings.school_forms_dir).get("scale_mssmhs")
    assert not scale_items(unused)[0].description and "60" in caplog.text
    texts_file.write_text("{not json", encoding="utf-8")
    assert not scale_items(Registry.load(settings.form_dirs, settings.school_forms_dir).get("scale_mssmhs"))[0].description


def scores_survive(d) -> bool:
    data = copy.deepcopy(example("scale_mssmhs"))
    return validate(d, data) == [] and data["scores"]["depression"] == 2.5
