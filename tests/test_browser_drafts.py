"""In real Chromium: typed work survives the end of a session, the page asks before unsaved changes are left,
and a half-filled record is saved as a 草稿 and finished later. As a 心理教师 on a desktop and as a 班主任 on a phone.

The session is ended for real: its row is deleted from the server's database (as the idle or absolute
timeout, or a logout on another computer, would end it)."""

from __future__ import annotations

import sqlite3

import pytest

from _server import demo_server
from test_browser import ADMIN_PASSWORD, CHROMIUM, chromium, new_page, screenshot_on_failure, sign_in

pytestmark = pytest.mark.browser

COMPLAINT = ("近两周每晚十二点后才能入睡，早上起不来，第一节课常趴在桌上。自述“脑子停不下来”，担心期中考试考不好会让妈妈失望。"
             "和同桌因为借文具的小事争执了两次，事后后悔。愿意每周来一次。") * 6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium (/usr/bin/chromium) is not installed")
    tmp = tmp_path_factory.mktemp("drafts")
    with demo_server(tmp, ["init", "--demo", "--admin-user", "admin", "--admin-password", ADMIN_PASSWORD],
                     ["user", "create", "psych", "--role", "psych_teacher", "--name", "心理老师", "--final-password", "--password", ADMIN_PASSWORD],
                     ["user", "create", "bzr", "--role", "homeroom_teacher", "--class", "1", "--name", "班主任", "--final-password",
                      "--password", ADMIN_PASSWORD]) as base:
        yield {"base": base, "tmp": tmp, "db": tmp / "data" / "xindang.sqlite3"}


def end_sessions(db) -> None:
    """The session ends on the server (its row goes, as an expired one does); the browser still holds its cookie."""
    with sqlite3.connect(db, timeout=10) as connection:
        connection.execute("DELETE FROM session_entry")


def kept_count(db) -> int:
    with sqlite3.connect(db, timeout=10) as connection:
        return connection.execute("SELECT count(*) FROM unsaved_post").fetchone()[0]


def choose_first_student(page, form_path: str) -> None:
    """The picker: part of a 学籍号 typed, the first suggestion chosen (one htmx round trip)."""
    page.fill("#f-_student_q", "DEMO0000")
    chosen = page.locator("#student-suggestions button.suggestion").first
    chosen.wait_for()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(form_path)):
        chosen.click()
    page.locator(".student-pick .chip").first.wait_for()


def test_typed_work_comes_back_after_the_session_ends_and_leaving_asks_first(server):
    from playwright.sync_api import expect

    base, tmp, db = server["base"], server["tmp"], server["db"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 1400)
        with screenshot_on_failure(page, tmp / "unsaved-failure.png"):
            sign_in(page, base, "psych")
            page.goto(base + "/forms/individual_counseling/new")
            dialogs: list[str] = []

            def answer(dialog) -> None:
                dialogs.append(dialog.type)
                dialog.dismiss()  # stay on the page

            page.on("dialog", answer)
            # an untouched form is left without a question
            page.click("a:has-text('取消')")
            page.wait_for_url("**/forms/individual_counseling")
            assert dialogs == []

            page.goto(base + "/forms/individual_counseling/new")
            choose_first_student(page, "/forms/individual_counseling")
            page.fill("#f-complaint", COMPLAINT)
            # leaving a changed form asks first (beforeunload); dismissed, the page and the typing stay
            page.click("a:has-text('取消')")
            page.wait_for_timeout(500)
            assert dialogs == ["beforeunload"]
            assert page.url.endswith("/forms/individual_counseling/new")
            assert page.input_value("#f-complaint") == COMPLAINT
            page.screenshot(path=str(tmp / "typed.png"), full_page=False)

            end_sessions(db)  # the teacher took longer than the session lasts
            page.click("button[value=save]")
            page.wait_for_url("**/login?**")
            expect(page.locator("p.flash")).to_contain_text("暂存")
            assert dialogs == ["beforeunload"]  # the kept save left without a question
            assert kept_count(db) == 1
            page.screenshot(path=str(tmp / "login-kept.png"), full_page=True)

            page.fill("#username", "psych")
            page.fill("#password", ADMIN_PASSWORD)
            with page.expect_navigation():
                page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url("**/forms/individual_counseling/new?**restore=**")
            assert page.input_value("#f-complaint") == COMPLAINT
            expect(page.locator("#record-form")).to_contain_text("已恢复")
            assert page.locator(".student-pick .chip input[name=_student]").count() == 1  # the student chosen again
            assert kept_count(db) == 0
            page.screenshot(path=str(tmp / "restored.png"), full_page=False)

            # the restored text is not saved yet: leaving asks
            page.click("a:has-text('取消')")
            page.wait_for_timeout(500)
            assert dialogs == ["beforeunload", "beforeunload"]

            # not everything is known yet: a 草稿; after saving, nothing asks
            page.click("button[value=draft]")
            page.wait_for_url("**/records/*?saved=1")
            expect(page.locator("p.flash").first).to_contain_text("草稿")
            assert dialogs == ["beforeunload", "beforeunload"]
            page.goto(base + "/forms/individual_counseling")
            expect(page.locator("span.status-draft").first).to_have_text("草稿")
            page.screenshot(path=str(tmp / "list-draft.png"), full_page=False)
        assert problems == []


