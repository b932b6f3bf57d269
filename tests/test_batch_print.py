"""Batch printing: a class's files as one PDF or a ZIP, made in the background on worker processes,
followed by htmx polling, kept for its owner alone and deleted when it expires; the same from the CLI."""

from __future__ import annotations

import io
import os
import time
import zipfile

from click.testing import CliRunner
from pypdf import PdfReader

from _formdata import CJK, example, shipped_registry
from conftest import PASSWORD, light_password_hash
from server.cli import main as cli


async def seed_class() -> dict:
    """Class 1's two students with records (one has a counselling record), a 班主任 of class 1 and a colleague."""
    from server.models import School, SchoolClass, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    registry = shipped_registry()
    klass = await SchoolClass.get(name="七年级(1)班")
    first, second = await Student.filter(klass=klass).order_by("student_number")
    for student in (first, second):
        for form_id in ("registration", "attention_ledger"):
            await create_record(registry.get(form_id), school, admin, example(form_id), [student])
    await create_record(registry.get("individual_counseling"), school, admin, example("individual_counseling"), [first])
    teacher = await User.create(school=school, username="banzhuren", display_name="班主任", roles=["homeroom_teacher"],
                                password_hash=light_password_hash(PASSWORD))
    await teacher.classes.add(klass)
    await User.create(school=school, username="xinli", display_name="心理老师", roles=["psych_teacher"],
                      password_hash=light_password_hash(PASSWORD))
    other = await SchoolClass.create(school=school, grade=7, name="七年级(2)班", school_year="2026-2027")
    return {"class": klass.id, "other_class": other.id, "students": [first.id, second.id]}


def start(world, **fields) -> int:
    response = world.client.post("/prints/", data={"_csrf_token": world.csrf(), **fields}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def wait_for(world, job_id: int, limit: float = 180) -> str:
    """Poll the progress fragment the way the page does, until it stops asking to be polled."""
    deadline = time.monotonic() + limit
    seen = []
    while time.monotonic() < deadline:
        fragment = world.client.get(f"/prints/{job_id}", headers={"hx-request": "true"})
        assert fragment.status_code == 200
        seen.append(fragment.text)
        if 'hx-trigger="every 1s"' not in fragment.text:
            return fragment.text
        assert "<progress" in fragment.text
        time.sleep(0.3)
    raise AssertionError("the print job did not finish: " + seen[-1][:300])


def job_row(world, job_id: int):
    async def get():
        from server.models import PrintJob

        return await PrintJob.get(id=job_id)
    return world.run(get)


def test_a_whole_class_prints_as_one_pdf_with_progress_and_the_right_page_total(logged_in):
    world = logged_in
    ids = world.run(seed_class)
    page = world.client.get("/students/", params={"class": ids["class"]})
    assert page.status_code == 200 and "林小雨" in page.text and 'name="scope" value="class"' in page.text
    job_id = start(world, **{"class": ids["class"], "scope": "class", "bundle": "pdf"})
    first_look = world.client.get(f"/prints/{job_id}")
    assert first_look.status_code == 200 and "print-progress" in first_look.text
    final = wait_for(world, job_id)
    assert "/download" in final and "2" in final
    job = job_row(world, job_id)
    assert (job.status, job.done, job.total) == ("done", 2, 2)
    single = [len(PdfReader(io.BytesIO(world.client.get(f"/students/{s}/archive.pdf").content)).pages) for s in ids["students"]]
    download = world.client.get(f"/prints/{job_id}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert "attachment" in download.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(download.content))
    assert len(reader.pages) == job.pages == sum(single)  # each file whole, nothing lost or doubled
    text = [p.extract_text() for p in reader.pages]
    assert "林小雨" in text[0] and "周明轩" in text[single[0]]  # the second file starts after the first
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert titles == ["林小雨（T0001）", "周明轩（T0002）"]
    assert isinstance(reader.outline[1], list)  # each student's own outline kept beneath their name
    path = world.settings.data_dir / "prints" / f"job-{job_id}.pdf"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not (world.settings.data_dir / "prints" / f"job-{job_id}").exists()  # the parts are gone

    async def audited() -> list:
        from server.models import AuditEntry

        return await AuditEntry.filter(action__in=("print", "download")).values_list("action", "target", "detail")
    entries = world.run(audited)
    for student_id in ids["students"]:
        assert any(a == "print" and t == f"student:{student_id}" and d.startswith(f"batch {job_id}") for a, t, d in entries)
    assert ("download", f"print-job:{job_id}") in [(a, t) for a, t, _d in entries]
    listing = world.client.get("/prints/")
    assert f"/prints/{job_id}/download" in listing.text


def test_one_form_for_chosen_students_as_a_zip_leaves_out_the_rest(logged_in):
    world = logged_in
    ids = world.run(seed_class)
    world.client.cookies.clear()
    world.login("banzhuren")  # reads registrations, not counselling records
    job_id = start(world, **{"class": ids["class"], "scope": "chosen", "students": [str(ids["students"][0])],
                             "form": "registration", "bundle": "zip"})
    wait_for(world, job_id)
    download = world.client.get(f"/prints/{job_id}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(download.content))
    assert bundle.namelist() == ["T0001-林小雨.pdf"]
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(bundle.read("T0001-林小雨.pdf"))).pages)
    registry = shipped_registry()
    assert registry.get("registration").title in text and "林小雨" in text
    assert "目录" not in text and registry.get("individual_counseling").title not in text  # no cover, one form only
    # a form this role may not print, a class it does not reach, nothing ticked: refused, in Chinese
    refused = world.client.post("/prints/", data={"_csrf_token": world.csrf(), "class": ids["class"], "scope": "class",
                                                  "form": "individual_counseling", "bundle": "pdf"})
    assert refused.status_code == 422 and CJK.search(refused.text)
    assert world.client.post("/prints/", data={"_csrf_token": world.csrf(), "class": ids["other_class"], "scope": "class"}).status_code == 404
    nothing = world.client.post("/prints/", data={"_csrf_token": world.csrf(), "class": ids["class"], "scope": "chosen"})
    assert nothing.status_code == 422 and "勾选" in nothing.text


def test_a_print_is_its_owners_alone_and_is_deleted_when_it_expires(logged_in):
    world = logged_in
    ids = world.run(seed_class)
    job_id = start(world, **{"class": ids["class"], "scope": "chosen", "students": [str(ids["students"][1])], "bundle": "pdf"})
    wait_for(world, job_id)
    world.client.cookies.clear()
    world.login("xinli")  # a colleague who may print the same files still does not get this one
    for url in (f"/prints/{job_id}", f"/prints/{job_id}/download"):
        response = world.client.get(url)
        assert response.status_code == 404 and "周明轩" not in response.text and CJK.search(response.text)
    assert world.client.post(f"/prints/{job_id}/delete", data={"_csrf_token": world.csrf()}).status_code == 404
    assert f"/prints/{job_id}" not in world.client.get("/prints/").text
    world.client.cookies.clear()
    world.login()
    path = world.settings.data_dir / "prints" / f"job-{job_id}.pdf"
    assert path.exists()

    async def expire() -> None:
        import datetime as dt

        from server.models import PrintJob

        await PrintJob.filter(id=job_id).update(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1))
    world.run(expire)
    assert "已删除" in world.client.get("/prints/").text  # listing sweeps
    assert not path.exists() and world.client.get(f"/prints/{job_id}/download").status_code == 404
    assert job_row(world, job_id).status == "expired"


