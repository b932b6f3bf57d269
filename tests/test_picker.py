"""Choosing whom a record is about at a real school's size: the student search (suggestions as one types),
the same picker without JavaScript (plain posts), whole classes and chips on group forms, the linked students
on a group record's page and paper, the list's search by 学籍号 and class and its class filter, and records
about a class linked to their class (and reached by its 班主任)."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from _formdata import definition, example, form_fields, squash
from conftest import PASSWORD, light_password_hash

import html as html_lib


async def seed_picker() -> dict:
    """Besides the fixture's 七年级(1)班 (林小雨 T0001, 周明轩 T0002): a left student and a sealed one in it,
    a 三年级(2)班 with two students, and its 班主任."""
    import datetime as dt

    from server.models import School, SchoolClass, Student, User

    school = await School.get(code="t1")
    class_a = await SchoolClass.get(school=school, name="七年级(1)班")
    class_b = await SchoolClass.create(school=school, grade=3, name="三年级(2)班", school_year="2026-2027")
    left = await Student.create(school=school, klass=class_a, student_number="T0003", name="林已离", gender="女",
                                left_on=dt.date(2026, 7, 1), left_reason="毕业")
    sealed = await Student.create(school=school, klass=class_a, student_number="T0004", name="林封存", gender="女", file_state="sealed")
    small = [await Student.create(school=school, klass=class_b, student_number=f"T01{n:02d}", name=name, gender="男")
             for n, name in ((1, "王小明"), (2, "王小红"))]
    homeroom = await User.create(school=school, username="bzr", display_name="三年级(2)班班主任", roles=["homeroom_teacher"],
                                 password_hash=light_password_hash(PASSWORD))
    await homeroom.classes.add(class_b)
    mine = await Student.get(school=school, student_number="T0001")
    return {"class_a": class_a.id, "class_b": class_b.id, "left": left.id, "sealed": sealed.id, "small": [s.id for s in small],
            "lin": mine.id, "zhou": (await Student.get(school=school, student_number="T0002")).id}


@pytest.fixture
def school(world):
    world.ids = world.run(seed_picker)
    world.login()
    return world


def text_of(response) -> str:
    return squash(html_lib.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def suggestions(world, form_id: str, query: str, **extra) -> str:
    response = world.client.get(f"/forms/{form_id}/students", params={"q": query, **extra}, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text[:500]
    return response.text


def picked(response) -> list[int]:
    """The students a returned form holds as chosen (its hidden _student inputs)."""
    return [int(v) for v in re.findall(r'<input type="hidden" name="_student" value="(\d+)">', response.text)]


async def search_audits() -> list[tuple[str, str, str]]:
    from server.models import AuditEntry

    return [(e.action, e.target, e.detail) for e in await AuditEntry.filter(action="search").order_by("id")]


def test_search_finds_by_name_number_and_class_within_the_pickers_rules(school):
    world, ids = school, school.ids
    found = suggestions(world, "individual_counseling", "林")
    assert "林小雨" in found and f'value="pick-student:{ids["lin"]}"' in found
    assert "林已离" not in found and "林封存" not in found  # left school; a sealed file takes no new record
    assert "周明轩" in suggestions(world, "individual_counseling", "T0002")  # 学籍号
    by_class = suggestions(world, "individual_counseling", "三年级（2）班")  # full-width brackets find 三年级(2)班
    assert "王小明" in by_class and "王小红" in by_class and "林小雨" not in by_class
    assert "外校学生" not in suggestions(world, "individual_counseling", "外校")  # another school's student
    assert "外校学生" not in suggestions(world, "individual_counseling", "X0001")
    assert "pick-class" not in by_class  # a form about one student offers no whole class
    # a decision on leaving school (x-disposal) is about students who left: they are found there
    assert "林已离" in suggestions(world, "archive_disposal", "林已离")
    # the typed words are never stored: the audit says a search of students happened on that form
    audits = world.run(search_audits)
    assert ("search", "form:individual_counseling", "students") in audits
    assert not any("林" in detail or "T0002" in detail or "班" in detail for _a, _t, detail in audits)


def test_search_keeps_to_the_forms_grades(school):
    world = school
    assert "王小明" in suggestions(world, "scale_mhrsp", "T0")  # 1–6年级: the 三年级 student
    assert "林小雨" not in suggestions(world, "scale_mhrsp", "T0")
    assert "林小雨" in suggestions(world, "scale_mssmhs", "T0")  # 7–9年级
    assert "王小明" not in suggestions(world, "scale_mssmhs", "T0")


def test_a_homeroom_teacher_finds_only_the_own_class(school):
    world, ids = school, school.ids
    world.client.cookies.clear()
    world.login("bzr")
    found = suggestions(world, "classroom_observation", "小")
    assert "王小明" in found and "林小雨" not in found
    assert "林小雨" not in suggestions(world, "classroom_observation", "T0001")
    group = suggestions(world, "theme_activity", "年级")
    assert f'value="pick-class:{ids["class_b"]}"' in group and f'pick-class:{ids["class_a"]}' not in group
    assert "（2名学生）" in text_of(world.client.get(f"/forms/theme_activity/students?q=三年级"))
    # a form the 班主任 may not create: no suggestions at all
    assert world.client.get("/forms/individual_counseling/students", params={"q": "王"}).status_code in (403, 404)
    # a pick of a student beyond reach is refused with a sentence, nothing chosen
    fields = {"_csrf_token": [world.csrf()], "_action": [f"pick-student:{ids['lin']}"]}
    response = world.client.post("/forms/classroom_observation", data=fields)
    assert response.status_code == 200 and picked(response) == [] and "不能选择这名学生" in text_of(response)
    response = world.client.post("/forms/theme_activity", data={"_csrf_token": [world.csrf()], "_action": [f"pick-class:{ids['class_a']}"]})
    assert picked(response) == []


def test_the_picker_without_javascript_chips_whole_class_and_save(school):
    world, ids, client = school, school.ids, school.client
    base = form_fields(definition("theme_activity"), example("theme_activity"))
    base.pop("_student", None)
    base = {k: v for k, v in base.items() if not k.startswith("participants.")}
    base["_csrf_token"] = [world.csrf()]
    # typing then 查找 (or Enter): the page again with the suggestions as buttons, typed answers kept
    response = client.post("/forms/theme_activity", data={**base, "_student_q": ["王小"], "_action": ["find-students"]})
    assert response.status_code == 200 and f'value="pick-student:{ids["small"][0]}"' in response.text
    assert 'name="_student_q"' in response.text and 'value="王小"' in response.text
    # one student, then the whole 七年级(1)班 (only its students at school with open files)
    response = client.post("/forms/theme_activity", data={**base, "_action": [f"pick-student:{ids['small'][0]}"]})
    assert picked(response) == [ids["small"][0]]
    response = client.post("/forms/theme_activity", data={**base, "_student": [str(ids["small"][0])],
                                                            "_action": [f"pick-class:{ids['class_a']}"]})
    chosen = picked(response)
    assert chosen[0] == ids["small"][0] and set(chosen) == {ids["small"][0], ids["lin"], ids["zhou"]}
    assert "已加入七年级(1)班的2名学生" in text_of(response)
    assert "移除林小雨" in response.text  # each chip's remove button has a name
    # the form's participants table got a row per chosen student, name and class filled in
    assert re.search(r'name="participants\.\d+\.student_name"[^>]*value="林小雨"', response.text)
    # removing a chip
    response = client.post("/forms/theme_activity", data={**base, "_student": [str(s) for s in chosen],
                                                            "_action": [f"unpick-student:{ids['zhou']}"]})
    assert set(picked(response)) == {ids["small"][0], ids["lin"]}
    # saving
    response = client.post("/forms/theme_activity", data={**base, "_student": [str(s) for s in picked(response)], "_action": ["save"]},
                           follow_redirects=False)
    assert response.status_code == 303, text_of(response)[:2000]
    record_id = int(re.search(r"/records/(\d+)", response.headers["location"]).group(1))
    page = text_of(client.get(f"/records/{record_id}"))
    assert "参与学生（2名学生）" in page and "王小明" in page and "林小雨" in page and "T0101" in page and "周明轩" not in page


def test_group_record_shows_linked_students_with_attendance_on_page_and_paper(school, tmp_path):
    world, ids, client = school, school.ids, school.client
    data = dict(example("group_counseling"))
    data["members"] = [{"name": "林小雨", "class_name": "七年级(1)班", "attended": 5, "participation": "积极"},
                       {"name": "周明轩", "class_name": "七年级(1)班", "attended": 3}]
    fields = form_fields(definition("group_counseling"), data)
    fields["_student"] = [str(ids["lin"]), str(ids["zhou"])]
    fields["_csrf_token"] = [world.csrf()]
    response = client.post("/forms/group_counseling", data=fields, follow_redirects=False)
    assert response.status_code == 303, text_of(response)[:2000]
    record_id = int(re.search(r"/records/(\d+)", response.headers["location"]).group(1))
    page = client.get(f"/records/{record_id}").text
    linked = squash(html_lib.unescape(re.sub(r"<[^>]+>", " ", page.split('class="linked-students"')[1])))
    assert "学籍号出勤次数1林小雨七年级(1)班T000152周明轩七年级(1)班T00023" in linked
    pdf = client.get(f"/records/{record_id}/print.pdf")
    assert pdf.status_code == 200
    (tmp_path / "group.pdf").write_bytes(pdf.content)
    text = squash(subprocess.run(["pdftotext", "-layout", str(tmp_path / "group.pdf"), "-"], capture_output=True, text=True, check=True).stdout)
    assert "参与学生（2名学生）序号姓名班级学籍号出勤次数1林小雨七年级(1)班T000152周明轩七年级(1)班T00023" in text
    assert "林小雨、周明轩" not in text  # the running header names the group, not every name


def test_list_search_by_number_and_class_and_the_class_filter(school):
    world, ids, client = school, school.ids, school.client
    for student in (ids["lin"], ids["small"][0]):
        fields = form_fields(definition("classroom_observation"), example("classroom_observation"))
        fields["_student"] = [str(student)]
        fields["_csrf_token"] = [world.csrf()]
        assert client.post("/forms/classroom_observation", data=fields, follow_redirects=False).status_code == 303

    def listed(query: str) -> tuple[int, str]:
        text = text_of(client.get(f"/forms/classroom_observation?{query}"))
        return int(re.search(r"(\d+)\s*条", text).group(1)), text

    total, text = listed("q=T0101")  # 学籍号 (the layout's search names only the student's name)
    assert total == 1 and "王小明" in text
    total, text = listed("q=三年级(2)")
    assert total == 1 and "王小明" in text and "林小雨" not in text
    total, text = listed(f"class={ids['class_a']}")
    assert total == 1 and "林小雨" in text
    assert listed(f"class={ids['class_a']}&q=T0101")[0] == 0
    page = client.get("/forms/classroom_observation").text
    assert 'name="class"' in page and "三年级(2)班" in page
    world.client.cookies.clear()
    world.login("bzr")
    page = client.get("/forms/classroom_observation").text
    assert "三年级(2)班</option>" in page and "七年级(1)班</option>" not in page  # only reachable classes are offered
    assert listed(f"class={ids['class_a']}")[0] == 1  # someone else's class: the filter is ignored, the scope stays


def test_records_about_a_class_are_linked_shown_and_scoped(school, tmp_path):
    world, ids, client = school, school.ids, school.client
    fields = form_fields(definition("intake_screening"), example("intake_screening"))
    fields["_csrf_token"] = [world.csrf()]
    page = client.get("/forms/intake_screening/new").text
    assert 'name="_class"' in page and "三年级(2)班" in page and 'for="f-_class"' in page
    refused = client.post("/forms/intake_screening", data=fields)
    assert refused.status_code == 422 and "请选择本记录所属的班级" in text_of(refused)
    fields["_class"] = [str(ids["class_a"])]
    response = client.post("/forms/intake_screening", data=fields, follow_redirects=False)
    assert response.status_code == 303, text_of(response)[:1500]
    record_id = int(re.search(r"/records/(\d+)", response.headers["location"]).group(1))
    assert "班级：七年级(1)班" in text_of(client.get(f"/records/{record_id}"))
    pdf = client.get(f"/records/{record_id}/print.pdf")
    (tmp_path / "class.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "class.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"班级：\s*七年级\(1\)班", text)
    # the class list filters class records by their class
    assert f'value="{ids["class_a"]}" selected' in client.get(f"/forms/intake_screening?class={ids['class_a']}").text
    assert "共1条记录" in text_of(client.get(f"/forms/intake_screening?class={ids['class_a']}"))
    assert "共0条记录" in text_of(client.get(f"/forms/intake_screening?class={ids['class_b']}"))
    assert world.run(scoping_of_class_records, record_id, ids) == {"own_class": True, "other_class": False, "listed_own": [record_id],
                                                                    "listed_other": []}


async def scoping_of_class_records(record_id: int, ids: dict) -> dict:
    """A form about a class that gives 班主任 reading (as a school may write one): the class's 班主任 reaches
    the record by class scoping, another 班主任 does not."""
    import copy

    from server.access import Actor, record_reached, records_filter
    from server.definitions import Definition
    from server.models import Record, School

    shipped = definition("intake_screening")
    schema = copy.deepcopy(shipped.schema)
    schema["x-access"]["read"] = [*schema["x-access"]["read"], "homeroom_teacher"]
    opened = Definition(form_id=shipped.form_id, schema=schema, layout=shipped.layout)
    school = await School.get(code="t1")
    record = await Record.get(id=record_id)
    own, other = (Actor(1, school.id, frozenset({"homeroom_teacher"}), frozenset({ids[k]})) for k in ("class_a", "class_b"))
    result = {"own_class": await record_reached(own, opened, record, "read"),
              "other_class": await record_reached(other, opened, await Record.get(id=record_id), "read")}
    for name, actor in (("listed_own", own), ("listed_other", other)):
        scope = await records_filter(actor, opened, "read")
        result[name] = list(await Record.filter(school=school, form_id="intake_screening").filter(scope).values_list("id", flat=True))
    return result


def test_the_api_links_a_class_record_to_its_class(school):
    world, ids, client = school, school.ids, school.client

    async def token() -> str:
        from server.auth import create_token
        from server.models import User
        return await create_token(await User.get(username="admin"))

    headers = {"Authorization": f"Bearer {world.run(token)}"}
    body = {"data": example("intake_screening"), "students": [], "class": ids["class_a"]}
    response = client.post("/api/forms/intake_screening/records", json=body, headers=headers)
    assert response.status_code == 201 and response.json()["class"] == ids["class_a"], response.text
    assert client.post("/api/forms/intake_screening/records", json={**body, "class": 999999}, headers=headers).status_code == 422
    # as before the link existed: a script that gives no class still saves (the record is linked to none)
    response = client.post("/api/forms/intake_screening/records", json={"data": example("intake_screening"), "students": []}, headers=headers)
    assert response.status_code == 201 and response.json()["class"] is None
    # a record about a class made before the link existed stays readable, on screen and on paper
    legacy = response.json()["id"]
    page = client.get(f"/records/{legacy}")
    assert page.status_code == 200 and "年级/班级" in text_of(page)
    assert client.get(f"/records/{legacy}/print.pdf").status_code == 200


async def add_namesake(class_id: int) -> int:
    from server.models import Student

    twin = await Student.create(school_id=(await Student.get(student_number="T0001")).school_id, klass_id=class_id,
                                student_number="T0005", name="林小雨", gender="女")
    return twin.id


def test_two_students_with_one_name_each_have_their_row(school):
    world, ids, client = school, school.ids, school.client
    twin = world.run(add_namesake, ids["class_a"])
    base = {"_csrf_token": [world.csrf()], "group_name": ["同名测试"]}
    response = client.post("/forms/group_counseling", data={**base, "_action": [f"pick-class:{ids['class_a']}"]})
    assert set(picked(response)) == {ids["lin"], ids["zhou"], twin}
    names = re.findall(r'name="members\.\d+\.name"[^>]*value="([^"]*)"', response.text)
    assert sorted(names) == ["周明轩", "林小雨", "林小雨"], names
    # one of them taken off: one row of that name stays, with what was typed in the other kept
    fields = {**base, "_student": [str(s) for s in picked(response)], "_action": [f"unpick-student:{twin}"]}
    for index, name in enumerate(names):
        fields[f"members.{index}.name"] = [name]
        fields[f"members.{index}.class_name"] = ["七年级(1)班"]
    first_lin = names.index("林小雨")
    fields[f"members.{first_lin}.attended"] = ["2"]
    response = client.post("/forms/group_counseling", data=fields)
    assert set(picked(response)) == {ids["lin"], ids["zhou"]}
    names = re.findall(r'name="members\.\d+\.name"[^>]*value="([^"]*)"', response.text)
    assert sorted(names) == ["周明轩", "林小雨"], names
    assert re.search(r'name="members\.\d+\.attended"[^>]*value="2"', response.text)
