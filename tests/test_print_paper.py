"""Paper details (issue 13 item 14) and emoji with joiners (issue 14 item 18), checked on real
WeasyPrint PDFs: text extracted with pdftotext, geometry measured on pdftoppm PNG renders."""

from __future__ import annotations

import io
import logging
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from _formdata import definition, example, shipped_registry, squash
from renderers.pdf import html_to_pdf, print_css, print_html

CONTEXT = {"@student.name": "林小雨", "@student.class": "七年级(1)班", "@school.name": "虚构示例学校"}


def run(*args: str, data: bytes | None = None) -> str:
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=120).stdout.decode()


def page_texts(pdf: bytes) -> list[str]:
    return run("pdftotext", "-layout", "-", "-", data=pdf).split("\f")[:-1]


def words(pdf: bytes, page: int) -> list[tuple[float, float, float, float, str]]:
    """(xMin, yMin, xMax, yMax, text) in points of every word pdftotext finds on a page (from 1)."""
    found = run("pdftotext", "-f", str(page), "-l", str(page), "-bbox", "-", "-", data=pdf)
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', found)]


def png(pdf: bytes, page: int, dpi: int, tmp: Path) -> Image.Image:
    source = tmp / "page.pdf"
    source.write_bytes(pdf)
    run("pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), str(source), str(tmp / "img"))
    return Image.open(next(tmp.glob("img*.png"))).convert("L")


# --- section bands as wide as their tables ---------------------------------------------------

def test_section_band_ends_at_the_right_edge_of_its_table(tmp_path):
    """A band used to stop 0.6 pt short of the table under it: a step at the right edge."""
    pdf = html_to_pdf(print_html(definition("individual_counseling"), {}, blank=True))
    image = png(pdf, 1, 600, tmp_path)
    pixels = image.load()
    width, height = image.size
    band = next(w for w in words(pdf, 1) if w[4].startswith("一、接案"))
    band_top = int(band[1] * 600 / 72) - 40
    right_edges = {}
    for y in range(band_top, min(height, band_top + 1500)):
        dark = [x for x in range(width - 1, width // 2, -1) if pixels[x, y] < 128]
        if dark:
            right_edges[y] = dark[0]
    assert len(right_edges) > 1000  # the band and the rows below it were measured
    assert max(right_edges.values()) - min(right_edges.values()) <= 1, sorted(set(right_edges.values()))


# --- one date style on paper -----------------------------------------------------------------

def test_dates_print_one_style_in_grids_and_tables():
    data = example("intake_screening")
    pdf = html_to_pdf(print_html(definition("intake_screening"), data, context=CONTEXT))
    text = squash(run("pdftotext", "-raw", "-", "-", data=pdf))  # content order: a wrapped cell's lines together
    assert not re.search(r"\d{4}/\d{1,2}/\d{1,2}", text), "a table printed a date as 2025/3/14"
    assert "None" not in text
    table_dates = [row["feedback_on"] for row in data["students"] if row.get("feedback_on")]
    assert table_dates
    for day in table_dates:
        y, m, d = (int(part) for part in day.split("-"))
        assert f"{y}年{m}月{d}日" in text, day
    grid_day = data["tested_on"]
    y, m, d = (int(part) for part in grid_day.split("-"))
    assert f"{y}年{m}月{d}日" in text


# --- the consent letter ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def consent_pdf() -> bytes:
    return html_to_pdf(print_html(definition("screening_consent"), {}, blank=True))


def test_check_boxes_inside_a_sentence_are_evenly_spaced(consent_pdf):
    grades = [w for w in words(consent_pdf, 1) if re.fullmatch(r"□.年级", w[4])]
    assert len(grades) == 9
    lines: dict[float, list] = {}
    for word in grades:
        lines.setdefault(round(word[1]), []).append(word)
    gaps = [b[0] - a[2] for line in lines.values() for a, b in zip(sorted(line), sorted(line)[1:])]
    assert gaps and max(gaps) - min(gaps) < 0.5, gaps
    assert max(gaps) <= 1.5 * 10.5, gaps  # about one character, not 3em


def test_the_receipt_signature_line_stops_before_the_date(consent_pdf, tmp_path):
    page = next(i for i, text in enumerate(page_texts(consent_pdf), 1) if "监护人签名" in text)
    found = words(consent_pdf, page)
    signer = next(w for w in found if w[4].startswith("监护人签名"))
    date = min((w for w in found if w[4].startswith("日期") and abs(w[1] - signer[1]) < 2), key=lambda w: w[0])
    dpi = 300
    image = png(consent_pdf, page, dpi, tmp_path)
    pixels = image.load()
    scale = dpi / 72
    line_end = 0
    for y in range(int(signer[1] * scale), int((signer[3] + 3) * scale)):
        for x in range(int((signer[2] + 1) * scale), int((date[0] - 0.2) * scale)):
            if pixels[x, y] < 128:
                line_end = max(line_end, x)
    assert line_end, "no signature line was drawn"
    gap_mm = (date[0] * scale - line_end) / scale * 25.4 / 72
    assert gap_mm >= 3, gap_mm


# --- a scale's 计分结果 sits with its questions ------------------------------------------------------

@pytest.mark.parametrize("form_id, last_question", [("scale_mssmhs", "第 60 题"), ("scale_mhrsp", "第 80 题")])
def test_scale_scores_are_not_alone_on_a_page(form_id, last_question):
    pages = page_texts(html_to_pdf(print_html(definition(form_id), {}, blank=True)))
    scores = [text for text in pages if "计分结果" in text]
    assert len(scores) == 1
    assert squash(last_question) in squash(scores[0])


# --- the handbook: contents on one page, no undefined anchors --------------------------------

class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def handbook():
    from renderers.handbook import handbook_pdf

    collect = Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        pdf = handbook_pdf(shipped_registry(), school_name="虚构示例学校", charter="章程\n第一章 总则\n本章程依据有关文件制定。",
                           notes="使用说明\n本手册由班主任和心理教师按表填写。")
    finally:
        logger.removeHandler(collect)
    return PdfReader(io.BytesIO(pdf)), collect.messages


def test_handbook_render_logs_no_undefined_anchor(handbook):
    _reader, messages = handbook
    assert not [m for m in messages if "undefined anchor" in m]


def test_handbook_contents_fit_on_one_page(handbook):
    reader, _messages = handbook
    texts = [page.extract_text() for page in reader.pages]
    contents = [i for i, text in enumerate(texts[:6]) if "目" in text and "录" in text and "......" in text]
    assert contents == [1], contents  # page ii only; page iii starts the charter
    last_form = shipped_registry().get(shipped_registry().catalog["parts"][-1]["forms"][-1]["id"])
    assert squash(last_form.title) in squash(texts[1])
    assert "章程" in texts[2] and "......" not in texts[2]


# --- emoji with joiners ------------------------------------------------------------------------

def test_family_emoji_prints_as_one_glyph(tmp_path):
    """👨‍👩‍👧‍👦 is four people joined by ZWJ: shaped with the emoji font it is one picture, not four men."""
    def ink_width(text: str) -> int:
        html = (f'<html><head><style>{print_css()} body {{ font-size: 40pt; }}</style></head>'
                f'<body class="paper"><p>{text}</p></body></html>')
        (tmp_path / "emoji").mkdir(exist_ok=True)
        for old in (tmp_path / "emoji").glob("*"):
            old.unlink()
        image = png(html_to_pdf(html), 1, 72, tmp_path / "emoji")
        pixels = image.load()
        columns = [x for x in range(image.width) if any(pixels[x, y] < 200 for y in range(image.height // 3))]
        return columns[-1] - columns[0] + 1

    one_man = ink_width("👨")
    family = ink_width("👨\u200d👩\u200d👧\u200d👦")
    assert family < 1.5 * one_man, (family, one_man)
    assert 0.5 * one_man < family
