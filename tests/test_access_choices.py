"""Least access decided for issue 13 item 11: a 班主任 learns that a student needs care, not the clinical history.
Registration: 既往就诊 and 家族精神疾病史 are the 心理教师's and the 校医's. Referral: a 班主任 may create an in-school
referral (and states its reason, which they do not read back), but reads neither the approval opinion nor the tracking note."""

from __future__ import annotations

import re

from _formdata import definition, example, form_fields
from server.access import Actor, hidden_fields, hidden_on_create
from server.models import Record
from test_access import api_token, login, scoped  # noqa: F401  (the fixture)

IN_SCHOOL = "校内（班主任→心理教师）"
CLINICAL = ("health.prior_help", "health.prior_help_note", "health.family_history")
HOMEROOM = Actor(1, 1, frozenset({"homeroom_teacher"}), frozenset({1}))


def test_the_registrations_clinical_history_is_not_the_homeroom_teachers():
    d = definition("registration")
    assert set(CLINICAL) <= hidden_fields(HOMEROOM, d)
    assert "health.major_illness" not in hidden_fields(HOMEROOM, d) and "health.allergies" not in hidden_fields(HOMEROOM, d)
    for role in ("psych_teacher", "school_doctor"):
        assert not set(CLINICAL) & hidden_fields(Actor(2, 1, frozenset({role}), frozenset()), d)
    referral = definition("referral")
    assert {"approval_opinion", "followup_note"} <= hidden_fields(HOMEROOM, referral)
    assert {"reason", "measures_taken"} <= hidden_fields(HOMEROOM, referral) - hidden_on_create(HOMEROOM, referral)


def test_a_homeroom_teacher_reads_a_registration_without_the_clinical_history(scoped):
    world, client = scoped, scoped.client
    record = world.ids["records"]["mine"]
    login(world, "homeroom_teacher")
    view = client.get(f"/records/{record}").text
    assert "仅限授权角色查看" in view and example("registration")["health"]["prior_help_note"] not in view
    token = api_token(world, "homeroom_teacher")
    health = client.get(f"/api/records/{record}", headers={"Authorization": f"Bearer {token}"}).json()["data"].get("health", {})
    assert not set(health) & {"prior_help", "prior_help_note", "family_history"} and "allergies" in health


def test_a_homeroom_teacher_creates_an_in_school_referral_only(scoped):
    world, client = scoped, scoped.client
    login(world, "homeroom_teacher")
    page = client.get("/forms/referral/new").text
    assert 'name="reason"' in page and 'name="approval_opinion"' not in page and 'name="followup_note"' not in page
    assert "您本人之后也看不到）：转介原因、学校已采取的措施" in page  # said before typing
    data = {"referral_type": IN_SCHOOL, "referred_on": "2026-10-09", "referrer": "赵老师", "reason": "近两周上课常趴着，午饭吃得很少",
            "risk_level": 1, "urgency": "常规"}
    fields = form_fields(definition("referral"), data) | {"_student": [str(world.ids["mine"])], "_csrf_token": [world.csrf()]}
    outside = dict(fields, referral_type=["校外医疗（精神科/心理科）"])
    refused = client.post("/forms/referral", data=outside)
    assert refused.status_code == 422 and "班主任只能建立校内转介" in refused.text
    made = client.post("/forms/referral", data=fields, follow_redirects=False)
    assert made.status_code == 303, made.text[:3000]
    record_id = int(re.search(r"/records/(\d+)", made.headers["location"]).group(1))
    stored = world.run(lambda: Record.get(id=record_id))
    assert stored.data["reason"] == data["reason"]  # written by the 班主任, read by the 心理教师
    assert data["reason"] not in client.get(f"/records/{record_id}").text
    token = api_token(world, "homeroom_teacher")
    api = client.post("/api/forms/referral/records", headers={"Authorization": f"Bearer {token}"},
                      json={"students": [world.ids["mine"]], "data": {**data, "referral_type": "校外专业机构"}})
    assert api.status_code == 422 and "班主任只能建立校内转介" in api.text
    login(world, "psych_teacher")
    assert data["reason"] in client.get(f"/records/{record_id}").text
    assert "您本人之后也看不到" not in client.get("/forms/referral/new").text


def test_a_homeroom_teacher_does_not_read_the_approval_or_the_tracking_note(scoped):
    world, client = scoped, scoped.client
    referral = world.ids["records"]["referral"]
    opinion, note = example("referral").get("approval_opinion"), example("referral").get("followup_note")
    login(world, "homeroom_teacher")
    view = client.get(f"/records/{referral}").text
    for secret in filter(None, (opinion, note)):
        assert secret not in view
    login(world, "psych_teacher")
    view = client.get(f"/records/{referral}").text
    assert all(secret in view for secret in filter(None, (opinion, note)))


def test_a_part_shown_only_for_a_hidden_answer_does_not_give_it_away(scoped):
    """The registration's 说明 row appears only when 既往就诊 = 有: for a 班主任, who may not read that answer, the
    row stays away on the view, the edit page and the PDF whatever the answer is."""
    world, client = scoped, scoped.client
    record = world.ids["records"]["mine"]  # the example: 既往就诊 = 有
    assert example("registration")["health"]["prior_help"] == "有"
    login(world, "psych_teacher")
    assert ">说明<" in client.get(f"/records/{record}").text
    login(world, "homeroom_teacher")
    for url in (f"/records/{record}", f"/records/{record}/edit"):
        page = client.get(url).text
        assert "既往心理咨询或精神科就诊" in page and ">说明<" not in page, url
