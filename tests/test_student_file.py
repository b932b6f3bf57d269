"""The student's file page: every readable record by the handbook's parts and as a timeline, form states,
the current level, and nothing a role may not read listed or counted."""

from __future__ import annotations

from _formdata import CJK, example, shipped_registry
from conftest import PASSWORD, light_password_hash


async def seed_file() -> dict:
    from server.models import School, SchoolClass, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    registry = shipped_registry()
    student = await Student.get(student_number="T0001")
    klass = await SchoolClass.get(name="七年级(1)班")
    teacher = await User.create(school=school, username="banzhuren", display_name="班主任", roles=["homeroom_teacher"],
                                password_hash=light_password_hash(PASSWORD))
    await teacher.classes.add(klass)
    other_class = await SchoolClass.create(school=school, grade=7, name="七年级(2)班", school_year="2026-2027")
    elsewhere = await Student.create(school=school, klass=other_class, student_number="T0077", name="别班学生", gender="男")
    records = {}
    for form_id, extra in (("registration", {}), ("attention_ledger", {"level": 2}), ("referral", {}),
                           ("individual_counseling", {})):
        data = {**example(form_id), **extra}
        records[form_id] = (await create_record(registry.get(form_id), school, admin, data, [student])).id
    return {"student": student.id, "elsewhere": elsewhere.id, "records": records}


def test_the_psychology_teacher_sees_the_whole_file_in_handbook_order(logged_in):
    world = logged_in
    ids = world.run(seed_file)
    page = world.client.get(f"/students/{ids['student']}")
    assert page.status_code == 200
    text = page.text
    assert "林小雨" in text and "T0001" in text and "重点关注" in text  # the current level, from the ledger
    titles = [shipped_registry().get(f).title for f in ("registration", "attention_ledger", "individual_counseling", "referral")]
    body = text[text.index("</header>", text.index("student-header")):]
    positions = [body.index(t) for t in titles]
    assert positions == sorted(positions)  # the handbook's order
    for record_id in ids["records"].values():
        assert f'href="/records/{record_id}"' in text
    assert "缺" in text  # the screening consent expected each year is missing
    assert f'/forms/screening_consent/new?student={ids["student"]}' in text
    timeline = world.client.get(f"/students/{ids['student']}", params={"view": "timeline"}).text
    assert all(f'href="/records/{r}"' in timeline for r in ids["records"].values())


def test_a_homeroom_teacher_sees_neither_nor_counts_what_their_role_may_not_read(logged_in):
    world = logged_in
    ids = world.run(seed_file)
    world.client.cookies.clear()
    world.login("banzhuren")
    text = world.client.get(f"/students/{ids['student']}").text
    counseling = shipped_registry().get("individual_counseling").title
    assert counseling not in text and f'/records/{ids["records"]["individual_counseling"]}"' not in text
    assert f'/records/{ids["records"]["registration"]}"' in text
    assert world.client.get(f"/students/{ids['elsewhere']}").status_code == 404  # another class
    assert world.client.get(f"/students/{world.other_school_student_id}").status_code == 404  # another school
    assert world.client.get("/students/99999999999").status_code in (400, 404)


def test_every_opening_of_a_file_is_audited(logged_in):
    world = logged_in
    ids = world.run(seed_file)
    world.client.get(f"/students/{ids['student']}")

    async def entries() -> list:
        from server.models import AuditEntry

        return await AuditEntry.filter(target=f"student:{ids['student']}", action="read").values_list("detail", flat=True)
    assert "file" in world.run(entries)
    assert CJK.search(world.client.get(f"/students/{ids['elsewhere'] + 1000}").text)


def test_the_archive_pdf_binds_the_whole_file_with_contents_header_and_outline(logged_in):
    import io
    import re

    from pypdf import PdfReader

    world = logged_in
    ids = world.run(seed_file)
    response = world.client.get(f"/students/{ids['student']}/archive.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    pages = [page.extract_text() for page in reader.pages]
    for text in pages[1:]:  # the running header on every page after the cover
        assert "林小雨" in text and "T0001" in text and "保密" in text, text[:200]
    contents = pages[1]
    registry = shipped_registry()
    titles = {f: registry.get(f).title for f in ("registration", "attention_ledger", "individual_counseling", "referral")}
    for form_id, title in titles.items():
        listed = re.search(re.escape(title) + r"（[^）]*）\s*\.*\s*(\d+)", contents)
        assert listed, (title, contents[:800])
        page = int(listed.group(1))
        assert title in pages[page - 1] and contents is not pages[page - 1], (form_id, page)  # the number is the real page
    outline = [item.title if not isinstance(item, list) else "" for item in reader.outline]
    assert any(registry.parts[0].title == t for t in outline)
    assert reader.pages[-1].extract_text().strip()  # nothing blank at the end


def test_the_archive_leaves_out_what_the_role_may_not_print(logged_in):
    import io

    from pypdf import PdfReader

    world = logged_in
    ids = world.run(seed_file)
    world.client.cookies.clear()
    world.login("banzhuren")
    response = world.client.get(f"/students/{ids['student']}/archive.pdf")
    assert response.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert shipped_registry().get("individual_counseling").title not in text
    assert world.client.get(f"/students/{ids['elsewhere']}/archive.pdf").status_code == 404

    async def printed() -> list:
        from server.models import AuditEntry

        return await AuditEntry.filter(target=f"student:{ids['student']}", action="print").values_list("detail", flat=True)
    assert any(d.startswith("archive") for d in world.run(printed))
