"""The student picker in a real browser at a real school's size (`xindang init --demo --students 2000`):
a 心理教师 types part of a name, picks the student, adds a whole class to a group record, removes a chip and
saves; the record lists its students. A 班主任 finds only the own class, on a phone too. Every control of
the picker has an accessible name. Debian's Chromium via Playwright; skipped without /usr/bin/chromium."""

from __future__ import annotations

import re
import sqlite3

import pytest

from _server import demo_server
from test_browser import CHROMIUM, chromium, new_page, screenshot_on_failure

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def big_school(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium (/usr/bin/chromium) is not installed")
    tmp = tmp_path_factory.mktemp("picker")
    with demo_server(tmp, ["init", "--demo", "--students", "2000", "--admin-user", "admin", "--admin-password", "picker pw 1"],
                     timeout=180) as base:
        database = sqlite3.connect(tmp / "data" / "xindang.sqlite3")
        try:
            assert database.execute("SELECT count(*) FROM student WHERE left_on IS NULL").fetchone()[0] == 2000  # and the 7.2 examples' leavers
            yield {"base": base, "tmp": tmp, "db": database, "password": (tmp / "data" / "demo-password.txt").read_text().strip()}
        finally:
            database.close()


def sign_in(page, school: dict, username: str) -> None:
    page.goto(school["base"] + "/login")
    page.fill("#username", username)
    page.fill("#password", school["password"])
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def unnamed_controls(page) -> list[str]:
    """Inputs, selects and buttons of the picker that have no accessible name."""
    return page.evaluate("""() => [...document.querySelectorAll('.student-pick input:not([type=hidden]), .student-pick select, .student-pick button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !(el.textContent || '').trim())
        .map(el => el.outerHTML.slice(0, 120))""")


def test_a_psychology_teacher_builds_a_group_from_2000_students(big_school):
    from playwright.sync_api import expect

    school, tmp = big_school, big_school["tmp"]
    name, number, class_name = school["db"].execute(
        "SELECT s.name, s.student_number, c.name FROM student s JOIN school_class c ON c.id = s.klass_id "
        "WHERE c.grade = 8 ORDER BY s.id LIMIT 1").fetchone()
    whole_class = "七年级(2)班"
    class_size = school["db"].execute("SELECT count(*) FROM student s JOIN school_class c ON c.id = s.klass_id WHERE c.name = ?",
                                      (whole_class,)).fetchone()[0]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 1400)
        with screenshot_on_failure(page, tmp / "picker-failure.png"):
            sign_in(page, school, "xinli")
            page.goto(school["base"] + "/forms/group_counseling/new")
            search = page.get_by_role("searchbox", name="按姓名、学籍号或班级查找学生")
            # part of a name: the suggestions come as one types (htmx), the student among them
            search.press_sequentially(name[:2], delay=60)
            expect(page.locator("#student-suggestions button.suggestion", has_text=number)).to_be_visible()
            page.screenshot(path=str(tmp / "picker-suggestions.png"))
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/group_counseling")):
                page.locator("#student-suggestions button.suggestion", has_text=number).click()
            chips = page.locator(".student-pick .chip")
            expect(chips).to_have_count(1)
            expect(chips.first).to_contain_text(name)
            # a whole class in one step
            page.get_by_role("searchbox", name="按姓名、学籍号或班级查找学生").fill("七年级(2")
            whole = page.locator("#student-suggestions button.whole-class", has_text=whole_class)
            expect(whole).to_be_visible()
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/group_counseling")):
                whole.click()
            expect(chips).to_have_count(1 + class_size)
            expect(page.locator(".student-pick")).to_contain_text(f"已加入{whole_class}的 {class_size} 名学生")
            # the form's 成员参与情况 got a row per student, name and class filled in
            assert page.input_value("#f-members-0-name") == name
            assert page.input_value("#f-members-1-class_name") == whole_class
            # removing a chip (and its untouched row)
            removed = chips.nth(1).locator("span").inner_text().split()[-1].split("（")[0]
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/group_counseling")):
                page.get_by_role("button", name=f"移除{removed}").first.click()
            expect(chips).to_have_count(class_size)
            assert not unnamed_controls(page), unnamed_controls(page)
            page.screenshot(path=str(tmp / "picker-chips.png"), full_page=True)
            # the rest of the form, and save
            page.fill("#f-group_name", "“做情绪的小主人”成长小组")
            page.locator("#f-theme").select_option("情绪管理") if page.locator("select#f-theme").count() else \
                page.check("input[name='theme'][value='情绪管理']")
            page.fill("#f-leader", "李老师")
            page.fill("#f-members-0-attended", "4")
            with page.expect_navigation(url=re.compile(r"/records/\d+")):
                page.click("button[name='_action'][value='save']")
            linked = page.locator(".linked-students")
            expect(linked).to_contain_text(f"参与学生（{class_size}名学生）")
            expect(linked).to_contain_text(name)
            expect(linked.locator("tbody tr").first).to_contain_text(name)  # in the order of the form's table
            expect(linked.locator("tbody tr").first.locator("td").last).to_have_text("4")  # its 出勤次数
            assert removed not in linked.inner_text()
            page.screenshot(path=str(tmp / "picker-saved.png"), full_page=True)
        assert not problems, problems


