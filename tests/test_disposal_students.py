"""A 7.2 decision shows whose files it acts on and acts only on students who have left school: the panel of every
step and the printed form name them (name, class, 学籍号, leaving date and reason); a student still at school is
refused by the entry page, the API, the save itself and every step, with a sentence naming them; a sealing must
end after the application; the demo links no decision to a pupil still at school."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from _formdata import example, form_fields, shipped_registry
from conftest import PASSWORD, light_password_hash
from test_disposal import DECIDED_LATER, as_user, step


def application(**changes) -> dict:
    data = {k: v for k, v in example("archive_disposal").items() if k not in DECIDED_LATER}
    return {**data, "students": [{"name": "x"}], **changes}


async def deciders_and_leaver() -> dict:
    """The three deciders; 林小雨 (T0001) graduated, 周明轩 (T0002) is still at school."""
    from server.models import School, Student, User

    school = await School.get(code="t1")
    for username, role in (("xinli", "psych_teacher"), ("deyu", "moral_education"), ("xiaozhang", "leader")):
        await User.create(school=school, username=username, display_name=username, roles=[role],
                          password_hash=light_password_hash(PASSWORD))
    await Student.filter(student_number="T0001").update(left_on=dt.date(2026, 7, 3), left_reason="毕业")
    return {"left": (await Student.get(student_number="T0001")).id, "staying": (await Student.get(student_number="T0002")).id}


def post_new(world, data: dict, students: list[int]):
    fields = form_fields(shipped_registry().get("archive_disposal"), data)
    return world.client.post("/forms/archive_disposal", data={**fields, "_student": [str(s) for s in students],
                                                              "_csrf_token": world.csrf(), "_action": "save"},
                             follow_redirects=False)


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_decision_refuses_students_still_at_school_at_every_entrance(logged_in):
    world = logged_in
    ids = world.run(deciders_and_leaver)
    as_user(world, "xinli")
    new = world.client.get("/forms/archive_disposal/new")
    assert "涉及学生（已离校）" in new.text and "参与学生" not in new.text  # the box says what it holds
    offered = world.client.get("/forms/archive_disposal/students", params={"q": "T000"}).text  # the picker's suggestions
    assert f'value="pick-student:{ids["left"]}"' in offered and f'value="pick-student:{ids["staying"]}"' not in offered
    refused = post_new(world, application(reason="毕业离校，申请封存"), [ids["left"], ids["staying"]])
    assert refused.status_code == 422
    assert "周明轩" in refused.text and "T0002" in refused.text and "仍在校" in refused.text
    assert "毕业离校，申请封存" in refused.text  # what was typed stays

    token = world.run(api_token)
    api = world.client.post("/api/forms/archive_disposal/records", json={"data": application(), "students": [ids["staying"]]},
                            headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 422 and "周明轩" in api.text and "仍在校" in api.text

    async def save_directly():
        from server.models import School, Student, User
        from server.records import StudentsRefused, create_record

        with pytest.raises(StudentsRefused, match="周明轩"):
            await create_record(shipped_registry().get("archive_disposal"), await School.get(code="t1"), await User.get(username="xinli"),
                                application(), [await Student.get(id=ids["staying"])])
    world.run(save_directly)

    saved = post_new(world, application(), [ids["left"]])
    assert saved.status_code == 303
    record_id = int(saved.headers["location"].split("/")[2].split("?")[0])

    async def leaving_later():  # a leaving date ahead (entered before the summer): not left yet
        from server.models import Student

        await Student.filter(id=ids["staying"]).update(left_on=dt.date.today() + dt.timedelta(days=30), left_reason="转出")
    world.run(leaving_later)
    assert f'value="pick-student:{ids["staying"]}"' not in world.client.get("/forms/archive_disposal/students", params={"q": "T000"}).text
    refused = post_new(world, application(), [ids["staying"]])
    assert refused.status_code == 422 and "周明轩" in refused.text and "仍在校" in refused.text

    async def back_at_school():  # re-enrolled after the request was written: no step may act on the file now
        from server.models import Student

        await Student.filter(id=ids["left"]).update(left_on=None, left_reason="")
    world.run(back_at_school)
    page = world.client.get(f"/records/{record_id}").text
    assert "仍在校" in page and "林小雨" in page
    refused = step(world, record_id, "apply")
    assert refused.status_code == 403 and "林小雨" in refused.text and "仍在校" in refused.text


def test_every_step_and_the_printed_form_show_the_students_the_decision_acts_on(logged_in):
    world = logged_in
    ids = world.run(deciders_and_leaver)
    as_user(world, "xinli")
    typed = application(students=[{"name": "随手写的名字", "student_number": "T0001", "note": "含转介记录"}])
    saved = post_new(world, typed, [ids["left"]])
    assert saved.status_code == 303
    record_id = int(saved.headers["location"].split("/")[2].split("?")[0])
    facts = ("林小雨", "七年级(1)班", "T0001", "2026年7月3日", "毕业")

    def shows_the_student(username: str) -> None:
        as_user(world, username)
        page = world.client.get(f"/records/{record_id}").text
        panel = page.split('id="disposal-heading"')[1].split("</section>")[0]
        assert all(fact in panel for fact in facts), (username, panel)
        text = pdf_text(world.client.get(f"/records/{record_id}/print.pdf").content)
        assert "林小雨" in text and "T0001" in text and any(day in text for day in ("2026-07-03", "2026/7/3", "2026年7月3日")), text
        assert "随手写的名字" not in text and "含转介记录" in text  # the list is the linked student's; the note typed stays

    shows_the_student("xinli")
    assert step(world, record_id, "apply").status_code == 303
    shows_the_student("deyu")
    assert step(world, record_id, "review", "同意").status_code == 303
    shows_the_student("xiaozhang")
    assert step(world, record_id, "approve", "批准").status_code == 303
    world.client.post(f"/students/{ids['left']}/open", data={"_csrf_token": world.csrf(), "reason": "核对封存执行情况"})
    shows_the_student("xiaozhang")  # carried out: the executors see whose file it was


def test_a_sealing_must_end_after_the_application(logged_in):
    world = logged_in
    ids = world.run(deciders_and_leaver)
    as_user(world, "xinli")
    refused = post_new(world, application(applied_on="2026-07-06", seal_until="2026-07-01"), [ids["left"]])
    assert refused.status_code == 422 and "必须晚于" in refused.text and "申请日期" in refused.text
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    saved = post_new(world, application(applied_on="2026-01-02", seal_until=yesterday), [ids["left"]])
    assert saved.status_code == 303  # holds as typed, but the application is dated the day it is submitted
    record_id = int(saved.headers["location"].split("/")[2].split("?")[0])
    refused = step(world, record_id, "apply")
    assert refused.status_code == 403 and "封存到期日" in refused.text and "必须晚于" in refused.text


def test_the_demo_links_no_decision_to_a_pupil_still_at_school(tmp_path):
    import asyncio

    from conftest import drop_settings_db, make_settings
    from server.db import close_database, open_database
    from server.demo import ensure_school, load_demo
    from server.models import Record, User

    settings = make_settings(tmp_path, "sqlite")

    async def run() -> list[tuple[str, list]]:
        await open_database(settings, migrate=True)
        try:
            school = await ensure_school("示例学校", "demo")
            admin = await User.create(school=school, username="admin", display_name="管理员", password_hash="x", roles=["admin"])
            await load_demo(shipped_registry(), admin)
            found = []
            for record in await Record.filter(form_id="archive_disposal").prefetch_related("students"):
                found.append((record.data, [(s.name, s.student_number, s.left_on) for s in record.students]))
            return found
        finally:
            await close_database()
    decisions = asyncio.run(run())
    drop_settings_db(settings)
    assert decisions
    for data, students in decisions:
        assert students and all(left_on is not None for _n, _number, left_on in students), students
        listed = {(row.get("name"), row.get("student_number")) for row in data["students"]}
        assert {(name, number) for name, number, _left in students} >= {row for row in listed if row[1]}


async def api_token() -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username="xinli"), days=1)


@pytest.mark.parametrize("where, broken", [
    ("x-students", {"label": "", "left_school": "yes"}),
    ("x-after", "no_such_field"),
    ("students_table", {"field": "students", "columns": {"name": "favourite_colour"}}),
    ("x-student-rows", "no_such_column"),
])
def test_a_broken_students_rule_is_a_definition_problem(where, broken):
    import copy

    from _formdata import CJK
    from server.checks import check_definition

    d = shipped_registry().get("archive_disposal")
    schema, layout = copy.deepcopy(d.schema), copy.deepcopy(d.layout)
    if where == "x-students":
        schema["x-students"] = broken
    elif where == "x-after":
        schema["properties"]["seal_until"]["x-after"] = broken
    elif where == "students_table":
        schema["x-disposal"]["students_table"] = broken
    else:
        schema["properties"]["students"]["x-student-rows"] = broken
    problems = check_definition("archive_disposal", schema, layout)
    assert problems and all(CJK.search(p.message) for p in problems), problems
    assert any(where in p.pointer for p in problems), problems
    assert not check_definition("archive_disposal", d.schema, d.layout)
