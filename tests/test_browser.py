"""End to end in a real browser: Debian's Chromium driven by Playwright against the real server.

The server runs as a subprocess (`xindang init --demo`, then `xindang serve`) on a free
loopback port with a temporary data directory. The scenario is the teacher's: log in,
open a new 综合登记表, make one mistake, see the Chinese message next to the field with the
typed values kept (htmx swaps the form in place), fix it, save, and find the record in the list.
Never downloads a browser: without /usr/bin/chromium the test is skipped.
"""

from __future__ import annotations

import re
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from _server import PROJECT_ROOT, demo_server

CHROMIUM = Path("/usr/bin/chromium")

ZH_CATALOG = PROJECT_ROOT / "i18n" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"
ADMIN_PASSWORD = "browser test pw 1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium (/usr/bin/chromium) is not installed")
    tmp = tmp_path_factory.mktemp("browser")
    with demo_server(tmp, ["init", "--demo", "--admin-user", "admin", "--admin-password", ADMIN_PASSWORD],
                     ["user", "create", "psych", "--role", "psych_teacher", "--name", "心理老师", "--final-password",
                      "--password", ADMIN_PASSWORD]) as base:
        yield {"base": base, "tmp": tmp, "log": tmp / "server.log"}


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, closed whatever happens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page, path: Path) -> Iterator[None]:
    """A failing step leaves a full-page screenshot beside the server log."""
    try:
        yield
    except Exception:
        page.screenshot(path=str(path), full_page=True)
        raise


def new_page(browser, problems: list[str], width: int = 1280, height: int = 1600, **options):
    """A Chinese-locale page whose script errors are collected (a test ends asserting there were none)."""
    page = browser.new_page(locale="zh-CN", viewport={"width": width, "height": height}, **options)
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", ADMIN_PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def test_entry_error_then_save(server):
    from playwright.sync_api import expect

    base, tmp = server["base"], server["tmp"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 1600)
        with screenshot_on_failure(page, tmp / "failure.png"):
            # Log in.
            sign_in(page, base, "psych")  # the administrator manages; a 心理教师 fills forms
            assert page.url.rstrip("/").endswith("/forms"), page.url

            # A new 综合登记表: choose a student, fill everything but the required 建档日期.
            page.goto(base + "/forms/registration/new")
            # the picker: part of a 学籍号 typed, a suggestion chosen (one htmx round trip fills the header in)
            page.fill("#f-_student_q", "DEMO0000")
            chosen = page.locator("#student-suggestions button.suggestion").first
            expect(chosen).to_be_visible()
            student_id = chosen.get_attribute("value").split(":")[1]
            student_name = chosen.inner_text().split()[-1].split("（")[0]  # "七年级(1)班 何梓轩（DEMO00005）"
            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/registration")):
                chosen.click()
            expect(page.locator("td.context").first).not_to_be_empty()
            page.fill("#f-basic-ethnicity", "汉族")
            page.fill("#f-basic-interests", "绘画、羽毛球")
            page.check("input[name='family.structure'][value='双亲']")
            page.fill("#f-family-guardian", "王丽（母亲）")
            page.fill("#f-family-guardian_phone", "13800000001")
            page.fill("#f-family-members-0-relation", "母亲")
            page.fill("#f-family-members-1-relation", "父亲")
            assert page.input_value("#f-established_on") == ""
            form_url = page.url

            # A `when`: 说明 shows only once 既往心理咨询或精神科就诊 = 有 (one htmx round trip),
            # keeping what was typed so far; switching back to 无 hides it again.
            expect(page.locator("#f-health-prior_help_note")).to_have_count(0)
            page.check("input[name='health.prior_help'][value='有']")
            expect(page.locator("#f-health-prior_help_note")).to_be_visible()
            assert page.input_value("#f-basic-ethnicity") == "汉族"
            page.fill("#f-health-prior_help_note", "三年级时曾在校外咨询机构做过四次咨询。")
            page.check("input[name='health.prior_help'][value='无']")
            expect(page.locator("#f-health-prior_help_note")).to_have_count(0)
            page.check("input[name='health.prior_help'][value='有']")
            expect(page.locator("#f-health-prior_help_note")).to_be_visible()
            page.fill("#f-health-prior_help_note", "三年级时曾在校外咨询机构做过四次咨询。")
            assert page.url == form_url

            with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/forms/registration")) as posted:
                page.click("button[name='_action'][value='save']")
            assert posted.value.status == 422
            error = page.locator("#err-established_on")
            expect(error).to_be_visible()
            page.screenshot(path=str(tmp / "registration-error.png"), full_page=True)

            # Not navigated: htmx swapped the form in place, the typed values are kept.
            assert page.url == form_url
            assert urlpath(page.url) == "/forms/registration/new"
            assert "error" in (error.get_attribute("class") or "").split()
            message = error.inner_text().strip()
            assert message
            if ZH_CATALOG.exists():
                assert "必填" in message, message
            # Next to the field: in the same table cell as the 建档日期 input.
            cell = page.locator("td.field", has=page.locator("#f-established_on"))
            expect(cell.locator(".error")).to_have_text(message)
            assert page.get_attribute("#f-established_on", "aria-invalid") == "true"
            assert page.input_value("#f-basic-ethnicity") == "汉族"
            assert page.input_value("#f-family-guardian") == "王丽（母亲）"
            assert page.is_checked("input[name='family.structure'][value='双亲']")
            assert page.locator("#f-_student input[name='_student']").get_attribute("value") == student_id

            # Fix the mistake and save: the browser lands on the new record.
            page.fill("#f-established_on", "2024-09-05")
            with page.expect_navigation(url=re.compile(r"/records/\d+")):
                page.click("button[name='_action'][value='save']")
            assert re.fullmatch(r"/records/\d+", urlpath(page.url)), page.url
            expect(page.locator("main")).to_contain_text("汉族")
            page.screenshot(path=str(tmp / "registration-saved.png"), full_page=True)

            # The list shows the student.
            page.goto(base + "/forms/registration")
            expect(page.locator("main")).to_contain_text(student_name)
            assert not problems, problems


