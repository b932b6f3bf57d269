"""The roster: importing a 学籍 export (XLSX, UTF-8 and GBK CSV) with a preview, every kind of bad row and
hostile file refused with nothing written, and the class and student pages."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest
from openpyxl import Workbook

from _formdata import CJK
from conftest import PASSWORD, light_password_hash

HEADER = ["学籍号", "姓名", "性别", "出生日期", "年级", "班级", "入学日期", "监护人", "联系电话"]
ROWS = [
    ["G4401012013050211", "陈思远", "男", "2013-05-02", "七年级", "2班", "2025-09-01", "陈建国", "13800138000"],
    ["G4401012013071522", "刘雨桐", "女", "2013/7/15", "7", "(2)班", "2025-09-01", "刘芳", "13900139000"],
    ["T0001", "林小雨", "女", "2013-01-09", "初一", "七年级(1)班", "2025-09-01", "林妈妈", "13700137000"],
]
YEAR = "2026-2027"  # the year the test school's class belongs to


def xlsx(rows: list[list], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(world, content: bytes, name: str = "学籍导出.xlsx", year: str = YEAR):
    return world.client.post("/roster/import", data={"_csrf_token": world.csrf(), "year": year},
                             files={"file": (name, content, "application/octet-stream")}, follow_redirects=False)


def post(world, url: str, data: dict):
    return world.client.post(url, data={"_csrf_token": world.csrf(), **data}, follow_redirects=False)


async def students() -> dict[str, tuple]:
    from server.models import Student

    return {s.student_number: (s.name, s.gender, str(s.birth_date), s.klass.name if s.klass else "", s.guardian_phone)
            for s in await Student.all().select_related("klass")}


def test_an_xlsx_export_is_previewed_row_by_row_then_imported_in_one_go(logged_in):
    world = logged_in
    before = world.run(students)
    preview = upload(world, xlsx(ROWS))
    assert preview.status_code == 422  # 七年级(2)班 does not exist yet
    assert "七年级(2)班" in preview.text and "第" not in preview.text.split("<h1>")[0]
    assert world.run(students) == before  # nothing written by a preview
    preview = post(world, "/roster/import/preview", {"year": YEAR, "create_classes": "true"})
    assert preview.status_code == 200, preview.text
    assert "2 个新学生" in preview.text or "新增 2" in preview.text or re.search(r"2\s*名新学生|新增\s*2", preview.text), preview.text[-3000:]
    assert "林小雨" in preview.text and "林妈妈" in preview.text  # T0001 exists: its guardian is added
    done = post(world, "/roster/import/confirm", {"year": YEAR, "create_classes": "true"})
    assert done.status_code == 200 and CJK.search(done.text)
    after = world.run(students)
    assert after["G4401012013050211"] == ("陈思远", "男", "2013-05-02", "七年级(2)班", "13800138000")
    assert after["G4401012013071522"][2:4] == ("2013-07-15", "七年级(2)班")
    assert after["T0001"][3] == "七年级(1)班" and after["T0001"][4] == "13700137000"
    assert post(world, "/roster/import/confirm", {"year": YEAR}).status_code == 422  # the upload is gone once used
    classes = world.client.get("/roster/", params={"year": YEAR}).text
    assert "七年级(2)班" in classes


@pytest.mark.parametrize("bad_row, column_word, message_word", [
    (["", "无学号", "男", "2013-01-01", "7", "1班", "", "", ""], "学籍号", "空"),
    (["X1", "", "男", "2013-01-01", "7", "1班", "", "", ""], "姓名", "空"),
    (["X1", "王五", "未知", "2013-01-01", "7", "1班", "", "", ""], "性别", "男"),
    (["X1", "王五", "男", "2013-13-45", "7", "1班", "", "", ""], "出生日期", "日期"),
    (["X1", "王五", "男", "2013-01-01", "十三", "1班", "", "", ""], "年级", "年级"),
    (["X1", "王五", "男", "2013-01-01", "7", "9班", "", "", ""], "班级", "七年级(9)班"),
    (["X1", "王五", "男", "2013-01-01", "7", "1班", "", "", "电话号码"], "电话", "电话"),
    (["X1", "王\u202e五", "男", "2013-01-01", "7", "1班", "", "", ""], "姓名", "控制字符"),
    (["G4401012013050211", "重名", "男", "2013-01-01", "7", "1班", "", "", ""], "学籍号", "第 2 行"),
])
def test_every_kind_of_bad_row_is_named_and_nothing_is_written(logged_in, bad_row, column_word, message_word):
    world = logged_in
    before = world.run(students)
    rows = [["G4401012013050211", "陈思远", "男", "2013-05-02", "七年级", "1班", "", "", ""], bad_row]
    preview = upload(world, xlsx(rows))
    assert preview.status_code == 422
    problems = preview.text[preview.text.index("error-summary"):]
    assert "<td>3</td>" in problems and column_word in problems and message_word in problems, problems[:2000]
    assert "导入" in preview.text and 'action="/roster/import/confirm"' not in preview.text
    assert post(world, "/roster/import/confirm", {"year": YEAR}).status_code == 422
    assert world.run(students) == before


def test_a_gbk_csv_with_an_unknown_column_is_mapped_and_imported(logged_in):
    world = logged_in
    text = "学生编号,姓名,性别,年级,班级,备注\r\nC001,张三丰,男,七年级,1班,转入\r\nC002,李四,女,7,1,\r\n"
    preview = upload(world, text.encode("gbk"), "名单.csv")
    assert preview.status_code == 422 and "学生编号" in preview.text and "缺少" in preview.text
    mapped = post(world, "/roster/import/preview", {"year": YEAR, "map:学生编号": "student_number"})
    assert mapped.status_code == 200, mapped.text[-2000:]
    assert post(world, "/roster/import/confirm", {"year": YEAR, "map:学生编号": "student_number"}).status_code == 200
    after = world.run(students)
    assert after["C001"][0] == "张三丰" and after["C002"][3] == "七年级(1)班"


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * 100_000_000 + b">")  # 100 MB of one letter
    return out.getvalue()


def entity_bomb() -> bytes:
    source = io.BytesIO(xlsx(ROWS[:1]))
    out = io.BytesIO()
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><sst xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><si><t>&lol3;</t></si></sst>')
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><sheetData>', 1)
            archive.writestr(item, data)
        archive.writestr("xl/sharedStrings2.xml", bomb)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["zip_bomb", "entities", "wrong_magic", "legacy_xls", "binary_csv", "too_many_entries"])
def test_hostile_files_are_refused_fast_with_a_clear_message(logged_in, kind):
    world = logged_in
    content, name = {
        "zip_bomb": (zip_bomb(), "名单.xlsx"),
        "entities": (entity_bomb(), "名单.xlsx"),
        "wrong_magic": (b"<html>not a workbook</html>", "名单.xlsx"),
        "legacy_xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "名单.xls"),
        "binary_csv": (b"\x00\x01\x02\xff\xfe" * 50, "名单.csv"),
        "too_many_entries": (many_entries(), "名单.xlsx"),
    }[kind]
    before = world.run(students)
    started = time.monotonic()
    response = upload(world, content, name)
    assert time.monotonic() - started < 10  # refused before any large unpacking
    assert response.status_code == 422 and CJK.search(response.text)
    assert "root:" not in response.text  # no local file was read into the preview
    assert world.run(students) == before


def many_entries() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n in range(500):
            archive.writestr(f"x/{n}.xml", "<a/>")
    return out.getvalue()


def test_five_thousand_students_in_one_file(world):
    """The whole school at once: planned and written in one transaction (timed in bench/roster_import.py)."""
    from server.models import School
    from server.roster import apply_plan, plan_import, read_table

    rows = [[f"S{n:06d}", f"学生{n}", "男" if n % 2 else "女", "2013-05-02", str(7 + n % 3), f"{1 + (n // 3) % 12}班", "", "", ""]
            for n in range(5000)]

    async def run() -> dict:
        school = await School.get(code="t1")
        plan = await plan_import(school, read_table(xlsx(rows)), school_year=YEAR, create_classes=True)
        assert plan.ok and plan.count("create") == 5000 and len(plan.new_classes) == 35  # 36 classes, one already there
        return await apply_plan(school, plan, school_year=YEAR)
    assert world.run(run)["created"] == 5000
    assert len(world.run(students)) == 5000 + 3


def test_the_roster_pages_are_for_the_moral_education_office_and_the_administrator(world):
    async def add(username: str, roles: list[str]) -> None:
        from server.models import School, User

        await User.create(school=await School.get(code="t1"), username=username, display_name=username, roles=roles,
                          password_hash=light_password_hash(PASSWORD))
    world.run(add, "xinli", ["psych_teacher"])
    world.run(add, "deyu", ["moral_education"])
    world.login("xinli")
    for url in ("/roster/", "/roster/import", f"/roster/students/{world.student_ids[0]}"):
        assert world.client.get(url).status_code == 403, url
    world.client.cookies.clear()
    world.login("deyu")
    assert world.client.get("/roster/").status_code == 200
    assert world.client.get(f"/roster/students/{world.other_school_student_id}").status_code == 404
    page = world.client.get(f"/roster/students/{world.student_ids[0]}")
    assert page.status_code == 200 and "林小雨" in page.text
    left = post(world, f"/roster/students/{world.student_ids[0]}", {"name": "林小雨", "gender": "女", "left_on": "2027-06-30",
                                                                  "left_reason": "毕业", "klass": ""})
    assert left.status_code == 303
    bad = post(world, f"/roster/students/{world.student_ids[0]}", {"name": "林小雨", "gender": "女", "left_on": "2027-06-30"})
    assert bad.status_code == 422 and CJK.search(bad.text)
    assert world.run(students)["T0001"][3] == ""  # left without a class


def test_a_new_school_year_moves_every_class_up_and_the_top_grade_leaves(logged_in):
    world = logged_in

    async def seed() -> None:
        from server.models import School, SchoolClass, Student

        school = await School.get(code="t1")
        top = await SchoolClass.create(school=school, grade=9, name="九年级(3)班", school_year=YEAR)
        await Student.create(school=school, klass=top, student_number="N0009", name="毕业生", gender="女")
    world.run(seed)
    page = world.client.get("/roster/promote")
    assert page.status_code == 200 and 'value="9"' in page.text and "2027-07-01" in page.text
    form = {"year": YEAR, "graduating_grade": "9", "left_on": "2027-07-01"}
    preview = post(world, "/roster/promote", form)
    assert preview.status_code == 200 and "八年级(1)班" in preview.text and "毕业" in preview.text
    assert world.run(students)["T0001"][3] == "七年级(1)班"  # a preview writes nothing
    done = post(world, "/roster/promote", {**form, "confirm": "true"})
    assert done.status_code == 200 and CJK.search(done.text)
    after = world.run(students)
    assert after["T0001"][3] == "八年级(1)班" and after["T0002"][3] == "八年级(1)班"

    async def graduate() -> tuple:
        from server.models import SchoolClass, Student

        student = await Student.get(student_number="N0009")
        new_class = await SchoolClass.get(name="八年级(1)班")
        return str(student.left_on), student.left_reason, new_class.school_year
    assert world.run(graduate) == ("2027-07-01", "毕业", "2027-2028")
    again = post(world, "/roster/promote", {**form, "confirm": "true"})  # the old year's classes are empty now
    assert again.status_code == 200 and world.run(students)["T0001"][3] == "八年级(1)班"
    assert post(world, "/roster/promote", {"year": "1999-2000", "graduating_grade": "9", "left_on": "x"}).status_code == 422


def test_the_promote_and_import_roster_commands(tmp_path):
    from click.testing import CliRunner
    from server.cli import main as cli
    from server.demo import school_year

    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    dry = runner.invoke(cli, ["promote", "--from", school_year(), "--graduating-grade", "8", "--left-on", "2027-07-01", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "→" in dry.output and "毕业" in dry.output, dry.output
    assert runner.invoke(cli, ["promote", "--from", "1999-2000", "--graduating-grade", "9", "--left-on", "2000-07-01"], env=env).exit_code == 1
    roster = tmp_path / "名单.csv"
    roster.write_bytes("学籍号,姓名,性别,年级,班级\r\nC9001,命令行导入,女,7,1班\r\n".encode("gbk"))
    imported = runner.invoke(cli, ["import-roster", str(roster), "--year", school_year(), "--create-classes"], env=env)
    assert imported.exit_code == 0 and CJK.search(imported.output), imported.output
    bad = tmp_path / "bad.csv"
    bad.write_text("学籍号,姓名\nC1,缺列\n", encoding="utf-8")
    refused = runner.invoke(cli, ["import-roster", str(bad)], env=env)
    assert refused.exit_code == 1 and "性别" in refused.output


def test_classes_are_created_and_renamed_on_the_roster_pages(logged_in):
    world = logged_in
    created = world.client.post("/roster/classes", data={"_csrf_token": world.csrf(), "year": "2026-2027", "grade": "8", "number": "3"},
                                follow_redirects=False)
    assert created.status_code == 303
    class_url = created.headers["location"]
    page = world.client.get(class_url)
    assert page.status_code == 200 and "八年级(3)班" in page.text
    again = world.client.post("/roster/classes", data={"_csrf_token": world.csrf(), "year": "2026-2027", "grade": "8", "number": "3"})
    assert again.status_code == 422 and "已有" in again.text
    bad_year = world.client.post("/roster/classes", data={"_csrf_token": world.csrf(), "year": "2026", "grade": "8", "number": "3"})
    assert bad_year.status_code == 422 and "2026-2027" in bad_year.text
    renamed = world.client.post(class_url, data={"_csrf_token": world.csrf(), "name": "八年级(3)班（科技班）", "grade": "8"},
                                follow_redirects=False)
    assert renamed.status_code == 303
    assert "八年级(3)班（科技班）" in world.client.get(class_url).text
    clash = world.client.post(class_url, data={"_csrf_token": world.csrf(), "name": "七年级(1)班", "grade": "7"})
    assert clash.status_code == 422 and "已有" in clash.text

    async def logged() -> list:
        from server.models import AuditEntry

        return await AuditEntry.filter(action="roster").values_list("detail", flat=True)
    details = world.run(logged)
    assert "class created" in details and any(d.startswith("class renamed") for d in details)
