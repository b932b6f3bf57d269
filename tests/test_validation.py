"""server.validation on the shipped definitions: posted strings → typed data → Chinese errors."""

from __future__ import annotations

import copy

import pytest
from litestar.datastructures import FormMultiDict

from _formdata import FORMS, assert_chinese, definition, example, form_fields
from server.definitions import Definition
from server.i18n import gettext as _
from server.validation import MAX_STRING_CHARS, FieldError, apply_row_action, parse_form, validate


def post(**fields) -> FormMultiDict:
    """Keyword names use __ for dots: family__members__0__age → family.members.0.age."""
    items = []
    for key, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            items.append((key.replace("__", "."), v))
    return FormMultiDict(items)


class TinyForm:
    """The smallest thing parse_form accepts: getall and keys."""

    def __init__(self, pairs):
        self.pairs = pairs

    def getall(self, key, default=None):
        found = [v for k, v in self.pairs if k == key]
        return found if found else (default if default is not None else [])

    def keys(self):
        return [k for k, _v in self.pairs]


def errors_by_path(errors: list[FieldError]) -> dict[tuple, str]:
    found = {}
    for error in errors:
        assert error.path not in found, f"two errors for {error.path}"
        found[error.path] = error.message
    return found


def base_registration() -> dict:
    return {"established_on": "2024-09-01",
            "family": {"structure": "双亲", "guardian": "王丽（母亲）", "guardian_phone": "13800000001"}}


REG = "registration"


@pytest.mark.parametrize("name", ["sparse", "full"])
@pytest.mark.parametrize("form_id", FORMS)
def test_examples_round_trip_through_the_form_and_save(form_id, name):
    """Each example, posted as the entry page posts it, parses back to itself and passes the save
    path (groups present, hidden answers dropped, scores computed), as does the example sent as JSON."""
    d = definition(form_id)
    data = parse_form(d, FormMultiDict([(k, v) for k, vs in form_fields(d, example(form_id, name)).items() for v in vs]))
    assert data == example(form_id, name)
    assert validate(d, data) == []
    assert validate(d, example(form_id, name)) == []


def test_string_to_integer_conversion():
    d = definition(REG)
    data = parse_form(d, post(family__members__0__relation="父亲", family__members__0__age=" 41 "))
    assert data["family"]["members"] == [{"relation": "父亲", "age": 41}]
    ledger = parse_form(definition("attention_ledger"), post(level="2"))
    assert ledger["level"] == 2 and isinstance(ledger["level"], int)


def test_bad_integer_is_kept_and_reported_as_type_error():
    d = definition(REG)
    data = {**base_registration()}
    parsed = parse_form(d, post(family__members__0__relation="父亲", family__members__0__age="四十"))
    data["family"].update(parsed["family"])
    assert data["family"]["members"][0]["age"] == "四十"
    errors = errors_by_path(validate(d, data))
    assert list(errors) == [("family", "members", 0, "age")]
    assert errors[("family", "members", 0, "age")] == _("Please enter a whole number.")
    assert_chinese(errors[("family", "members", 0, "age")])


def test_empty_fields_are_left_out():
    d = definition(REG)
    data = parse_form(d, post(basic__ethnicity="", basic__interests="   ", basic__boarding="", established_on="",
                              family__special_circumstances=[""], family__members__0__relation=""))
    assert data == {}
    assert parse_form(d, TinyForm([])) == {}


def test_checkboxes_become_a_list():
    d = definition(REG)
    data = parse_form(d, post(family__special_circumstances=["留守儿童", "丧亲"]))
    assert data == {"family": {"special_circumstances": ["留守儿童", "丧亲"]}}


def test_tiny_form_class_is_enough():
    d = definition(REG)
    data = parse_form(d, TinyForm([("family.special_circumstances", "无"), ("basic.only_child", "true")]))
    assert data == {"family": {"special_circumstances": ["无"]}, "basic": {"only_child": True}}


@pytest.mark.parametrize("text, value", [("true", True), ("false", False)])
def test_boolean_radio(text, value):
    d = definition(REG)
    data = parse_form(d, post(basic__only_child=text, basic__class_cadre=text))
    assert data["basic"]["only_child"] is value and data["basic"]["class_cadre"] is value
    counseling = parse_form(definition("individual_counseling"), post(confidentiality_informed=text))
    assert counseling["confidentiality_informed"] is value


def test_bad_boolean_is_reported():
    d = definition(REG)
    data = base_registration()
    data["basic"] = parse_form(d, post(basic__only_child="maybe"))["basic"]
    errors = errors_by_path(validate(d, data))
    assert ("basic", "only_child") in errors
    assert_chinese(errors[("basic", "only_child")])


