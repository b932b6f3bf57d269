"""草稿: a half-filled record saved without its required answers (every other check still applies), listed as
草稿 in the form's list and the student's file, finished later; the same rule through the JSON API."""

from __future__ import annotations

import re

import pytest

from server.models import Record

FORM = "/forms/individual_counseling"


async def record_status(record_id: int) -> tuple[str, int, dict]:
    record = await Record.get(id=record_id)
    return record.status, record.version, record.data


def half_filled(world, **extra: str) -> dict:
    return {"_csrf_token": world.csrf(), "_student": str(world.student_ids[0]), "complaint": "上课走神，不愿意说话。",
            "_action": "draft", **extra}


def saved_id(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.search(r"/records/(\d+)", response.headers["location"]).group(1))


def test_a_draft_is_saved_without_its_required_answers_and_finished_later(logged_in):
    world, client = logged_in, logged_in.client
    entry = client.get(f"{FORM}/new").text
    assert 'value="draft"' in entry and "保存草稿" in entry
    refused = client.post(FORM, data=half_filled(world, _action="save"))
    assert refused.status_code == 422  # saved as final, everything required is asked for
    record_id = saved_id(client.post(FORM, data=half_filled(world), follow_redirects=False))
    status, version, data = world.run(record_status, record_id)
    assert status == "draft" and data["complaint"] == "上课走神，不愿意说话。" and "opened_on" not in data

    view = client.get(f"/records/{record_id}?saved=1").text
    assert "已保存为草稿" in view and 'class="status-draft"' in view
    listed = client.get(FORM).text
    assert re.search(r'<span class="status-draft">草稿</span>', listed)
    student_file = client.get(f"/students/{world.student_ids[0]}").text
    row = re.search(r'<tr class="state-draft">.*?</tr>', student_file, re.S)
    assert row and "个别心理辅导" in row.group(0) and "草稿" in row.group(0)

    edit = client.get(f"/records/{record_id}/edit").text
    assert "完成并保存" in edit and 'value="draft"' in edit
    still_missing = client.post(f"/records/{record_id}", data=half_filled(world, _action="save", _version="1"))
    assert still_missing.status_code == 422 and "必填" in still_missing.text
    assert world.run(record_status, record_id)[0] == "draft"
    more = half_filled(world, _version="1", opened_on="2026-03-02")
    saved_id(client.post(f"/records/{record_id}", data=more, follow_redirects=False))  # still a draft, a step further
    assert world.run(record_status, record_id)[:2] == ("draft", 2)
    finished = half_filled(world, _action="save", _version="2", opened_on="2026-03-02", risk_screen="无自伤他伤迹象",
                           confidentiality_informed="true")
    saved_id(client.post(f"/records/{record_id}", data=finished, follow_redirects=False))
    assert world.run(record_status, record_id)[:2] == ("done", 3)
    assert 'class="status-draft"' not in client.get(FORM).text
    assert 'value="draft"' not in client.get(f"/records/{record_id}/edit").text  # a finished record has no draft button
    back = client.post(f"/records/{record_id}", data={**finished, "_action": "draft", "_version": "3"})
    assert back.status_code == 422 and "不能再改回草稿" in back.text
    assert world.run(record_status, record_id)[:2] == ("done", 3)


@pytest.mark.parametrize("bad", [{"complaint": "长" * 2001}, {"opened_on": "2026-13-45"}, {"source": "随便写的来源"}])
def test_a_draft_still_refuses_wrong_answers(logged_in, bad):
    world, client = logged_in, logged_in.client
    response = client.post(FORM, data=half_filled(world, **bad))
    assert response.status_code == 422
    assert world.run(lambda: Record.all().count()) == 0


def test_a_draft_still_needs_its_student(logged_in):
    world, client = logged_in, logged_in.client
    response = client.post(FORM, data={**half_filled(world), "_student": ""})
    assert response.status_code == 422 and "请选择" in response.text


@pytest.fixture
def api(world):
    from test_api import make_token

    world.client.headers["Authorization"] = f"Bearer {world.run(make_token)}"
    yield world
    world.client.headers.pop("Authorization", None)


def test_the_api_saves_and_finishes_drafts_with_the_same_rule(api):
    client, student = api.client, api.student_ids[0]
    part = {"complaint": "上课走神。"}
    assert client.post("/api/forms/individual_counseling/records", json={"students": [student], "data": part}).status_code == 422
    odd = client.post("/api/forms/individual_counseling/records", json={"students": [student], "data": part, "status": "half"})
    assert odd.status_code == 422 and odd.json()["errors"][0]["field"] == "/status"
    wrong = client.post("/api/forms/individual_counseling/records",
                        json={"students": [student], "data": {"complaint": "长" * 2001}, "status": "draft"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "/complaint"
    created = client.post("/api/forms/individual_counseling/records", json={"students": [student], "data": part, "status": "draft"})
    assert created.status_code == 201 and created.json()["status"] == "draft"
    record_id = created.json()["id"]
    kept = client.put(f"/api/records/{record_id}", json={"version": 1, "data": {**part, "opened_on": "2026-03-02"}})
    assert kept.status_code == 200 and kept.json()["status"] == "draft"  # no status given: it stays a draft
    unfinished = client.put(f"/api/records/{record_id}", json={"version": 2, "data": part, "status": "done"})
    assert unfinished.status_code == 422 and {e["field"] for e in unfinished.json()["errors"]} >= {"/opened_on", "/risk_screen"}
    whole = {**part, "opened_on": "2026-03-02", "risk_screen": "无自伤他伤迹象", "confidentiality_informed": True}
    done = client.put(f"/api/records/{record_id}", json={"version": 2, "data": whole, "status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    back = client.put(f"/api/records/{record_id}", json={"version": 3, "data": part, "status": "draft"})
    assert back.status_code == 422 and back.json()["errors"][0]["field"] == "/status"
    plain = client.post("/api/forms/individual_counseling/records", json={"students": [student], "data": whole})
    assert plain.status_code == 201 and plain.json()["status"] == "done"  # the API's shapes are as before


def test_a_complete_draft_is_finished_without_another_change(api):
    """A draft whose answers are all there is finished by asking for it: the save changes no answer, but it
    changes the status (it must not be taken for a save that changes nothing)."""
    client, student = api.client, api.student_ids[0]
    whole = {"complaint": "上课走神。", "opened_on": "2026-03-02", "risk_screen": "无自伤他伤迹象", "confidentiality_informed": True}
    created = client.post("/api/forms/individual_counseling/records", json={"students": [student], "data": whole, "status": "draft"})
    assert created.status_code == 201 and created.json()["status"] == "draft"
    done = client.put(f"/api/records/{created.json()['id']}", json={"version": 1, "data": whole, "status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["version"] == 2
