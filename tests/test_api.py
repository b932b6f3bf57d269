"""The JSON API: forms, records with optimistic locking, bearer tokens, bad bodies."""

from __future__ import annotations

import json

import pytest

from _formdata import FORMS, about_students, assert_chinese, definition, example, make_leaver, stored, takes_leavers
from server.models import Record


async def make_token() -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username="admin"))


async def count_records() -> int:
    return await Record.all().count()


async def record_state(record_id: int) -> tuple[int, dict]:
    record = await Record.get(id=record_id)
    return record.version, record.data


@pytest.fixture
def api(world):
    token = world.run(make_token)
    world.client.headers["Authorization"] = f"Bearer {token}"
    yield world
    world.client.headers.pop("Authorization", None)


def test_forms(api):
    response = api.client.get("/api/forms")
    assert response.status_code == 200
    forms = {f["id"]: f for f in response.json()}
    assert set(FORMS) <= set(forms)
    assert forms["registration"]["title"] == definition("registration").title
    one = api.client.get("/api/forms/attention_ledger").json()
    assert one["id"] == "attention_ledger" and one["version"] == 1
    assert one["schema"] == definition("attention_ledger").schema and one["layout"]["blocks"]
    response = api.client.get("/api/forms/no_such_form")
    assert response.status_code == 404
    assert_chinese(response.json()["errors"][0]["message"])


@pytest.mark.parametrize("form_id", FORMS)
def test_create_read_update_conflict(api, form_id):
    client = api.client
    students = [api.student_ids[0]] if about_students(form_id) else []
    if takes_leavers(form_id):
        api.run(make_leaver, api.student_ids[0])
    data = example(form_id)
    response = client.post(f"/api/forms/{form_id}/records", json={"students": students, "data": data})
    assert response.status_code == 201, response.text
    body = response.json()
    assert {"id", "form_id", "form_version", "version", "students", "status", "data"} <= set(body)
    assert body["form_id"] == form_id and body["form_version"] == 1 and body["version"] == 1
    assert body["students"] == students and body["data"] == stored(form_id, data) and isinstance(body["status"], str)
    record_id = body["id"]

    got = client.get(f"/api/records/{record_id}").json()
    assert got["id"] == record_id and got["data"] == stored(form_id, data) and got["version"] == 1 and got["students"] == students

    listing = client.get(f"/api/forms/{form_id}/records").json()
    assert [r["id"] for r in listing["records"]] == [record_id] and listing["total"] == 1

    changed = {**data, "signed_on": data["signed_on"]} if "signed_on" in data else dict(data)
    key = next(k for k, v in data.items() if isinstance(v, str) and definition(form_id).fields.get(k)
               and definition(form_id).fields[k].kind == "date")
    changed[key] = "2026-01-02"
    response = client.put(f"/api/records/{record_id}", json={"version": 1, "data": changed})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2 and response.json()["data"][key] == "2026-01-02"

    response = client.put(f"/api/records/{record_id}", json={"version": 1, "data": data})
    assert response.status_code == 409
    body = response.json()
    assert body["errors"][0]["field"] == "/version"
    assert_chinese(body["errors"][0]["message"])
    assert api.run(record_state, record_id) == (2, stored(form_id, changed))

    response = client.put(f"/api/records/{record_id}", json={"data": data})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "/version"
    assert api.run(record_state, record_id) == (2, stored(form_id, changed))


def test_validation_errors_are_422_with_pointers(api):
    client = api.client
    data = example("registration")
    data["family"]["members"][1]["age"] = 300
    data["family"]["guardian_phone"] = "12345"
    del data["established_on"]
    response = client.post("/api/forms/registration/records", json={"students": [api.student_ids[0]], "data": data})
    assert response.status_code == 422
    errors = response.json()["errors"]
    fields = {e["field"]: e["message"] for e in errors}
    assert set(fields) == {"/family/members/1/age", "/family/guardian_phone", "/established_on"}
    for message in fields.values():
        assert_chinese(message)
    assert "年龄" in fields["/family/members/1/age"]  # the field's title names it
    assert api.run(count_records) == 0