def test_a_homeroom_teacher_on_a_phone_saves_a_draft_and_gets_typing_back(server):
    from playwright.sync_api import expect

    base, tmp, db = server["base"], server["tmp"], server["db"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 390, 844, is_mobile=True, has_touch=True)
        with screenshot_on_failure(page, tmp / "phone-failure.png"):
            sign_in(page, base, "bzr")
            page.goto(base + "/forms/classroom_observation/new")
            choose_first_student(page, "/forms/classroom_observation")
            page.fill("#f-plan", "每周一、三、五第二节课观察，记录举手与同伴互动。")
            page.click("button[value=draft]")  # 建表日期 and 观察缘由 are required, a 草稿 may skip them
            page.wait_for_url("**/records/*?saved=1")
            record_url = page.url.split("?")[0]
            page.screenshot(path=str(tmp / "phone-draft-saved.png"), full_page=True)

            page.goto(record_url + "/edit")
            expect(page.locator("button[value=save]")).to_have_text("完成并保存")
            page.fill("#f-plan", "每周一、三、五第二节课观察；周五与家长电话沟通一次。")
            end_sessions(db)
            page.click("button[value=save]")
            page.wait_for_url("**/login?**")
            page.screenshot(path=str(tmp / "phone-login-kept.png"), full_page=True)
            page.fill("#username", "bzr")
            page.fill("#password", ADMIN_PASSWORD)
            with page.expect_navigation():
                page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url("**/edit?restore=**")
            assert page.input_value("#f-plan") == "每周一、三、五第二节课观察；周五与家长电话沟通一次。"
            page.screenshot(path=str(tmp / "phone-restored.png"), full_page=True)
            # finishing asks for what is required
            page.click("button[value=save]")
            expect(page.locator(".error-summary")).to_be_visible()
            page.fill("#f-started_on", "2026-03-02")
            page.select_option("#f-reason", "日常发现") if page.locator("select#f-reason").count() else \
                page.check("input[name='reason'][value='日常发现']")
            page.click("button[value=save]")
            page.wait_for_url("**/records/*?saved=1")
            expect(page.locator(".status-draft")).to_have_count(0)
            page.screenshot(path=str(tmp / "phone-finished.png"), full_page=True)
        assert problems == []


def test_typing_keeps_the_session_alive_at_most_every_few_minutes(server):
    base, tmp = server["base"], server["tmp"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 900)
        with screenshot_on_failure(page, tmp / "keepalive-failure.png"):
            sign_in(page, base, "psych")
            page.clock.install()
            page.goto(base + "/forms/individual_counseling/new")
            pings: list[int] = []
            page.on("response", lambda r: pings.append(r.status) if r.url.endswith("/session/keepalive") else None)
            page.fill("#f-complaint", "刚开始写。")
            page.wait_for_timeout(300)
            assert pings == []  # the page was just loaded: no request yet
            page.clock.fast_forward("10:00")  # ten quiet minutes: nothing is sent without typing
            page.wait_for_timeout(300)
            assert pings == []
            with page.expect_response(lambda r: r.url.endswith("/session/keepalive")) as answer:
                page.type("#f-complaint", "又想起一点")
            assert answer.value.status == 200 and 0 < answer.value.json()["ends_in"] <= 8 * 3600
            page.type("#f-complaint", "，再补一句")  # right after: no second request
            page.clock.fast_forward("03:00")
            page.type("#f-complaint", "。")
            page.wait_for_timeout(300)
            assert pings == [200]
            page.clock.fast_forward("01:30")  # now more than 4 minutes since the last one
            with page.expect_response(lambda r: r.url.endswith("/session/keepalive")):
                page.type("#f-complaint", "好")
            assert pings == [200, 200]
        assert problems == []
