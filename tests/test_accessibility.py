"""axe-core (pinned in package.json, installed by `make` into node_modules/) over the pages people work in: the entry,
list and view pages of every form, the students' files, the roster and the form editor. No serious or critical
violation (an input without an accessible name, too little contrast, a scrolling region a keyboard cannot reach…).

One Chromium and one page per user for every URL: axe is added to every document through the DevTools protocol
(an init script: the pages' Content-Security-Policy allows no inline script, and must not be loosened for a test)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from _server import PROJECT_ROOT
from test_browser import chromium, new_page, screenshot_on_failure, server, sign_in  # noqa: F401 (server is a fixture)

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
FORMS = sorted(p.parent.name for p in (PROJECT_ROOT / "form_defs").glob("*/schema.json"))
SERIOUS = ("serious", "critical")
RUN_AXE = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
    .filter(v => ["serious", "critical"].includes(v.impact))
    .map(v => `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))"""

pytestmark = pytest.mark.browser


def violations(page, base: str, url: str) -> list[str]:
    page.goto(base + url)
    return [f"{url}: {problem}" for problem in page.evaluate(RUN_AXE)]


def test_no_serious_accessibility_violation_on_the_pages_people_work_in(server):  # noqa: F811
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make installs it from package-lock.json)")
    axe_source = AXE.read_text(encoding="utf-8")
    base, tmp = server["base"], server["tmp"]
    found: list[str] = []
    checked: list[str] = []
    started = time.monotonic()
    with chromium() as browser:
        problems: list[str] = []
        teacher = new_page(browser, problems, 1280, 900)
        teacher.add_init_script(axe_source)
        with screenshot_on_failure(teacher, tmp / "accessibility-teacher.png"):
            sign_in(teacher, base, "psych")
            for form_id in FORMS:
                for url in (f"/forms/{form_id}/new", f"/forms/{form_id}"):
                    found += violations(teacher, base, url)
                    checked.append(url)
                record = teacher.locator("a[href^='/records/']").first  # the list's first record, when the demo has one
                if record.count():
                    url = record.get_attribute("href")
                    found += violations(teacher, base, url)
                    checked.append(url)
            for url in ("/forms", "/students/"):
                found += violations(teacher, base, url)
                checked.append(url)
            student = teacher.locator("a[href^='/students/']:not([href='/students/'])").first.get_attribute("href")
            found += violations(teacher, base, student)
            checked.append(student)
        admin = new_page(browser, problems, 1280, 900)
        admin.add_init_script(axe_source)
        with screenshot_on_failure(admin, tmp / "accessibility-admin.png"):
            sign_in(admin, base, "admin")
            for url in ("/roster/", "/roster/import", "/admin/forms/", "/admin/forms/registration",
                        "/admin/forms/classroom_observation?select=b0/r1/c5"):  # a cell selected: the condition picker
                found += violations(admin, base, url)
                checked.append(url)
            klass = admin.goto(base + "/roster/") and admin.locator("a[href^='/roster/classes/']").first
            if klass and klass.count():
                url = klass.get_attribute("href")
                found += violations(admin, base, url)
                checked.append(url)
        assert not problems, problems
    seconds = time.monotonic() - started
    print(f"axe-core checked {len(checked)} pages in {seconds:.0f} s")
    assert len(checked) >= 2 * len(FORMS) + 8
    assert any(url.startswith("/records/") for url in checked)  # view pages were reached, not only entry and list pages
    assert not found, "\n".join(found)
