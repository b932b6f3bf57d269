"""Answers as a school expects them checked (issue 13 item 10, issue 14 items 10, 11, 15, 16): messages from the
definition, rows named, no future dates, once-only forms, contradictions, line breaks, invisible characters."""

from __future__ import annotations

import html
import re

from litestar.datastructures import FormMultiDict

from _formdata import definition, example, form_fields
from server.models import Record, RecordRevision
from server.validation import CONTROL_CHARS, field_title, parse_form, validate


def reg(**changes) -> dict:
    data = {"established_on": "2024-09-01",
            "family": {"structure": "双亲", "guardian": "王丽（母亲）", "guardian_phone": "13800000001"}}
    for key, value in changes.items():
        node = data
        *parents, last = key.split("__")
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value
    return data


def messages(form_id: str, data: dict) -> dict[str, str]:
    return {error.name: error.message for error in validate(definition(form_id), data)}


def page_post(world, form_id: str, data: dict, **extra) -> dict:
    fields = form_fields(definition(form_id), data)
    fields["_student"] = [str(world.student_ids[0])]
    fields["_csrf_token"] = [world.csrf()]
    for key, value in extra.items():
        fields[key] = value if isinstance(value, list) else [value]
    return fields


def token(world) -> str:
    from server.auth import create_token
    from server.models import User

    async def make() -> str:
        return await create_token(await User.get(username="admin"))
    return world.run(make)


# --- issue 13 item 10 -------------------------------------------------------------------

def test_a_phone_error_shows_the_expected_format():
    found = messages("registration", reg(family__guardian_phone="12345"))
    assert found == {"family.guardian_phone": "请填写 11 位手机号或带区号的座机号，例如 13800000000 或 010-12345678。"}


def test_an_error_in_a_table_row_names_the_row(logged_in):
    d = definition("registration")
    assert field_title(d, ("attention_summary", 1, "event_date")) == "关注与服务摘要 · 第 2 行 · 日期"
    assert field_title(definition("individual_counseling"), ("sessions", 0, "date")).endswith("第 1 项 · 日期")
    data = reg(attention_summary=[{"event_date": "2024-10-01", "kind": "辅导"}, {"event_date": "2024-13-01", "kind": "辅导"}])
    response = logged_in.client.post("/forms/registration", data=page_post(logged_in, "registration", data))
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group(0)
    assert 'href="#err-attention_summary-1-event_date"' in summary and "关注与服务摘要 · 第 2 行 · 日期" in html.unescape(summary)


def test_a_date_that_cannot_be_in_the_future_is_refused_everywhere(logged_in):
    from server.i18n import local_today

    today = local_today()
    assert messages("registration", reg(established_on=today.isoformat())) == {}
    found = messages("registration", reg(established_on="2031-03-01"))
    assert found == {"established_on": f"此日期不能晚于今天（{today.isoformat()}）。"}
    rows = reg(attention_summary=[{"event_date": "2031-03-01", "kind": "辅导"}])
    assert "attention_summary.0.event_date" in messages("registration", rows)
    # a date meant for the future (a plan) stays free
    assert messages("referral", {**example("referral"), "planned_visit_by": "2031-03-01"}) == {}
    client = logged_in.client
    page = client.get("/forms/registration/new").text
    assert re.search(rf'<input type="date" [^>]*id="f-established_on"[^>]* max="{today.isoformat()}"', page)
    assert re.search(r'<input type="date" [^>]*id="f-parent_signed_on"[^>]* max="', page)
    refused = client.post("/api/forms/registration/records", headers={"Authorization": f"Bearer {token(logged_in)}"},
                          json={"students": [logged_in.student_ids[0]], "data": reg(established_on="2031-03-01")})
    assert refused.status_code == 422 and "不能晚于今天" in refused.text


def test_a_second_registration_warns_links_the_first_and_needs_a_deliberate_choice(logged_in):
    world, client = logged_in, logged_in.client
    first = client.post("/forms/registration", data=page_post(world, "registration", reg()), follow_redirects=False)
    assert first.status_code == 303
    first_id = int(re.search(r"/records/(\d+)", first.headers["location"]).group(1))
    page = client.get("/forms/registration/new", params={"student": world.student_ids[0]}).text
    assert "该生已有" in page and f'href="/records/{first_id}"' in page and 'name="_confirm_duplicate"' in page
    second = client.post("/forms/registration", data=page_post(world, "registration", reg()))
    assert second.status_code == 422 and 'href="#err-_confirm_duplicate"' in second.text and 'id="err-_confirm_duplicate"' in second.text
    assert world.run(lambda: Record.filter(form_id="registration").count()) == 1
    # another student is not warned about
    other = client.get("/forms/registration/new", params={"student": world.student_ids[1]}).text
    assert "_confirm_duplicate" not in other
    deliberate = client.post("/forms/registration", data=page_post(world, "registration", reg(), _confirm_duplicate="yes"),
                             follow_redirects=False)
    assert deliberate.status_code == 303
    headers = {"Authorization": f"Bearer {token(world)}"}
    body = {"students": [world.student_ids[0]], "data": reg()}
    api = client.post("/api/forms/registration/records", headers=headers, json=body)
    assert api.status_code == 422 and "confirm_duplicate" in api.text
    assert client.post("/api/forms/registration/records", headers=headers, json={**body, "confirm_duplicate": True}).status_code == 201


