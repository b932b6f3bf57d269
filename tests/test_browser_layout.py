"""What a person sees, in Chromium: the form editor's preview is not clipped at 1280 and 1600 px nor on a phone,
the condition picker offers the field's options, and the language switch sits in the top bar."""

from __future__ import annotations

import pytest

from test_browser import chromium, new_page, screenshot_on_failure, server, sign_in  # noqa: F401 (server is a fixture)

pytestmark = pytest.mark.browser

OVERFLOW = """() => {
  const preview = document.querySelector('.ed-preview').getBoundingClientRect();
  const form = document.querySelector('.ed-preview-form').getBoundingClientRect();
  return {page: document.documentElement.scrollWidth, window: innerWidth, previewRight: preview.right, formRight: form.right};
}"""


def test_the_editor_preview_fits_and_conditions_offer_the_fields_options(server):  # noqa: F811
    from playwright.sync_api import expect

    base, tmp = server["base"], server["tmp"]
    with chromium() as browser:
        problems: list[str] = []
        page = new_page(browser, problems, 1600, 900)
        with screenshot_on_failure(page, tmp / "layout-failure.png"):
            sign_in(page, base, "admin")
            for width in (1600, 1280, 390):
                page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
                page.goto(base + "/admin/forms/registration")
                page.screenshot(path=str(tmp / f"editor-{width}.png"))
                sizes = page.evaluate(OVERFLOW)
                assert sizes["page"] <= sizes["window"], (width, sizes)  # nothing sticks out of the window
                assert sizes["previewRight"] <= sizes["window"], (width, sizes)
                if width >= 1280:  # the whole entry page is in view, not cut at the right
                    assert sizes["formRight"] <= sizes["previewRight"] + 1, (width, sizes)
            page.set_viewport_size({"width": 1600, "height": 900})
            page.goto(base + "/admin/forms/classroom_observation?select=b0/r1/c5")
            expect(page.locator("input#when-value")).to_be_visible()  # no field chosen yet: nothing to choose from
            page.select_option("#when-field", "reason")
            expect(page.locator("select#when-value option", has_text="家长反映")).to_have_count(1)
            page.select_option("#when-field", "plan")  # a field without options: typed
            expect(page.locator("input#when-value")).to_be_visible()
            # the language switch belongs to the top bar, beside the user's name
            expect(page.locator("header.topbar a.language")).to_have_text("English")
            assert page.locator("footer a.language").count() == 0
        assert not problems, problems
