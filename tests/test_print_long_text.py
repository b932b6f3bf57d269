"""Paper: long answers continue on the next page instead of leaving gaps, and a filled long text that
shares a row with short cells prints on a full-width row of its own (issue 13 item 9)."""

from __future__ import annotations

import re
import subprocess

import pytest

from _formdata import definition, squash
from renderers.pdf import html_to_pdf, print_html
from renderers.plan import plan_for

SENTENCE = "学生说最近总是睡不好，上课注意力难以集中，和同桌发生过几次争执，回家后不愿意和父母说话。"
SUPERVISION = "督导建议先稳定情绪再谈学业，每周与班主任沟通一次，注意观察课间的同伴关系变化。"
CONTEXT = {"@student.name": "林小雨", "@student.class": "三年级1班", "@school.name": "虚构示例学校"}


def long(sentence: str, length: int = 2000, start: str = "") -> str:
    return (start + sentence * (length // len(sentence) + 1))[:length]


def counselling_record() -> dict:
    """A counselling record with several 2,000-character answers (fictional)."""
    return {
        "opened_on": "2025-03-18", "counselor": "王老师", "risk_screen": "无自伤他伤迹象",
        "confidentiality_informed": True,
        "complaint": long(SENTENCE, start="主诉开头"), "presentation_note": long(SENTENCE),
        "background": long(SENTENCE), "prior_help": long(SENTENCE, 1000), "goals": long(SENTENCE, 1000),
        "sessions": [{"date": f"2025-03-2{i}", "topic": "情绪", "student_state": long(SENTENCE, 1000),
                      "process": long(SENTENCE), "next_plan": "下周"} for i in range(4)],
        "closed_on": "2025-05-01", "supervisor": "赵老师", "supervision": long(SUPERVISION, start="督导开头"),
    }


def pdf_pages(pdf: bytes) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True,
                          timeout=60).stdout.decode()
    return text.split("\f")[:-1]


@pytest.fixture(scope="module")
def counselling_pdf() -> bytes:
    return html_to_pdf(print_html(definition("individual_counseling"), counselling_record(), context=CONTEXT))


def test_a_long_answer_starts_on_the_page_it_follows(counselling_pdf):
    """The 主诉 row used to jump whole to page 2, leaving page 1 nearly empty."""
    pages = pdf_pages(counselling_pdf)
    assert "主诉开头" in squash(pages[0])
    assert "主诉开头" not in squash("".join(pages[1:]))


def test_long_answers_use_fewer_pages_and_all_their_text_prints(counselling_pdf):
    pages = pdf_pages(counselling_pdf)
    # measured: 18 pages when every row moved whole to the next page; 14 once long rows continue
    assert len(pages) <= 14, len(pages)
    text = squash("".join(pages))
    assert text.count(squash(SENTENCE)) >= 5 * (2000 // len(SENTENCE)), "long answers were cut"
    assert text.count(squash(SUPERVISION)) >= 2000 // len(SUPERVISION) - 1


def test_a_filled_long_text_beside_short_cells_prints_full_width(counselling_pdf):
    """督导意见 shares its row with 督导人: filled, it gets a row of its own, its label above it."""
    words = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=counselling_pdf, capture_output=True, check=True,
                           timeout=60).stdout.decode()
    page_width = float(re.search(r'<page width="([0-9.]+)"', words).group(1))
    boxes = [(float(a), float(b)) for a, b, word in
             re.findall(r'<word xMin="([0-9.]+)" yMin="[0-9.]+" xMax="([0-9.]+)" yMax="[0-9.]+">([^<]*)</word>', words)
             if "督导建议" in word or "督导开头" in word]
    assert boxes
    widest = max(x_max - x_min for x_min, x_max in boxes)
    content = plan_for(definition("individual_counseling")).content_width_mm / 25.4 * 72
    assert widest > 0.9 * content, (widest, content, page_width)


def test_full_width_rule_is_driven_by_long_text_fields_only():
    html = print_html(definition("individual_counseling"), counselling_record(), context=CONTEXT)
    full = re.findall(r'<td class="field long full-width" colspan="(\d+)"[^>]*><span class="title-above">([^<]*)</span>',
                      html)
    assert ("6", "督导意见") in full
    # a long text that has its row to itself (label + text) keeps the paper layout
    assert all(title != "主诉" for _span, title in full)
    # short rows stay whole on paper; rows with long text may break
    date_row = re.search(r"<tr([^>]*)>\s*<th[^>]*>接案日期", html)
    assert date_row and "long-row" not in date_row.group(1)
    assert re.search(r'<tr class="long-row">\s*<th[^>]*>主诉', html)
    # an empty long text keeps the paper layout too (its ruled lines in the shared row)
    empty = print_html(definition("individual_counseling"), {**counselling_record(), "supervision": ""}, context=CONTEXT)
    assert 'class="title-above"' not in empty
    blank = print_html(definition("individual_counseling"), {}, context=CONTEXT, blank=True)
    assert 'class="title-above"' not in blank


def test_spread_long_text_gives_the_freed_width_to_the_nearest_field():
    from renderers.plan import spread_long_text

    plan = plan_for(definition("individual_counseling"))
    grid = plan.blocks[-1].children[0]
    row = next(grid.rows[i] for i in grid.spread_rows if any(c.spec and c.spec.path == "supervision" for c in grid.rows[i]))
    shared, moved = spread_long_text(row, len(grid.col_widths), lambda cell: True)
    assert [c.span for c in shared] == [1, 5] and shared[0].text == "督导人"
    assert [(c.spec.path, c.span, c.title_above) for c in moved] == [("supervision", 6, "督导意见")]
    assert spread_long_text(row, len(grid.col_widths), lambda cell: False) == [row]
