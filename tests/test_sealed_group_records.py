"""Sealing one student's file keeps a group record for the others: it stays in the group list, in the other
students' files and archive PDFs, in exports and the API, with the sealed student named 「已封存学生」 and their
own row (attendance, notes about them) closed; opening the sealed file with a recorded reason shows it as before."""

from __future__ import annotations

import io
import json

from _formdata import example, shipped_registry
from test_disposal import MARKER, as_user, decide, seed

OWN_ROW = "能主动分享，常帮助同组同学。"  # the example's note about 林小雨, the student whose file is sealed


async def group_of_four(ids: dict) -> dict:
    """A group counselling record of 林小雨 (sealed below), 周明轩 and two more classmates; one session's notes name her."""
    from server.models import School, SchoolClass, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    klass = await SchoolClass.get(school=school, name="七年级(1)班")
    more = [await Student.create(school=school, klass=klass, student_number=f"T01{n}", name=name, gender="女")
            for n, name in ((1, "王子涵"), (2, "刘思远"))]
    students = list(await Student.filter(id__in=[ids["student"], ids["other"]])) + more
    data = {**example("group_counseling"), "goals": MARKER}
    data["sessions"][0]["responses"] = "林小雨带头分享，其他成员跟着说。"
    record = await create_record(shipped_registry().get("group_counseling"), school, await User.get(username="admin"), data, students)
    return {"group": record.id, "others": [ids["other"]] + [s.id for s in more]}


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_group_record_stays_for_the_others_with_the_sealed_student_masked(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")
    group = world.run(group_of_four, ids)
    gid = group["group"]
    decide(world, ids)
    as_user(world, "xinli")

    listed = world.client.get("/forms/group_counseling")
    assert f'href="/records/{gid}"' in listed.text and "林小雨" not in listed.text
    view = world.client.get(f"/records/{gid}")
    assert view.status_code == 200
    assert MARKER in view.text and "王子涵" in view.text and "刘思远" in view.text and "已封存学生" in view.text
    assert "林小雨" not in view.text and OWN_ROW not in view.text  # her name and her own row are closed
    assert "其他成员跟着说" in view.text  # the session itself stays
    printed = pdf_text(world.client.get(f"/records/{gid}/print.pdf").content)
    assert MARKER in printed and "王子涵" in printed and "林小雨" not in printed and "已封存学生" in printed
    history = world.client.get(f"/records/{gid}/history")
    assert history.status_code == 200 and "林小雨" not in history.text

    for other in group["others"]:
        file_page = world.client.get(f"/students/{other}")
        assert file_page.status_code == 200 and f'href="/records/{gid}"' in file_page.text
    archive = pdf_text(world.client.get(f"/students/{ids['other']}/archive.pdf").content)
    assert MARKER in archive and "林小雨" not in archive and OWN_ROW not in archive

    for kind in ("csv", "json"):
        exported = world.client.get("/forms/group_counseling", params={"format": kind})
        assert exported.status_code == 200 and MARKER in exported.text and "林小雨" not in exported.text, kind

    edit = world.client.post(f"/records/{gid}", data={"_csrf_token": world.csrf(), "_version": "1"})
    assert edit.status_code == 403 and "封存" in edit.text  # her part cannot be changed behind her sealed file

    token = world.run(api_token)
    headers = {"Authorization": f"Bearer {token}"}
    api = world.client.get(f"/api/records/{gid}", headers=headers)
    assert api.status_code == 200 and "林小雨" not in api.text and ids["student"] not in api.json()["students"]
    listed_api = world.client.get("/api/forms/group_counseling/records", headers=headers)
    assert str(gid) in json.dumps(listed_api.json()) and "林小雨" not in listed_api.text
    theirs = world.client.get(f"/api/students/{ids['other']}/records", headers=headers)
    assert gid in [r["id"] for r in theirs.json()] and "林小雨" not in theirs.text

    opened = world.client.post(f"/students/{ids['student']}/open", data={"_csrf_token": world.csrf(), "reason": "核对团体辅导出勤"},
                               follow_redirects=False)
    assert opened.status_code == 303
    view = world.client.get(f"/records/{gid}").text
    assert "林小雨" in view and OWN_ROW in view  # opened with a recorded reason: as before


async def api_token() -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username="xinli"), days=1)
