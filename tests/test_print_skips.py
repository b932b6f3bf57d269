"""Batch printing says whom it left out and why (a sealed file, nothing this user may print), and a print withdrawn
because a file in it was sealed says so instead of 「已删除（过期）」."""

from __future__ import annotations

from test_batch_print import seed_class, start, wait_for
from test_disposal import decide, seed


def test_a_batch_print_names_the_students_it_left_out_and_why(logged_in):
    world = logged_in
    ids = world.run(seed_class)

    async def one_sealed_one_empty() -> dict:
        from server.models import SchoolClass, Student

        klass = await SchoolClass.get(id=ids["class"])
        empty = await Student.create(school_id=klass.school_id, klass=klass, student_number="T0009", name="赵一诺", gender="女")
        await Student.filter(id=ids["students"][1]).update(file_state="sealed")
        return {"empty": empty.id}
    world.run(one_sealed_one_empty)
    job_id = start(world, **{"class": ids["class"], "scope": "class", "bundle": "pdf"})
    fragment = wait_for(world, job_id)
    assert "2 名学生已略过" in fragment or "2 名学生" in fragment, fragment
    assert "周明轩（七年级(1)班 T0002）：档案已封存" in fragment, fragment
    assert "赵一诺（七年级(1)班 T0009）：没有您可以打印的记录" in fragment, fragment
    assert "林小雨" not in fragment.split("skipped-students")[1]  # the printed one is not listed as left out


def test_a_print_withdrawn_because_a_file_was_sealed_says_so(logged_in):
    world = logged_in
    ids = world.run(seed, "封存")
    job_id = start(world, **{"class": world.run(class_of, ids["student"]), "scope": "chosen", "students": [str(ids["student"])],
                             "bundle": "pdf"})
    assert "下载" in wait_for(world, job_id)
    decide(world, ids)  # the file is sealed: the printed copy goes
    world.client.cookies.clear()
    world.login()
    listing = world.client.get("/prints/").text
    assert "已撤回（学生档案已封存）" in listing and "已删除" not in listing
    page = world.client.get(f"/prints/{job_id}").text
    assert "已撤回（学生档案已封存）" in page and "过期" not in page
    assert world.client.get(f"/prints/{job_id}/download").status_code == 404


async def class_of(student_id: int) -> int:
    from server.models import Student

    return (await Student.get(id=student_id)).klass_id