def urlpath(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def test_a_class_prints_in_the_background_with_a_progress_bar(server):
    """Batch printing as a 心理教师 sees it: start it from the class's list, watch the bar fill (htmx polls
    the server), leave and come back, then download the one bound PDF."""
    from playwright.sync_api import expect

    base, tmp = server["base"], server["tmp"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 1200, accept_downloads=True)
        with screenshot_on_failure(page, tmp / "batch-failure.png"):
            sign_in(page, base, "psych")
            page.goto(base + "/students/")
            seventh = page.locator("select[name='class'] option", has_text="七年级(1)班").first.get_attribute("value")
            page.select_option("select[name='class']", seventh)
            with page.expect_navigation():
                page.click("form.filters button[type=submit]")
            expect(page.locator("table.list-table tbody tr")).to_have_count(12)
            with page.expect_navigation(url=re.compile(r"/prints/\d+$")):
                page.click("button[name='scope'][value='class']")
            job_url = page.url
            expect(page.locator("#print-progress progress")).to_be_visible()
            page.screenshot(path=str(tmp / "batch-progress.png"), full_page=True)
            page.goto(base + "/forms")  # leave: the job goes on without the page
            page.goto(base + "/prints/")
            expect(page.locator("main")).to_contain_text("七年级(1)班")
            page.goto(job_url)
            download_link = page.locator("#print-progress a.btn[href$='/download']")
            expect(download_link).to_be_visible(timeout=240_000)  # the polling fragment swaps it in when done
            expect(page.locator("#print-progress progress")).to_have_count(0)
            summary = page.locator("#print-progress").inner_text()
            printed = int(re.search(r"(\d+) 名学生", summary).group(1))  # students with nothing to print are left out, and said so
            assert 0 < printed <= 12, summary
            with page.expect_download() as downloaded:
                download_link.click()
            path = tmp / "class.pdf"
            downloaded.value.save_as(path)
            assert path.read_bytes().startswith(b"%PDF")
            from pypdf import PdfReader

            reader = PdfReader(str(path))
            assert len([item for item in reader.outline if not isinstance(item, list)]) == printed  # an outline entry per student
            assert not problems, problems


def test_an_admin_changes_a_form_a_teacher_fills_the_new_version_and_old_records_stay(server):
    """The form editor in Chromium: add a bounded field shown only for one 观察缘由, move a cell, preview, publish;
    a 心理教师 fills the new version (the field appears when the condition holds); a record made before the
    change still shows and prints with its own version."""
    import sqlite3
    from contextlib import closing

    from playwright.sync_api import expect

    base, tmp = server["base"], server["tmp"]
    form = "/admin/forms/classroom_observation"
    with closing(sqlite3.connect(tmp / "data" / "xindang.sqlite3")) as db:
        old_id = db.execute("SELECT id FROM record WHERE form_id = 'classroom_observation' ORDER BY id LIMIT 1").fetchone()[0]
        student_id = db.execute("SELECT id FROM student ORDER BY id LIMIT 1").fetchone()[0]
    with chromium() as browser:
        problems: list[str] = []
        admin = new_page(browser, problems, 1600, 1400)
        with screenshot_on_failure(admin, tmp / "editor-failure.png"):
            sign_in(admin, base, "admin")
            admin.goto(base + form)
            expect(admin.locator("h1")).to_contain_text("课堂心理行为观察记录表")
            # a field in a new row of the first grid, 1–45 minutes
            admin.click(f"a[href='{form}?select=b0']")
            expect(admin.locator(".ed-panel h3", has_text="在新的一行添加字段")).to_be_visible()
            admin.fill("#new-field-title", "观察时长（分钟）")
            admin.select_option("#new-field-kind", "integer")
            admin.fill("#new-field-min", "1")
            admin.fill("#new-field-max", "45")
            admin.click(".ed-panel button:has-text('添加字段')")
            new_cell = admin.locator(".ed-grid td.field a", has_text="观察时长（分钟）")
            expect(new_cell).to_be_visible()
            # shown only when 观察缘由 is 家长反映, picked from the condition picker
            expect(admin.locator(".ed-grid td.selected")).to_contain_text("观察时长（分钟）")  # the new field is selected
            expect(admin.locator(".ed-panel h2", has_text="字段")).to_contain_text("field_1")
            admin.select_option("#when-field", "reason")
            admin.select_option("#when-op", "equals")
            admin.locator("select#when-value").wait_for()  # the field's options (htmx), not typed text
            admin.select_option("#when-value", "家长反映")
            admin.click(".ed-panel button:has-text('保存单元格')")
            expect(admin.locator(".ed-grid td.field", has_text="观察时长（分钟）").locator(".badge")).to_have_text("有条件")
            # move the 班主任 label one cell to the right
            first_row = admin.locator(".ed-grid").first.locator("tr").nth(1)
            admin.click("a[data-place='b0/r1/c0']")
            expect(admin.locator(".ed-grid td.selected")).to_have_text("班主任")
            admin.click(".ed-actions button:has-text('→')")
            expect(first_row.locator("td").nth(1)).to_have_text("班主任")
            expect(first_row.locator("td").nth(0)).to_contain_text("▭")
            expect(admin.locator(".ed-grid td.selected")).to_have_text("班主任")  # the moved cell stays selected
            # the preview: the entry page beside the editor, the page count, the PDF
            expect(admin.locator("#page-counts")).to_contain_text("空白表", timeout=60_000)
            pdf = admin.request.get(base + form + "/preview.pdf?filled=1")
            assert pdf.ok and pdf.body().startswith(b"%PDF")
            admin.screenshot(path=str(tmp / "editor.png"), full_page=True)
            # review and publish
            with admin.expect_navigation():
                admin.click("a.btn:has-text('审阅并发布')")
            expect(admin.locator("main")).to_contain_text("观察时长（分钟）")
            with admin.expect_navigation():
                admin.click("form[action$='/publish'] button[type=submit]")
            expect(admin.locator(".flash")).to_contain_text("第 2 版已发布")
            assert not problems, problems
        teacher = new_page(browser, problems)
        with screenshot_on_failure(teacher, tmp / "teacher-failure.png"):
            sign_in(teacher, base, "psych")
            teacher.goto(f"{base}/forms/classroom_observation/new?student={student_id}")
            duration = teacher.locator("input[name='field_1']")
            expect(duration).to_have_count(0)  # not shown until 观察缘由 is 家长反映
            teacher.check("input[name='reason'][value='家长反映']")
            expect(duration).to_be_visible()
            teacher.fill("input[name='started_on']", "2026-11-30")
            teacher.fill("input[name='observations.0.date']", "2026-11-30")
            teacher.fill("input[name='observations.0.observer']", "李老师")
            duration.fill("60")
            teacher.click("#record-form button[type=submit][value='save']")
            expect(teacher.locator(".error-summary")).to_contain_text("45")  # the bound, in Chinese, next to the field
            teacher.locator("input[name='field_1']").fill("30")
            with teacher.expect_navigation(url=re.compile(r"/records/\d+")):
                teacher.click("#record-form button[type=submit][value='save']")
            expect(teacher.locator("main")).to_contain_text("观察时长（分钟）")
            # the record made before the change: its own version, on screen and on paper
            teacher.goto(f"{base}/records/{old_id}")
            expect(teacher.locator("main")).not_to_contain_text("观察时长")
            printed = teacher.request.get(f"{base}/records/{old_id}/print.pdf")
            assert printed.ok
            text = subprocess.run(["pdftotext", "-raw", "-", "-"], input=printed.body(), capture_output=True, check=True).stdout.decode()
            assert "课堂心理行为观察记录表" in text.replace(" ", "") and "观察时长" not in text
            assert not problems, problems


def test_a_number_in_a_narrow_table_column_shows_whole(server):
    """An age of 200 in the family table's narrow 年龄 column showed as 「2(」: the spinner's arrows took
    the room of the digits. Numbers show without a spinner, and the digits fit the room left by padding."""
    base = server["base"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1280, 900)
        sign_in(page, base, "psych")
        page.goto(base + "/forms/registration/new")
        age = page.locator("#f-family-members-0-age")
        age.fill("200")
        fits = age.evaluate("""e => { const s = getComputedStyle(e), c = document.createElement('canvas').getContext('2d');
            c.font = s.font; const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            return [s.appearance, room, c.measureText(e.value).width]; }""")
        assert fits[0] == "textfield" and fits[1] >= fits[2], fits
        assert not problems