def test_students_must_be_own_school_and_exactly_one(api):
    client, data = api.client, example("attention_ledger")
    for students in ([api.other_school_student_id], [], api.student_ids, [999999], ["x"]):
        response = client.post("/api/forms/attention_ledger/records", json={"students": students, "data": data})
        assert response.status_code == 422, students
        assert response.json()["errors"][0]["field"] == "/students"
    response = client.post("/api/forms/attention_ledger/records", json={"students": "1", "data": data})
    assert response.status_code == 422
    assert api.run(count_records) == 0


async def _foreign_record(student_id: int) -> int:
    from conftest import light_password_hash
    from server.models import School, Student, User
    from server.records import create_record

    student = await Student.get(id=student_id)
    school = await School.get(id=student.school_id)
    user = await User.create(school=school, username="other", display_name="外校", password_hash=light_password_hash("x"))
    return (await create_record(definition("attention_ledger"), school, user, example("attention_ledger"), [student])).id


def test_other_schools_record_is_404(api):
    record_id = api.run(_foreign_record, api.other_school_student_id)
    assert api.client.get(f"/api/records/{record_id}").status_code == 404
    response = api.client.put(f"/api/records/{record_id}", json={"version": 1, "data": example("attention_ledger")})
    assert response.status_code == 404
    assert api.client.get(f"/api/students/{api.other_school_student_id}/records").status_code == 404
    assert api.run(record_state, record_id)[0] == 1


@pytest.mark.parametrize("header", [None, "Bearer xd_not-a-token", "Basic YWRtaW46eA==", "Bearer ", "xd_abc"])
def test_missing_or_bad_token_is_401(world, header):
    headers = {"Authorization": header} if header is not None else {}
    for method, url in [("GET", "/api/forms"), ("GET", "/api/records/1"), ("POST", "/api/forms/attention_ledger/records")]:
        response = world.client.request(method, url, headers=headers,
                                        json={"students": world.student_ids[:1], "data": example("attention_ledger")})
        assert response.status_code == 401, (method, url)
        assert_chinese(response.json()["errors"][0]["message"])
    assert world.run(count_records) == 0


def test_session_cookie_does_not_open_the_api(logged_in):
    assert logged_in.client.get("/api/forms").status_code == 401


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"', "{\"data\": \"\u00e9\"".encode()])
def test_malformed_body_is_400(api, raw):
    response = api.client.post("/api/forms/attention_ledger/records", content=raw,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert_chinese(response.json()["errors"][0]["message"])


def test_data_not_an_object_is_422(api):
    response = api.client.post("/api/forms/attention_ledger/records", json={"students": api.student_ids[:1], "data": [1]})
    assert response.status_code == 422


@pytest.mark.parametrize("size", [1_200_000, 3_000_000])
def test_huge_body_is_rejected_not_500(api, size):
    payload = json.dumps({"students": api.student_ids[:1], "data": {"notes": "x" * size}})
    response = api.client.post("/api/forms/attention_ledger/records", content=payload,
                               headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500 and response.status_code == 413, response.status_code
    response = api.client.put("/api/records/1", content=payload, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert api.run(count_records) == 0


def test_long_answer_is_422_not_500(api):
    data = example("attention_ledger")
    data["notes"] = "长" * 30_000
    response = api.client.post("/api/forms/attention_ledger/records", json={"students": api.student_ids[:1], "data": data})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "/notes"


def test_students_endpoint(api):
    students = api.client.get("/api/students").json()
    assert [s["id"] for s in students] == api.student_ids
    assert students[0]["name"] == "林小雨"
    response = api.client.post("/api/forms/attention_ledger/records",
                               json={"students": api.student_ids[:1], "data": example("attention_ledger")})
    record_id = response.json()["id"]
    records = api.client.get(f"/api/students/{api.student_ids[0]}/records").json()
    assert [r["id"] for r in records] == [record_id]


def test_an_expired_token_stops_working(api):
    from server.models import ApiToken

    assert api.client.get("/api/forms").status_code == 200

    async def expire() -> None:
        import datetime as dt

        await ApiToken.all().update(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    api.run(expire)
    refused = api.client.get("/api/forms")
    assert refused.status_code == 401
    assert_chinese(refused.json()["errors"][0]["message"])