def test_shipped_definitions_refuse_answers_that_contradict_each_other():
    base = example("crisis_assessment", "sparse")
    found = messages("crisis_assessment", {**base, "plan": "无", "plan_note": "打算周末去河边"})
    assert found == {"plan_note": "“计划”选了“无”，就不应填写“计划说明”：请改选计划，或清空计划说明。"}
    found = messages("crisis_assessment", {**base, "prior_attempts": "无", "prior_count": 3})
    assert list(found) == ["prior_count"] and "“既往自伤/自杀行为”选了“无”" in found["prior_count"] and "次数" in found["prior_count"]
    assert messages("crisis_assessment", {**base, "plan": "模糊", "plan_note": "说过想消失"}) == {}
    found = messages("registration", reg(family__special_circumstances=["无", "留守儿童"]))
    assert found == {"family.special_circumstances": "“特殊情况”选了“无”，就不能再选其他情况：请取消“无”或取消其他情况。"}
    assert "decline_reason" in messages("referral", {**example("referral"), "parent_opinion": "同意转介", "decline_reason": "担心影响升学"})


# --- issue 14 items 10, 11, 15, 16 -------------------------------------------------------

def test_line_breaks_are_normalised_and_refused_in_single_line_fields(logged_in):
    world, client = logged_in, logged_in.client
    headers = {"Authorization": f"Bearer {token(world)}"}
    created = client.post("/api/forms/registration/records", headers=headers,
                          json={"students": [world.student_ids[0]], "data": reg(learning={"personality": "a\r\nb\nc\rd"})})
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    assert created.json()["data"]["learning"]["personality"] == "a\nb\nc\nd"
    refused = client.post("/api/forms/registration/records", headers=headers,
                          json={"students": [world.student_ids[1]], "data": reg(family__guardian="王丽\r\n（母亲）")})
    assert refused.status_code == 422 and "只能填写一行" in refused.text
    assert refused.json()["errors"][0]["field"] == "/family/guardian"
    # the page saved without a change: no revision, no new version
    edit = client.get(f"/records/{record_id}/edit").text
    typed = html.unescape(re.search(r'<textarea [^>]*id="f-learning-personality"[^>]*>(.*?)</textarea>', edit, re.S).group(1))
    fields = form_fields(definition("registration"), created.json()["data"])
    fields["learning.personality"] = [typed.replace("\n", "\r\n")]  # as a browser posts a textarea
    fields.update(_csrf_token=[world.csrf()], _version=["1"])
    saved = client.post(f"/records/{record_id}", data=fields, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:3000]

    async def state():
        return (await Record.get(id=record_id)).version, await RecordRevision.filter(record_id=record_id).count()
    assert world.run(state) == (1, 1)


def test_one_rule_for_invisible_characters_and_emoji_pass():
    for text in ("王\u200b五", "王\u202e五", "a\u200db", "\u200d👍", "\ufeff王五"):
        assert CONTROL_CHARS.search(text), repr(text)
    for text in ("👨\u200d👩\u200d👧\u200d👦", "❤️\u200d🔥", "🧑🏽\u200d💻", "🏳️\u200d🌈", "✌️", "王五 😀", "第一行\n\t第二行"):
        assert not CONTROL_CHARS.search(text), repr(text)
    found = messages("registration", reg(learning={"personality": "喜欢画画\u200b"}))
    assert list(found) == ["learning.personality"] and "控制字符" in found["learning.personality"]
    assert messages("registration", reg(learning={"personality": "喜欢画画 👨\u200d👩\u200d👧\u200d👦"})) == {}


def test_roster_takes_emoji_with_joiners_and_refuses_zero_width(logged_in):
    from test_roster import HEADER, upload, xlsx

    row = ["G4401012013050211", "陈思远👨\u200d👩\u200d👧", "男", "2013-05-02", "七年级", "1班", "", "", ""]
    preview = upload(logged_in, xlsx([row], HEADER))
    assert preview.status_code == 200 and "控制字符" not in preview.text, preview.text[:2000]
    row[1] = "陈思\u200b远"
    preview = upload(logged_in, xlsx([row], HEADER))
    assert preview.status_code == 422 and "控制字符" in preview.text


def test_an_invalid_option_of_a_check_box_group_is_told_at_the_group(logged_in):
    world, client = logged_in, logged_in.client
    fields = page_post(world, "registration", reg())
    fields["family.special_circumstances"] = ["打游戏"]
    response = client.post("/forms/registration", data=fields)
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group(0)
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors == ["err-family-special_circumstances"]
    assert all(f'id="{anchor}"' in response.text for anchor in anchors)
    group = response.text.index('id="f-family-special_circumstances-0"')
    assert response.text.index('id="err-family-special_circumstances"') > group


