"""Leaving school (handbook 7.2): apply → review → approve by three different people; sealing makes every
write refuse and every read need a recorded reason; destruction leaves no trace of the content in the
database file and keeps a tombstone; a transfer needs the guardian's consent and hands over a package."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from _formdata import CJK, example, shipped_registry
from conftest import PASSWORD, light_password_hash

MARKER = "档案销毁验证标记Q7X"
DECIDED_LATER = ("review_opinion", "review_note", "reviewer", "reviewed_on", "approval_opinion", "approval_note", "approver",
                 "approved_on", "executed_on", "execution_note", "executor", "executor_signed_on", "witness", "witness_signed_on")


def application(name: str) -> dict:
    return {k: v for k, v in example("archive_disposal", name).items() if k not in DECIDED_LATER}


async def seed(decision: str, name: str = "full") -> dict:
    """Three deciders, a registration of 林小雨 and a family interview carrying a marker (edited once: two
    revisions), and a 7.2
    application about her by the 心理教师."""
    from server.models import School, Student, User
    from server.records import create_record, update_record

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    users = {}
    for username, role in (("xinli", "psych_teacher"), ("deyu", "moral_education"), ("xiaozhang", "leader")):
        users[username] = await User.create(school=school, username=username, display_name=username, roles=[role],
                                            password_hash=light_password_hash(PASSWORD))
    registry = shipped_registry()
    student = await Student.get(student_number="T0001")
    student.left_on, student.left_reason = dt.date(2026, 7, 3), "毕业"  # a decision is about a leaver
    await student.save()
    await create_record(registry.get("registration"), school, admin, example("registration"), [student])
    record = await create_record(registry.get("family_interview"), school, admin, example("family_interview"), [student])
    record = await update_record(record, 1, {**record.data, "purpose": MARKER}, admin)  # in the record and in its revisions
    decision_record = await create_record(registry.get("archive_disposal"), school, users["xinli"],
                                          {**application(name), "decision": decision}, [student])
    return {"student": student.id, "record": record.id, "decision": decision_record.id, "other": (await Student.get(student_number="T0002")).id}


async def assert_hand_edit_refused(record, change: dict) -> None:
    """A save by hand that changes these fields of a decision request is refused."""
    from server.disposal import DisposalRefused, keep_decided

    with pytest.raises(DisposalRefused):
        await keep_decided(shipped_registry().get("archive_disposal"), record.data, {**record.data, **change}, record.id)


def as_user(world, username: str) -> None:
    world.client.cookies.clear()
    world.login(username)


def step(world, record_id: int, name: str, opinion: str = ""):
    return world.client.post(f"/records/{record_id}/disposal", data={"_csrf_token": world.csrf(), "step": name, "opinion": opinion},
                             follow_redirects=False)


def decide(world, ids: dict) -> None:
    as_user(world, "xinli")
    assert step(world, ids["decision"], "apply").status_code == 303
    as_user(world, "deyu")
    assert step(world, ids["decision"], "review", "同意").status_code == 303
    as_user(world, "xiaozhang")
    assert step(world, ids["decision"], "approve", "批准").status_code == 303


def audit_rows(world) -> list[tuple[str, str, str, str]]:
    async def rows():
        from server.models import AuditEntry

        return await AuditEntry.all().order_by("id").values_list("action", "target", "result", "detail")
    return world.run(rows)


def test_nobody_takes_two_steps_of_one_decision(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")
    as_user(world, "deyu")  # not the applying role
    refused = step(world, ids["decision"], "apply")
    assert refused.status_code == 403 and CJK.search(refused.text)
    as_user(world, "admin")  # holds every role: may apply, but then neither review nor approve
    assert step(world, ids["decision"], "apply").status_code == 303
    for name, opinion in (("review", "同意"), ("approve", "批准")):
        refused = step(world, ids["decision"], name, opinion)
        assert refused.status_code == 403 and CJK.search(refused.text), name
    edit = world.client.post(f"/records/{ids['decision']}", data={"_csrf_token": world.csrf(), "_version": "2"})
    assert edit.status_code == 403 and "审批" in edit.text  # locked while it is decided
    as_user(world, "deyu")
    assert step(world, ids["decision"], "approve", "批准").status_code == 403  # not yet reviewed
    assert step(world, ids["decision"], "review", "随便").status_code == 403  # not an offered opinion
    reviewed = world.client.post(f"/records/{ids['decision']}/disposal", data={"_csrf_token": world.csrf(), "step": "review",
                                                                            "opinion": "同意", "note": "材料清点无误"})
    assert reviewed.status_code == 200 or reviewed.status_code == 303
    as_user(world, "xiaozhang")
    page = world.client.get(f"/records/{ids['decision']}").text
    assert "材料清点无误" in page
    assert 'value="批准"' in page and 'value="不批准"' in page
    assert step(world, ids["decision"], "approve", "不批准").status_code == 303

    async def state():
        from server.models import Disposal, Record, Student

        disposal = await Disposal.get(record_id=ids["decision"])
        return disposal.state, (await Student.get(id=ids["student"])).file_state, (await Record.get(id=ids["decision"])).data
    disposal_state, file_state, data = world.run(state)
    assert (disposal_state, file_state) == ("refused", "open")
    assert data["approval_opinion"] == "不批准" and data["approver"] == "xiaozhang" and data["reviewer"] == "deyu"

    async def after_decision() -> dict:
        from server.disposal import keep_decided
        from server.models import Record

        definition = shipped_registry().get("archive_disposal")
        record = await Record.get(id=ids["decision"])
        await assert_hand_edit_refused(record, {"reason": "事后改写的理由"})
        carried = {**record.data, "executed_on": "2026-12-01", "executor": "xinli"}
        await keep_decided(definition, record.data, carried, record.id)  # carrying it out is still written down
        return carried
    carried = world.run(after_decision)
    assert carried["executed_on"] == "2026-12-01"


def test_a_sealed_file_refuses_every_write_and_opens_only_with_a_recorded_reason(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")
    decide(world, ids)
    as_user(world, "xinli")
    record_id, student_id = ids["record"], ids["student"]
    # every write refuses, on the web and through the API
    opening = world.client.get("/forms/registration/new", params={"student": student_id})
    assert opening.status_code == 403 and "封存" in opening.text  # refused before anything is typed
    new = world.client.post("/forms/registration", data={"_csrf_token": world.csrf(), "_student": str(student_id)})
    assert new.status_code in (403, 422) and CJK.search(new.text)
    assert world.client.get(f"/records/{record_id}/edit").status_code == 403
    assert world.client.post(f"/records/{record_id}", data={"_csrf_token": world.csrf(), "_version": "2"}).status_code == 403

    async def token() -> str:
        from server.auth import create_token
        from server.models import User

        return await create_token(await User.get(username="xinli"))
    headers = {"Authorization": f"Bearer {world.run(token)}"}
    api_new = world.client.post("/api/forms/registration/records", headers=headers,
                                json={"data": example("registration"), "students": [student_id]})
    assert api_new.status_code == 403 and CJK.search(api_new.json()["errors"][0]["message"])
    api_put = world.client.put(f"/api/records/{record_id}", headers=headers, json={"data": example("registration"), "version": 2})
    assert api_put.status_code == 403
    assert world.client.get(f"/api/records/{record_id}", headers=headers).status_code == 403
    # reading needs a reason: the list does not show it, the record and the file ask for one
    assert f"/records/{record_id}\"" not in world.client.get("/forms/family_interview").text
    for url in (f"/records/{record_id}", f"/students/{student_id}", f"/records/{record_id}/print.pdf", f"/students/{student_id}/archive.pdf"):
        closed = world.client.get(url)
        assert closed.status_code == 403 and "reason" in closed.text and MARKER not in closed.text, url
    short = world.client.post(f"/students/{student_id}/open", data={"_csrf_token": world.csrf(), "reason": "看", "next": f"/records/{record_id}"})
    assert short.status_code == 422
    opened = world.client.post(f"/students/{student_id}/open", data={"_csrf_token": world.csrf(), "reason": "家长来访，核对既往记录",
                                                                     "next": f"/records/{record_id}"}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/records/{record_id}"
    view = world.client.get(f"/records/{record_id}")
    assert view.status_code == 200 and MARKER in view.text and "只读" in view.text
    assert world.client.get(f"/records/{record_id}/edit").status_code == 403  # opened is still read-only
    rows = audit_rows(world)
    assert ("open-sealed", f"student:{student_id}", "ok", "家长来访，核对既往记录") in rows
    assert any(a == "read" and t == f"record:{record_id}" and r == "denied" and d == "sealed" for a, t, r, d in rows)
    assert any(a == "seal" and t == f"student:{student_id}" for a, t, _r, _d in rows)
    as_user(world, "deyu")  # the opening was this user's, in that session: another person asks again
    assert world.client.get(f"/records/{record_id}").status_code == 403
    dashboard = world.client.get("/disposals/")
    assert dashboard.status_code == 200 and "林小雨" in dashboard.text and "2029" in dashboard.text


def test_destruction_leaves_no_trace_in_the_database_file_and_keeps_a_tombstone(logged_in):
    world = logged_in
    ids = world.run(seed, "销毁", "destroy")
    decide(world, ids)

    async def after():
        from server.models import AuditEntry, FileTombstone, Record, RecordRevision, Student

        student = await Student.get(id=ids["student"])
        tombstone = await FileTombstone.get(student_id=student.id)
        left = await Record.filter(students__id=student.id).values_list("form_id", flat=True)
        revisions = await RecordRevision.filter(record_id=ids["record"]).count()
        details = " ".join(await AuditEntry.all().values_list("detail", flat=True))
        return student.file_state, tombstone.categories, tombstone.basis, list(left), revisions, details
    state, categories, basis, left, revisions, details = world.run(after)
    assert state == "destroyed" and left == ["archive_disposal"] and revisions == 0
    for form_id in ("registration", "family_interview"):
        assert {"form_id": form_id, "title": shipped_registry().get(form_id).title, "count": 1} in categories
    assert basis and MARKER not in details
    if world.settings.is_sqlite:
        database = world.settings.database_url.split("://", 1)[1].split("?", 1)[0]
        for suffix in ("", "-wal"):
            try:
                content = open(database + suffix, "rb").read()
            except FileNotFoundError:
                continue
            assert MARKER.encode("utf-8") not in content, suffix
    else:
        async def anywhere() -> int:
            from tortoise import connections

            rows = await connections.get("default").execute_query_dict(
                "SELECT count(*) AS n FROM record WHERE data::text LIKE $1", [f"%{MARKER}%"])
            return rows[0]["n"]
        assert world.run(anywhere) == 0
    as_user(world, "xinli")
    page = world.client.get(f"/students/{ids['student']}")
    assert page.status_code == 200 and "销毁" in page.text and MARKER not in page.text


def test_a_transfer_needs_the_guardians_consent_and_hands_over_a_package(logged_in):
    world = logged_in
    ids = world.run(seed, "移交", "transfer")

    async def consent(value: bool) -> None:
        from server.models import Record

        record = await Record.get(id=ids["decision"])
        await Record.filter(id=record.id).update(data={**record.data, "guardian_consent": value})
    world.run(consent, False)
    as_user(world, "xinli")
    refused = step(world, ids["decision"], "apply")
    assert refused.status_code == 403 and "监护人" in refused.text
    world.run(consent, True)
    decide(world, ids)
    as_user(world, "xinli")
    page = world.client.get(f"/records/{ids['decision']}")
    assert "/disposal/package" in page.text
    closed = world.client.get(f"/records/{ids['decision']}/disposal/package")
    assert closed.status_code == 403 and 'name="reason"' in closed.text  # sealed here: handing it over opens it
    world.client.post(f"/students/{ids['student']}/open", data={"_csrf_token": world.csrf(), "reason": "转入学校来函，准备移交材料"})
    package = world.client.get(f"/records/{ids['decision']}/disposal/package")
    assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(package.content))
    names = sorted(bundle.namelist())
    assert names == ["T0001-林小雨.json", "T0001-林小雨.pdf"]
    exported = json.loads(bundle.read("T0001-林小雨.json"))
    assert exported["student"]["name"] == "林小雨" and any(MARKER in json.dumps(r["data"], ensure_ascii=False) for r in exported["records"])
    assert bundle.read("T0001-林小雨.pdf").startswith(b"%PDF")
    assert any(a == "transfer-package" for a, _t, _r, _d in audit_rows(world))
    as_user(world, "deyu")
    assert world.client.get(f"/records/{ids['record']}").status_code == 403  # sealed here: every other opening needs its reason


def test_hand_edits_keep_what_the_workflow_wrote_and_writers_do_not_review(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")

    async def typed_in() -> dict:
        from server.models import Record, User
        from server.records import update_record

        record = await Record.get(id=ids["decision"])  # an approval typed into the request before it is submitted
        record = await update_record(record, record.version, {**record.data, "approver": "假校长", "approval_opinion": "批准",
                                                              "reason": "德育处补充了理由"}, await User.get(username="deyu"))
        return record.data
    stored = world.run(typed_in)
    as_user(world, "xinli")
    assert step(world, ids["decision"], "apply").status_code == 303
    as_user(world, "deyu")  # changed the request's content: may not review it
    refused = step(world, ids["decision"], "review", "同意")
    assert refused.status_code == 403 and CJK.search(refused.text)

    async def after_apply() -> tuple[dict, dict]:
        from server.disposal import keep_decided
        from server.models import Record

        definition = shipped_registry().get("archive_disposal")
        record = await Record.get(id=ids["decision"])
        await assert_hand_edit_refused(record, {"decision": "销毁"})
        posted = {k: v for k, v in record.data.items() if k not in ("seal_until", "applicant")}  # a page that did not show them
        await keep_decided(definition, record.data, posted, record.id)
        return record.data, posted
    applied, posted = world.run(after_apply)
    assert "approver" not in applied and "approval_opinion" not in applied  # applying wiped the typed approval
    assert applied["applicant"] == "xinli"
    assert posted["seal_until"] == stored["seal_until"] and posted["applicant"] == "xinli"  # kept as stored


@pytest.mark.parametrize("broken", [
    {"decision": "nope"},
    {"actions": {"封存": "seal"}},
    {"review": {"roles": ["moral_education"], "opinion": "review_opinion", "yes": ["好"], "by": "reviewer", "on": "reviewed_on"}},
    {"approve": {"roles": ["king"], "opinion": "approval_opinion", "yes": ["批准"], "by": "approver", "on": "approved_on"}},
])
def test_a_broken_x_disposal_is_a_definition_problem(broken):
    from server.checks import check_disposal
    from server.definitions import collect_fields

    schema = json.loads(json.dumps(shipped_registry().get("archive_disposal").schema))
    schema["x-disposal"].update(broken)
    problems = list(check_disposal(collect_fields(schema), schema, "schema.json"))
    assert problems and all(CJK.search(p.message) for p in problems)
    assert not list(check_disposal(collect_fields(shipped_registry().get("archive_disposal").schema),
                                   shipped_registry().get("archive_disposal").schema, "schema.json"))


def test_the_dashboard_lists_files_due_and_applies_for_a_batch(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")

    async def graduate() -> None:
        import datetime as dt

        from server.models import School, Student, User
        from server.records import create_record

        await Student.filter(id__in=[ids["student"], ids["other"]]).update(left_on=dt.date(2026, 7, 1), left_reason="毕业")
        other = await Student.get(id=ids["other"])  # a referral is kept 5 years after leaving (x-retention-years)
        await create_record(shipped_registry().get("referral"), await School.get(code="t1"), await User.get(username="admin"),
                            example("referral"), [other])
    world.run(graduate)
    as_user(world, "xinli")
    page = world.client.get("/disposals/")
    assert page.status_code == 200
    assert f'name="student" value="{ids["student"]}"' in page.text  # due at leaving
    assert f'name="student" value="{ids["other"]}"' not in page.text  # kept until 2031
    new = world.client.get("/forms/archive_disposal/new", params=[("student", ids["student"]), ("student", ids["other"])])
    assert new.status_code == 200 and "林小雨" in new.text and "周明轩" in new.text
    assert step(world, ids["decision"], "apply").status_code == 303
    page = world.client.get("/disposals/").text
    assert f'name="student" value="{ids["student"]}"' not in page and f'href="/records/{ids["decision"]}"' in page  # under way