def test_repeating_rows_parsing_and_empty_rows_dropped():
    d = definition("individual_counseling")
    form = post(sessions__0__topic="建立关系", sessions__0__date="2025-11-03", sessions__0__methods=["倾听共情", "沙盘"],
                sessions__1__topic="", sessions__1__self_rating="",
                sessions__3__topic="第四次", sessions__3__self_rating="5")
    data = parse_form(d, form)
    assert data["sessions"] == [
        {"date": "2025-11-03", "topic": "建立关系", "methods": ["倾听共情", "沙盘"]},
        {"topic": "第四次", "self_rating": 5},
    ]
    kept = parse_form(d, form, keep_empty_rows=True)
    assert len(kept["sessions"]) == 3 and kept["sessions"][1] == {}


def test_row_actions_add_and_remove():
    d = definition("individual_counseling")
    data = {"sessions": [{"topic": "a"}, {"topic": "b"}]}
    apply_row_action(d, data, "add:sessions")
    assert data["sessions"] == [{"topic": "a"}, {"topic": "b"}, {}]
    apply_row_action(d, data, "remove:sessions:0")
    assert data["sessions"] == [{"topic": "b"}, {}]
    apply_row_action(d, data, "remove:sessions:99")
    apply_row_action(d, data, "add:opened_on")  # not a rows field: ignored
    assert data == {"sessions": [{"topic": "b"}, {}]}


# --- one message per field -------------------------------------------------------------

def _reg(change) -> dict:
    data = base_registration()
    change(data)
    return data


CASES = [
    ("required", lambda d: d.pop("established_on"), ("established_on",), _("This field is required.")),
    ("required nested", lambda d: d["family"].pop("guardian"), ("family", "guardian"), _("This field is required.")),
    ("enum", lambda d: d.setdefault("basic", {}).update(boarding="飞行"), ("basic", "boarding"),
     _("Please choose one of the options.")),
    ("maxLength", lambda d: d.setdefault("basic", {}).update(ethnicity="汉" * 21), ("basic", "ethnicity"),
     _("Please enter at most %(limit)s characters (now %(count)s).", limit=20, count=21)),
    ("minimum", lambda d: d["family"].update(members=[{"relation": "父亲", "age": -1}]), ("family", "members", 0, "age"),
     _("The value must be at least %(limit)s.", limit=0)),
    ("maximum", lambda d: d["family"].update(members=[{"relation": "父亲", "age": 121}]), ("family", "members", 0, "age"),
     _("The value must be at most %(limit)s.", limit=120)),
    ("pattern", lambda d: d["family"].update(guardian_phone="12345"), ("family", "guardian_phone"),
     "请填写 11 位手机号或带区号的座机号，例如 13800000000 或 010-12345678。"),  # the definition's x-message
    ("date format", lambda d: d.update(established_on="2024-13-45"), ("established_on",),
     _("Please enter a valid date (YYYY-MM-DD).")),
    ("row required", lambda d: d["family"].update(members=[{"name": "张三"}]), ("family", "members", 0, "relation"),
     _("This field is required.")),
    ("maxItems", lambda d: d["family"].update(members=[{"relation": "x"}] * 13), ("family", "members"),
     _("Please choose or add at most %(limit)s.", limit=12)),
    ("uniqueItems", lambda d: d["family"].update(special_circumstances=["无", "无"]), ("family", "special_circumstances"),
     _("Each option may be chosen only once.")),
]


@pytest.mark.parametrize("name, change, path, message", CASES, ids=[c[0] for c in CASES])
def test_messages(name, change, path, message):
    d = definition(REG)
    assert validate(d, base_registration()) == []
    errors = errors_by_path(validate(d, _reg(change)))
    assert errors == {path: message}
    assert_chinese(message)


def test_minitems_message():
    real = definition("screening_consent")
    schema = copy.deepcopy(real.schema)
    schema["properties"]["grades"]["minItems"] = 2
    d = Definition(form_id=real.form_id, schema=schema, layout=real.layout)
    data = {"decision": "同意参加", "guardian_name": "王丽", "signed_on": "2025-09-12", "grades": ["七年级"]}
    errors = errors_by_path(validate(d, data))
    assert errors == {("grades",): _("Please choose or add at least %(limit)s.", limit=2)}
    assert_chinese(errors[("grades",)])
    data["grades"].append("八年级")
    assert validate(d, data) == []


def test_several_fields_one_message_each():
    d = definition(REG)
    data = {"family": {"structure": "火星", "guardian_phone": "x" * 21}, "established_on": "昨天"}
    errors = errors_by_path(validate(d, data))
    assert set(errors) == {("family", "structure"), ("family", "guardian"), ("family", "guardian_phone"), ("established_on",)}
    for message in errors.values():
        assert_chinese(message)


# --- `when` and if/then ------------------------------------------------------------------

