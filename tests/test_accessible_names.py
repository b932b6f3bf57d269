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


def test_a_field_alone_in_its_grid_row_shows_its_title_on_screen_not_on_paper():
    from renderers.forms import PRINT, VIEW

    agreement = definition("confidentiality_agreement")  # 第十条 其他约定: a grid row holding only the field
    data = {"extra_terms": "每学期末核对一次查阅日志。"}
    assert '<label class="field-title" for="f-extra_terms">其他约定</label>' in str(render_layout(agreement, ENTRY, data))
    assert '<span class="field-title">其他约定：</span>' in str(render_layout(agreement, VIEW, data))
    assert "其他约定：" not in str(render_layout(agreement, PRINT, data))  # the paper keeps the handbook's page
    pledge = str(render_layout(definition("safety_pledge"), ENTRY, {}))  # a check box alone names itself, once
    assert 'for="f-student_ack"' not in pledge and pledge.count(">我已认真阅读以上内容，愿意做到<") == 1


def test_tables_and_repeats_say_what_their_add_button_adds():
    table = str(render_layout(definition("registration"), ENTRY, {}))
    repeat = str(render_layout(definition("classroom_observation"), ENTRY, {}))
    assert "＋ 添加家庭成员</button>" in table and "＋ 添加观察记录</button>" in repeat
    assert not any(words in table + repeat for words in ("添加一行", "再添加一项"))
