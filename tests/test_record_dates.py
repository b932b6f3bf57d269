"""The date a record is about (`x-record-date`): two counselling records typed on the same day show their
sessions' dates in the student's file, its timeline order and the archive's contents; a form that declares
no such date shows its save date, marked as one; the checks refuse a declaration that names no date field."""

from __future__ import annotations

import copy
import re
import subprocess

from _formdata import assert_chinese, example, shipped_registry


async def seed_two_sessions() -> dict:
    from server.models import School, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    admin = await User.get(username="admin")
    registry = shipped_registry()
    student = await Student.get(student_number="T0001")
    ids = {}
    for day in ("2025-11-03", "2024-09-16"):  # the later session typed first, the earlier one second
        data = copy.deepcopy(example("individual_counseling"))
        data["opened_on"] = day
        ids[day] = (await create_record(registry.get("individual_counseling"), school, admin, data, [student])).id
    summary = await create_record(registry.get("growth_summary"), school, admin, example("growth_summary"), [student])
    return {"student": student.id, "sessions": ids, "summary": summary.id}


def test_every_shipped_form_with_a_date_declares_it():
    for definition in shipped_registry().forms.values():
        if definition.record_date_field:
            assert definition.fields[definition.record_date_field].schema.get("format") == "date"
    declared = {d.form_id: d.record_date_field for d in shipped_registry().forms.values()}
    assert declared["individual_counseling"] == "opened_on" and declared["classroom_observation"] == "started_on"
    assert declared["attention_ledger"] == "included_on" and declared["scale_mhrsp"] == "rated_on"


def test_the_file_shows_and_orders_by_the_date_a_record_is_about(logged_in):
    world = logged_in
    ids = world.run(seed_two_sessions)
    page = world.client.get(f"/students/{ids['student']}").text
    row = page[page.index(shipped_registry().get("individual_counseling").title):]
    row = row[:row.index("</tr>")]
    # newest session first, each by its own date, not by the day both were typed
    assert re.search(r"2025/11/3.*2024/9/16", row, re.S), row
    assert "保存日期" not in row
    summary = page[page.index(f'href="/records/{ids["summary"]}"'):]
    assert "保存日期" in summary[:summary.index("</a>")]  # no declared date: the save date, marked

    timeline = world.client.get(f"/students/{ids['student']}", params={"view": "timeline"}).text
    sessions = [timeline.index(f'href="/records/{ids["sessions"][day]}"') for day in ("2025-11-03", "2024-09-16")]
    summary_at = timeline.index(f'href="/records/{ids["summary"]}"')
    assert summary_at < sessions[0] < sessions[1]  # saved today, it is the newest; then the sessions by their dates
    assert "2024/9/16" in timeline and "2025/11/3" in timeline


def test_the_archive_contents_show_the_date_a_record_is_about(logged_in, tmp_path):
    world = logged_in
    ids = world.run(seed_two_sessions)
    response = world.client.get(f"/students/{ids['student']}/archive.pdf")
    assert response.status_code == 200
    pdf = tmp_path / "archive.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    contents = text.split("\f")[1]
    squashed = re.sub(r"\s+", "", contents)
    first, second = squashed.index("2024年9月16日"), squashed.index("2025年11月3日")
    assert first < second  # oldest first within the form, by the session's date
    assert "保存于" in squashed  # the summary's save date, marked as such
    # each record's own page carries the same label
    assert "2024年9月16日" in re.sub(r"\s+", "", text.split("\f", 2)[2])


def test_the_checks_refuse_a_record_date_that_is_not_a_date_field():
    from server.checks import check_definition

    definition = shipped_registry().get("individual_counseling")
    for wrong in ("counselor", "no_such_field", "sessions", 3):
        schema = copy.deepcopy(definition.schema)
        schema["x-record-date"] = wrong
        problems = [p for p in check_definition("individual_counseling", schema, definition.layout) if p.pointer == "/x-record-date"]
        assert len(problems) == 1, wrong
        assert_chinese(problems[0].message)
