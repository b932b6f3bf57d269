"""Every input of every shipped form's entry page has an accessible name (its field's title), wherever the layout
puts it: a blank inside a letter, a signature line, a table cell (with the row's number). Plain HTML parsing, so
this runs without a browser; tests/test_accessibility.py runs axe-core in Chromium over the same pages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from _formdata import definition, example
from _server import PROJECT_ROOT
from renderers.forms import ENTRY, render_layout

FORMS = sorted(p.parent.name for p in (PROJECT_ROOT / "form_defs").glob("*/schema.json"))


class Inputs(HTMLParser):
    """The inputs a person types into or chooses with, and whether each has a name a screen reader can read."""

    def __init__(self) -> None:
        super().__init__()
        self.label_depth = 0
        self.labelled_ids: set[str] = set()
        self.inputs: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "label":
            self.label_depth += 1
            if attributes.get("for"):
                self.labelled_ids.add(attributes["for"])
        elif tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit", "button"):
            self.inputs.append({**attributes, "_in_label": self.label_depth > 0})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)

    def unnamed(self) -> list[str]:
        return [item.get("name", "?") for item in self.inputs
                if not item.get("aria-label", "").strip() and not item["_in_label"] and item.get("id") not in self.labelled_ids]


@pytest.mark.parametrize("form_id", FORMS)
def test_every_input_of_every_entry_page_has_a_name(form_id):
    page = Inputs()
    page.feed(str(render_layout(definition(form_id), ENTRY, example(form_id, "full"))))
    assert page.inputs
    assert page.unnamed() == []


def test_the_blanks_of_the_consent_letter_and_a_tables_cells_are_named_by_their_titles():
    consent = Inputs()
    consent.feed(str(render_layout(definition("screening_consent"), ENTRY, {})))
    names = {item["name"]: item.get("aria-label") for item in consent.inputs}
    assert names["assessment_name"] == "测评名称" and names["signed_on"] == "监护人签名日期", names
    registration = Inputs()
    registration.feed(str(render_layout(definition("registration"), ENTRY, example("registration", "full"))))
    cells = {item["name"]: item.get("aria-label") for item in registration.inputs}
    assert cells["family.members.1.relation"] == "称谓（第 2 行）", cells
