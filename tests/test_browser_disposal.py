"""The 7.2 decision in a real browser on the demo school: the 心理教师 may choose only students who have left school
(one still at school slipped into the post is refused with a sentence naming them), and the 德育处 reviewing and the
校领导 approving see whose files the decision acts on: names, class, 学籍号 and leaving date."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from _server import PROJECT_ROOT, xindang
from test_browser import ADMIN_PASSWORD, chromium, new_page, screenshot_on_failure, server, sign_in  # noqa: F401 (server: fixture)

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("XINDANG_SHOTS")  # a folder to keep the walk-through's screenshots and PDF in, when set


def add_user(server: dict, username: str, role: str, name: str) -> None:
    env = {**os.environ, "XINDANG_DATA_DIR": str(server["tmp"] / "data"), "XINDANG_SECRET_KEY": "x"}
    env.pop("XINDANG_DATABASE_URL", None)
    made = subprocess.run([*xindang(), "user", "create", username, "--role", role, "--name", name, "--final-password",
                           "--password", ADMIN_PASSWORD], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr


def shot(page, name: str, tmp: Path) -> None:
    folder = Path(SHOTS) if SHOTS else tmp
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_deciders_see_whose_files_and_no_pupil_at_school_can_be_chosen(server):
    base, tmp = server["base"], server["tmp"]
    add_user(server, "deyu_b", "moral_education", "德育处赵主任")
    add_user(server, "leader_b", "leader", "王校长")
    problems: list[str] = []
    with chromium() as browser:
        page = new_page(browser, problems)
        with screenshot_on_failure(page, tmp / "disposal-failure.png"):
            sign_in(page, base, "psych")
            page.goto(base + "/students/")
            at_school = re.search(r'href="/students/(\d+)"', page.content()).group(1)  # a pupil of a current class
            page.goto(base + "/forms/archive_disposal/new")
            picker = page.locator("fieldset.student-pick")
            assert "涉及学生（已离校）" in picker.locator("legend").inner_text()
            search = page.get_by_role("searchbox", name="按姓名、学籍号或班级查找学生")
            search.fill("年级")  # every class: only leavers are suggested
            suggestions = page.locator("#student-suggestions button.suggestion")
            suggestions.first.wait_for()
            offered = suggestions.all_inner_texts()
            assert offered and page.locator(f'button[value="pick-student:{at_school}"]').count() == 0, offered
            assert "参与学生" not in page.content()
            shot(page, "1-apply-new", tmp)
            search.fill("周可欣")
            leaver = page.locator("#student-suggestions button.suggestion", has_text="周可欣")
            leaver.wait_for()
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/archive_disposal")):
                leaver.click()
            picker.locator(".chip", has_text="周可欣").wait_for()
            # a pupil at school slipped into the post (an old page, a crafted request) is refused, by name
            page.evaluate("""id => { const i = document.createElement('input'); i.type = 'hidden'; i.name = '_student';
                                      i.value = id; document.getElementById('record-form').appendChild(i); }""",
                          at_school)
            page.get_by_role("button", name="保存").first.click()
            error = page.locator("#err-_student")
            error.wait_for()
            assert "仍在校" in error.inner_text() and "请先在花名册中登记其离校" in error.inner_text()
            shot(page, "2-apply-refused", tmp)

            page.goto(base + "/forms/archive_disposal")
            page.locator("tr", has_text="销毁").locator("a[href^='/records/']").first.click()
            record_url = page.url.split("?")[0]
            panel = page.locator("section.disposal")
            assert "周可欣" in panel.inner_text() and "郑浩然" in panel.inner_text()
            shot(page, "3-apply-panel", tmp)
            page.get_by_role("button", name="提交审核审批").click()
            page.wait_for_load_state()

            page.context.clear_cookies()
            sign_in(page, base, "deyu_b")
            page.goto(record_url)
            assert "周可欣" in page.locator("section.disposal").inner_text()
            shot(page, "4-review", tmp)
            page.get_by_role("button", name="同意", exact=True).click()
            page.wait_for_load_state()

            page.context.clear_cookies()
            sign_in(page, base, "leader_b")
            page.goto(record_url)
            students = page.locator("table.disposal-students")
            text = students.inner_text()
            for fact in ("周可欣", "郑浩然", "G110101200805050044", "九年级(1)班", "九年级(4)班", "2023年7月5日", "毕业"):
                assert fact in text, (fact, text)
            assert page.get_by_role("button", name="批准", exact=True).is_visible()
            shot(page, "5-approve", tmp)
            pdf = page.request.get(record_url + "/print.pdf")
            assert pdf.ok and pdf.body().startswith(b"%PDF-")
            (Path(SHOTS) if SHOTS else tmp).joinpath("decision.pdf").write_bytes(pdf.body())
            phone = new_page(browser, problems, width=390, height=844)
            phone.context.add_cookies(page.context.cookies())
            phone.goto(record_url)
            assert phone.locator("table.disposal-students").inner_text().count("周可欣") == 1
            shot(phone, "6-approve-phone", tmp)
    assert not problems, problems