def test_jobs_whose_server_stopped_say_so_and_leave_nothing_behind(logged_in):
    world = logged_in

    async def interrupted() -> tuple[str, str, bool]:
        from server.batch_print import PrintRunner, prints_dir
        from server.models import PrintJob, School, User

        import datetime as dt

        job = await PrintJob.create(school=await School.get(code="t1"), owner=await User.get(username="admin"), title="七年级(1)班",
                                    student_ids=[1], status="running", total=1)
        alive = await PrintJob.create(school=await School.get(code="t1"), owner=await User.get(username="admin"), title="七年级(1)班",
                                      student_ids=[1], status="running", total=1)  # another server process's, with a heartbeat
        await PrintJob.filter(id=job.id).update(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10))
        leftover = prints_dir(world.settings) / f"job-{job.id}"
        leftover.mkdir()
        (leftover / "0000.pdf").write_bytes(b"%PDF-")
        stray = prints_dir(world.settings) / "job-999999.zip"
        stray.write_bytes(b"PK")
        runner = PrintRunner(world.settings, shipped_registry(), workers=1)
        await runner.open()
        await runner.close()
        job = await PrintJob.get(id=job.id)
        return job.status, job.error, leftover.exists() or stray.exists(), (await PrintJob.get(id=alive.id)).status
    status, error, left, other = world.run(interrupted)
    assert status == "failed" and "重启" in error and not left
    assert other == "running"  # a job that keeps its heartbeat is left alone


def test_print_class_command_writes_a_pdf_or_a_zip(tmp_path):
    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--demo", "--admin-password", "Long-enough-9"], env=env)
    assert result.exit_code == 0, result.output

    students = runner.invoke(cli, ["print", "--class", "3", "--students", "x", "-o", str(tmp_path / "a.pdf")], env=env)
    assert students.exit_code == 2 and CJK.search(students.output)
    target = tmp_path / "七年级.zip"
    result = runner.invoke(cli, ["print", "--class", "3", "--students", "25,26,27", "--workers", "2", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    names = zipfile.ZipFile(target).namelist()
    assert len(names) <= 3 and all(name.endswith(".pdf") for name in names) and names
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    assert "2 个工作进程" in result.output.splitlines()[-1]  # workers reported
    one = tmp_path / "one.pdf"
    result = runner.invoke(cli, ["print", "--student", "25", "-o", str(one)], env=env)
    assert result.exit_code == 0, result.output
    assert PdfReader(str(one)).outline
    missing = runner.invoke(cli, ["print", "--class", "9999", "-o", str(tmp_path / "b.pdf")], env=env)
    assert missing.exit_code == 1 and CJK.search(missing.output) and not (tmp_path / "b.pdf").exists()
    assert not list((tmp_path / "data" / "prints").iterdir())  # the console keeps no copy
