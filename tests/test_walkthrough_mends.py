"""What the walk-through of the merged work found: a stored time shown on the day it was there (not the UTC
day), export links only for those who may export, and the once-per-student warning where the student is
chosen, before the form."""

from __future__ import annotations

import datetime as dt

from conftest import PASSWORD, light_password_hash
from _formdata import definition, example


def test_a_stored_time_is_dated_by_the_schools_day():
    from renderers.environment import fmt_date
    from server.i18n import current_locale

    token = current_locale.set("zh_Hans_CN")
    try:
        late_utc = dt.datetime(2026, 12, 4, 16, 55)  # the database's naive UTC: 00:55 on the 5th in Beijing
        assert fmt_date(late_utc, "short") == fmt_date(dt.date(2026, 12, 5), "short")
        assert fmt_date(dt.date(2026, 12, 4), "short") != fmt_date(dt.date(2026, 12, 5), "short")
    finally:
        current_locale.reset(token)


async def homeroom_teacher() -> None:
    from server.models import School, SchoolClass, User

    school = await School.get(code="t1")
    user = await User.create(school=school, username="bzr", display_name="班主任", password_hash=light_password_hash(PASSWORD),
                             roles=["homeroom_teacher"])
    await user.classes.add(await SchoolClass.get(school=school, name="七年级(1)班"))


def test_export_links_only_for_roles_that_may_export(world):
    world.run(homeroom_teacher)
    world.login("bzr")
    listed = world.client.get("/forms/classroom_observation").text
    assert "format=csv" not in listed and "format=xlsx" not in listed and "/forms/classroom_observation/new" in listed
    assert world.client.get("/forms/classroom_observation", params={"format": "csv"}).status_code == 403
    world.client.cookies.clear()
    world.login()
    assert "format=xlsx" in world.client.get("/forms/classroom_observation").text


def test_the_once_per_student_warning_comes_before_the_form(logged_in):
    world = logged_in
    assert definition("registration").schema.get("x-once-per-student") is True
    student = world.student_ids[0]

    async def stored() -> None:
        from server.models import School, Student, User
        from server.records import create_record

        await create_record(definition("registration"), await School.get(code="t1"), await User.get(username="admin"),
                            example("registration"), [await Student.get(id=student)])
    world.run(stored)
    page = world.client.get("/forms/registration/new", params={"student": student}).text
    assert "duplicate-warning" in page
    assert page.index("duplicate-warning") < page.index('id="f-established_on"')