def test_a_homeroom_teacher_on_a_phone_finds_only_the_own_class(big_school):
    from playwright.sync_api import expect

    school, tmp = big_school, big_school["tmp"]
    own = school["db"].execute("SELECT c.id, c.name FROM app_user u JOIN user_class uc ON uc.app_user_id = u.id "
                               "JOIN school_class c ON c.id = uc.schoolclass_id WHERE u.username = 'banzhuren3'").fetchone()
    assert own[1] == "七年级(1)班"
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 390, 844, is_mobile=True, has_touch=True)
        with screenshot_on_failure(page, tmp / "phone-failure.png"):
            sign_in(page, school, "banzhuren3")
            page.goto(school["base"] + "/forms/classroom_observation/new")
            search = page.get_by_role("searchbox", name="按姓名、学籍号或班级查找学生")
            search.fill("年级")
            found = page.locator("#student-suggestions button.suggestion")
            expect(found.first).to_be_visible()
            texts = found.all_inner_texts()
            assert texts and all(t.startswith("七年级(1)班") for t in texts), texts
            expect(page.locator("#student-suggestions")).to_contain_text("只显示前 20 名")
            # nothing sticks out of the phone's width
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert not unnamed_controls(page), unnamed_controls(page)
            page.screenshot(path=str(tmp / "phone-picker.png"), full_page=False)
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/classroom_observation")):
                found.first.tap()
            expect(page.locator(".student-pick .chip")).to_have_count(1)
            page.screenshot(path=str(tmp / "phone-chosen.png"), full_page=False)
        assert not problems, problems


def test_without_javascript_the_picker_works_by_plain_posts(big_school):
    from playwright.sync_api import expect

    school, tmp = big_school, big_school["tmp"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 1200, java_script_enabled=False)
        with screenshot_on_failure(page, tmp / "nojs-failure.png"):
            sign_in(page, school, "xinli")
            page.goto(school["base"] + "/forms/theme_activity/new")
            page.fill("#f-_student_q", "五年级(1")
            with page.expect_navigation():
                page.get_by_role("button", name="查找").click()
            whole = page.locator("button.whole-class", has_text="五年级(1)班")
            expect(whole).to_be_visible()
            with page.expect_navigation():
                whole.click()
            chips = page.locator(".student-pick .chip")
            count = chips.count()
            assert count >= 40, count
            first = chips.first.locator("span").inner_text().split()[-1].split("（")[0]
            with page.expect_navigation():
                page.get_by_role("button", name=f"移除{first}").first.click()
            expect(chips).to_have_count(count - 1)
            page.screenshot(path=str(tmp / "nojs-chips.png"))
        assert not problems, problems