def test_when_hidden_field_is_dropped_and_not_validated():
    d = definition(REG)
    data = base_registration()
    data["health"] = {"prior_help": "无", "prior_help_note": "说" * 1001}  # too long, but hidden
    assert validate(d, data) == []
    assert data["health"] == {"prior_help": "无"}
    data = base_registration()
    data["health"] = {"prior_help_note": "有过一次咨询"}  # no answer to 既往就诊: the note is hidden too
    assert validate(d, data) == []
    assert "prior_help_note" not in data["health"]


def test_when_shown_field_is_kept_and_validated():
    d = definition(REG)
    data = base_registration()
    data["health"] = {"prior_help": "有", "prior_help_note": "说" * 1001}
    errors = errors_by_path(validate(d, data))
    assert list(errors) == [("health", "prior_help_note")]
    data["health"]["prior_help_note"] = "2023年在门诊咨询三次"
    assert validate(d, data) == []
    assert data["health"]["prior_help_note"] == "2023年在门诊咨询三次"


def test_if_then_conditional_requirement():
    d = definition(REG)
    data = base_registration()
    data["health"] = {"prior_help": "有"}
    errors = errors_by_path(validate(d, data))
    assert errors == {("health", "prior_help_note"): _("This field is required.")}
    consent = definition("screening_consent")
    data = {"decision": "同意参加", "guardian_name": "王丽", "signed_on": "2025-09-12", "student_signer": "张小明"}
    assert errors_by_path(validate(consent, data)) == {("student_signed_on",): _("This field is required.")}
    ledger = definition("attention_ledger")
    data = {"included_on": "2025-10-28", "level": 1, "owner": "李华", "released_on": "2026-01-01"}
    assert list(errors_by_path(validate(ledger, data))) == [("approver",)]


def test_oversized_string_is_an_error_not_an_exception():
    d = definition(REG)
    data = base_registration()
    data["comments"] = {"head_teacher": "长" * (MAX_STRING_CHARS + 1)}
    errors = validate(d, data)
    assert [e.path for e in errors] == [("comments", "head_teacher")]
    assert errors[0].message == _("This answer is too long.")
    assert_chinese(errors[0].message)
    parsed = parse_form(d, post(basic__ethnicity="汉" * 100_000))
    assert [e.path for e in validate(d, {**base_registration(), **parsed})] == [("basic", "ethnicity")]


@pytest.mark.parametrize("bad", [None, [], "text", 5])
def test_non_object_data(bad):
    errors = validate(definition(REG), bad)
    assert len(errors) == 1 and errors[0].path == ()
    assert_chinese(errors[0].message)


def test_unknown_field_is_reported():
    d = definition(REG)
    data = {**base_registration(), "income": 5000}
    errors = errors_by_path(validate(d, data))
    assert errors == {("income",): _("This form has no field with this name.")}


def test_field_error_name_and_pointer():
    error = FieldError(("family", "members", 0, "a/b~c"), "x")
    assert error.name == "family.members.0.a/b~c"
    assert error.pointer == "/family/members/0/a~1b~0c"


def test_row_actions_on_a_nested_array():
    d = definition(REG)
    data = {"family": {"members": [{"relation": "父亲"}, {"relation": "母亲"}]}}
    apply_row_action(d, data, "add:family.members")
    assert data == {"family": {"members": [{"relation": "父亲"}, {"relation": "母亲"}, {}]}}
    apply_row_action(d, data, "remove:family.members:0")
    assert data == {"family": {"members": [{"relation": "母亲"}, {}]}}
    empty: dict = {}
    apply_row_action(d, empty, "add:health.life_events")
    assert empty == {"health": {"life_events": [{}]}}


def test_field_title_for_api_messages():
    from server.validation import field_title

    d = definition(REG)
    assert field_title(d, ("established_on",)) == "建档日期"
    assert field_title(d, ("family", "guardian")) == "主要监护人及关系"
    assert field_title(d, ("family", "members", 1, "age")) == "家庭成员 · 第 2 行 · 年龄"  # the row is named (issue 13 item 10)
    assert field_title(d, ("annual_screenings", 0, "school_year")) == "年度测评摘要 · 第 1 行 · 学年"
    assert field_title(d, ("family", "members")) == "家庭成员"
    assert field_title(d, ("income",)) == "income"
    assert field_title(d, ()) == ""


def test_an_unanswered_group_reports_its_own_fields_not_the_group():
    d = definition("registration")
    required_in_family = set(d.schema["properties"]["family"]["required"])
    found = errors_by_path(validate(d, parse_form(d, post())))
    assert ("family",) not in found
    assert {("family", name) for name in required_in_family} <= set(found)
    for name in required_in_family:
        assert_chinese(found[("family", name)])