def test_a_row_number_beyond_the_table_refuses_the_post(logged_in):
    world, client = logged_in, logged_in.client
    d = definition("registration")
    for index in ("999999", "50", "12"):  # 关注与服务摘要 holds 50 rows; 家庭成员 12
        table = "attention_summary" if index != "12" else "family.members"
        sub = {"attention_summary": ("event_date", "2024-10-01"), "family.members": ("relation", "母亲")}[table]
        fields = page_post(world, "registration", reg())
        fields[f"{table}.{index}.{sub[0]}"] = [sub[1]]
        response = client.post("/forms/registration", data=fields)
        assert response.status_code == 422, index
        text = html.unescape(response.text)
        assert f"第 {index} 行" in text and "未保存" in text, index
    assert world.run(lambda: Record.filter(form_id="registration").count()) == 0
    parsed = parse_form(d, FormMultiDict([("attention_summary.3.event_date", "2024-10-01"), ("attention_summary.3.kind", "辅导")]))
    assert parsed["attention_summary"] == [{"event_date": "2024-10-01", "kind": "辅导"}]


def test_a_line_break_stored_earlier_in_a_single_line_field_is_shown_not_dropped(logged_in):
    """Records stored before the rule keep their line breaks on the page: a one-line input would lose them."""
    world, client = logged_in, logged_in.client

    async def legacy() -> int:
        from server.models import School, Student, User
        from server.records import create_record

        data = reg(family__guardian="王丽\n（母亲）")
        student = await Student.get(id=world.student_ids[0])
        return (await create_record(definition("registration"), await School.get(code="t1"), await User.get(username="admin"),
                                    data, [student])).id
    record_id = world.run(legacy)
    edit = client.get(f"/records/{record_id}/edit").text
    assert re.search(r'<textarea [^>]*id="f-family-guardian"[^>]*>王丽\n（母亲）</textarea>', edit), edit[edit.find("f-family-guardian") - 200:][:400]
    fields = page_post(world, "registration", reg(family__guardian="王丽\r\n（母亲）"), _version="1")
    refused = client.post(f"/records/{record_id}", data=fields)
    assert refused.status_code == 422 and "只能填写一行" in refused.text


def test_an_api_save_that_changes_nothing_keeps_the_version(logged_in):
    world, client = logged_in, logged_in.client
    headers = {"Authorization": f"Bearer {token(world)}"}
    created = client.post("/api/forms/registration/records", headers=headers, json={"students": [world.student_ids[0]], "data": reg()})
    record_id = created.json()["id"]
    same = client.put(f"/api/records/{record_id}", headers=headers, json={"version": 1, "data": reg()})
    assert same.status_code == 200 and same.json()["version"] == 1
    changed = client.put(f"/api/records/{record_id}", headers=headers, json={"version": 1, "data": reg(established_on="2024-09-02")})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert world.run(lambda: RecordRevision.filter(record_id=record_id).count()) == 2


def test_check_forms_checks_the_new_keywords():
    import copy as copying

    from server.checks import check_definition

    d = definition("registration")

    def problems(change) -> list[tuple[str, str]]:
        schema = copying.deepcopy(d.schema)
        change(schema)
        return [(p.pointer, p.message) for p in check_definition("registration", schema, d.layout)]

    assert problems(lambda s: None) == []
    found = problems(lambda s: s["properties"]["established_on"].update({"x-not-after": "tomorrow"}))
    assert found and found[0][0] == "/properties/established_on/x-not-after" and "today" in found[0][1]
    found = problems(lambda s: s["properties"]["parent_signer"].update({"x-not-after": "today"}))  # not a date
    assert [p for p, _m in found] == ["/properties/parent_signer/x-not-after"]
    found = problems(lambda s: s["properties"]["attention_summary"]["items"]["properties"]["summary"].update({"x-not-after": "today"}))
    assert [p for p, _m in found] == ["/properties/attention_summary/items/properties/summary/x-not-after"]
    assert [p for p, _m in problems(lambda s: s["$defs"]["phone"].update({"x-message": ""}))] == ["/$defs/phone/x-message"]
    assert [p for p, _m in problems(lambda s: s.update({"x-once-per-student": "yes"}))] == ["/x-once-per-student"]
    assert "/x-once-per-student" in [p for p, _m in problems(lambda s: s.update({"x-subject": "school"}))]  # about a student only
    found = problems(lambda s: s.update({"x-create-when": {"subject_teacher": {"required": ["basic"]}}}))
    assert [p for p, _m in found] == ["/x-create-when/subject_teacher"]
    found = problems(lambda s: s.update({"x-create-when": {"homeroom_teacher": {"required": "basic"}}}))
    assert [p for p, _m in found] == ["/x-create-when/homeroom_teacher/required"]
