"""A form whose layout is a ledger row (台账) prints as one ledger of many records: one table, a row per
record, the headings on every page, filtered, searched and scoped as the list is, audited, and only for
forms whose definition makes them a ledger."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from _formdata import example, shipped_registry
from conftest import PASSWORD, light_password_hash


async def seed_ledger(extra_records: int = 0) -> dict:
    from server.models import School, SchoolClass, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    ledger = shipped_registry().get("attention_ledger")
    first, second = await Student.get(student_number="T0001"), await Student.get(student_number="T0002")
    klass = await SchoolClass.get(name="七年级(1)班")
    other_class = await SchoolClass.create(school=school, grade=8, name="八年级(3)班", school_year="2026-2027")
    elsewhere = await Student.create(school=school, klass=other_class, student_number="T0301", name="宋雨桐", gender="女")
    teacher = await User.create(school=school, username="banzhuren", display_name="班主任", roles=["homeroom_teacher"],
                                password_hash=light_password_hash(PASSWORD))
    await teacher.classes.add(klass)
    for student, level, day, owner in ((first, 2, "2025-10-28", "李华"), (second, 0, "2025-09-15", "王芳"),
                                       (elsewhere, 2, "2025-11-02", "赵敏")):
        data = {**example("attention_ledger"), "level": level, "included_on": day, "owner": owner}
        data.pop("released_on")
        await create_record(ledger, school, admin, data, [student])
    for n in range(extra_records):
        data = {**example("attention_ledger"), "level": 1, "included_on": f"2026-01-{n % 28 + 1:02d}", "owner": f"教师{n:02d}"}
        await create_record(ledger, school, admin, data, [elsewhere])
    return {"students": [first.id, second.id, elsewhere.id]}


def pdf_pages(content: bytes, tmp_path: Path) -> list[str]:
    pdf = tmp_path / "ledger.pdf"
    pdf.write_bytes(content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [page for page in text.split("\f") if page.strip()]


def test_the_ledger_prints_many_records_on_one_page_in_date_order(logged_in, tmp_path):
    world = logged_in
    world.run(seed_ledger)
    response = world.client.get("/forms/attention_ledger/ledger.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pages = pdf_pages(response.content, tmp_path)
    assert len(pages) == 1
    page = pages[0]
    assert "学生心理健康动态关注台账" in page and "测试实验学校" in page and "纳入日期" in page
    names = [page.index(name) for name in ("周明轩", "林小雨", "宋雨桐")]
    assert names == sorted(names)  # oldest first by 纳入日期
    numbers = re.findall(r"^\s*(\d+)\s+\S", page, re.M)
    assert numbers[:3] == ["1", "2", "3"] and "4" not in numbers  # a row per record, no blank rows
    assert "共 3 条记录" in page

    # the single record's print is unchanged: one row and ruled rows for the paper ledger
    assert world.client.get("/forms/attention_ledger").text.count("ledger.pdf") == 1


def test_the_ledger_is_filtered_and_searched_as_the_list_is(logged_in, tmp_path):
    world = logged_in
    world.run(seed_ledger)
    page = pdf_pages(world.client.get("/forms/attention_ledger/ledger.pdf", params={"f.level": "2"}).content, tmp_path)[0]
    assert "林小雨" in page and "宋雨桐" in page and "周明轩" not in page
    assert "关注等级：重点关注" in page
    page = pdf_pages(world.client.get("/forms/attention_ledger/ledger.pdf", params={"q": "宋雨桐"}).content, tmp_path)[0]
    assert "宋雨桐" in page and "林小雨" not in page and "周明轩" not in page
    page = pdf_pages(world.client.get("/forms/attention_ledger/ledger.pdf",
                                      params={"from.included_on": "2025-10-01", "to.included_on": "2025-10-31"}).content, tmp_path)[0]
    assert "林小雨" in page and "宋雨桐" not in page and "周明轩" not in page

    # the list links the ledger with its own filters
    listing = world.client.get("/forms/attention_ledger", params={"f.level": "2", "q": "林"}).text
    link = re.search(r'href="(/forms/attention_ledger/ledger\.pdf[^"]*)"', listing)
    assert link and "f.level=2" in link.group(1) and "q=" in link.group(1)
    assert "打印台账" in listing


def test_a_homeroom_teacher_prints_their_class_only_and_every_print_is_audited(logged_in, tmp_path):
    world = logged_in
    world.run(seed_ledger)
    world.client.cookies.clear()
    world.login("banzhuren")
    response = world.client.get("/forms/attention_ledger/ledger.pdf", params={"f.level": "2"})
    assert response.status_code == 200
    page = pdf_pages(response.content, tmp_path)[0]
    assert "林小雨" in page and "宋雨桐" not in page

    async def entries() -> list:
        from server.models import AuditEntry

        return await AuditEntry.filter(action="print", target="form:attention_ledger").values_list("detail", flat=True)
    details = world.run(entries)
    assert any("ledger" in d and "filter:level" in d for d in details)
    assert not any("2" == d.split()[-1] for d in details)  # filter values are not stored, only their names


def test_a_long_ledger_continues_across_pages_under_its_headings(logged_in, tmp_path):
    world = logged_in
    world.run(seed_ledger, 40)
    pages = pdf_pages(world.client.get("/forms/attention_ledger/ledger.pdf").content, tmp_path)
    assert len(pages) >= 2
    for page in pages:
        assert "纳入日期" in page and "关注等级" in page  # the headings on every page
    text = "\n".join(pages)
    assert all(f"教师{n:02d}" in text for n in range(40))


def test_only_ledger_forms_print_as_a_ledger(logged_in):
    world = logged_in
    assert world.client.get("/forms/individual_counseling/ledger.pdf").status_code == 404
    assert "ledger.pdf" not in world.client.get("/forms/individual_counseling").text
    for form_id in ("honors", "counseling_appointment"):
        assert world.client.get(f"/forms/{form_id}/ledger.pdf").status_code == 200
    ledgers = {d.form_id for d in shipped_registry().forms.values() if d.ledger_block}
    assert ledgers == {"attention_ledger", "honors", "counseling_appointment"}


def test_a_students_ledger_records_print_as_one_ledger_in_the_file(logged_in, tmp_path):
    from server.records import create_record

    world = logged_in
    ids = world.run(seed_ledger)

    async def second_record() -> None:
        from server.models import School, Student, User

        data = {**example("attention_ledger"), "level": 1, "included_on": "2026-03-25", "owner": "吴复"}
        await create_record(shipped_registry().get("attention_ledger"), await School.get(code="t1"), await User.get(username="admin"),
                            data, [await Student.get(id=ids["students"][0])])
    world.run(second_record)
    pages = pdf_pages(world.client.get(f"/students/{ids['students'][0]}/archive.pdf").content, tmp_path)
    title = shipped_registry().get("attention_ledger").title
    ledger_pages = [p for p in pages[2:] if title in p]
    assert len(ledger_pages) == 1  # one ledger, not a page with one row and blank rows per record
    page = ledger_pages[0]
    assert page.index("李华") < page.index("吴复")  # both records' rows, oldest first
    assert "共 2 条记录" in re.sub(r"\s+", " ", pages[1])  # the contents list the ledger with its records' count
