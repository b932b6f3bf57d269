"""Paper: blank and filled PDFs of the four shipped forms, fonts, page counts, and that a
definition cannot make WeasyPrint read local files or run markup."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from litestar.testing import TestClient

from _formdata import FORMS, about_students, definition, example, form_fields, layout_labels, make_leaver, squash, takes_leavers, text_values
from server.settings import FORM_DEFS_DIR

CATALOG = json.loads((FORM_DEFS_DIR / "catalog.json").read_text(encoding="utf-8"))
PAGES = {f["id"]: f.get("pages") for part in CATALOG["parts"] for f in part["forms"]}
STUDENT = "林小雨"
TINY_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def tool(*args: str, data: bytes | None = None) -> str:
    return subprocess.run(args, input=data, capture_output=True, check=True, timeout=60).stdout.decode("utf-8", "replace")


def pdf_text(pdf: bytes) -> str:
    return tool("pdftotext", "-raw", "-", "-", data=pdf)


def page_count(pdf: bytes) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", tool("pdfinfo", "-", data=pdf), re.M).group(1))


def embedded_fonts(pdf: bytes, tmp: Path) -> dict[str, str]:
    path = tmp / "fonts.pdf"
    path.write_bytes(pdf)
    fonts = {}
    for line in tool("pdffonts", str(path)).splitlines()[2:]:
        parts = line.split()
        name = parts[0].split("+", 1)[-1]
        emb = parts[-5]  # emb sub uni object ID
        fonts[name] = emb
    return fonts


def image_count(pdf: bytes, tmp: Path) -> int:
    path = tmp / "images.pdf"
    path.write_bytes(pdf)
    return len(tool("pdfimages", "-list", str(path)).splitlines()[2:])


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """One app on SQLite; the blank and the filled PDF of every form, rendered once over HTTP."""
    from conftest import PASSWORD, make_settings, seed
    from server.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("pdf"), "sqlite")
    app = create_app(settings, migrate=True)
    found: dict[str, dict[str, bytes]] = {}
    try:
        with TestClient(app, base_url="http://testserver.local") as client:
            ids, _other = client.blocking_portal.call(seed)
            client.get("/login")
            token = client.cookies.get("xd_csrf")
            assert client.post("/login", data={"username": "admin", "password": PASSWORD, "_csrf_token": token},
                               follow_redirects=False).status_code == 303
            token = client.cookies.get("xd_csrf")  # signing in gives the session a CSRF token of its own
            for form_id in FORMS:
                if takes_leavers(form_id):
                    client.blocking_portal.call(make_leaver, ids[0])
                fields = form_fields(definition(form_id), example(form_id))
                fields.update(_student=[str(ids[0])], _csrf_token=[token])
                if definition(form_id).subject == "class":  # a record about a class is linked to one (the seed's)
                    fields["_class"] = [str(client.blocking_portal.call(seeded_class_id))]
                response = client.post(f"/forms/{form_id}", data=fields, follow_redirects=False)
                assert response.status_code == 303, response.text[:1000]
                record_id = int(re.search(r"/records/(\d+)", response.headers["location"]).group(1))
                blank = client.get(f"/forms/{form_id}/blank.pdf")
                filled = client.get(f"/records/{record_id}/print.pdf")
                for response in (blank, filled):
                    assert response.status_code == 200
                    assert response.headers["content-type"] == "application/pdf"
                    assert response.content.startswith(b"%PDF-")
                found[form_id] = {"blank": blank.content, "filled": filled.content}
    finally:
        from tortoise.backends.base.executor import EXECUTOR_CACHE

        EXECUTOR_CACHE.clear()
    return found


async def seeded_class_id() -> int:
    from server.models import SchoolClass

    return (await SchoolClass.get(school__code="t1")).id


@pytest.mark.parametrize("kind", ["blank", "filled"])
@pytest.mark.parametrize("form_id", FORMS)
def test_title_and_every_label_printed(printed, form_id, kind):
    d = definition(form_id)
    text = squash(pdf_text(printed[form_id][kind]))
    assert squash(d.title) in text
    labels = layout_labels(d) if kind == "blank" else layout_labels(d, data=example(form_id))
    missing = [label for label in labels if squash(label) not in text]
    assert not missing, missing


@pytest.mark.parametrize("form_id", FORMS)
def test_cjk_fonts_embedded(printed, form_id, tmp_path):
    fonts = embedded_fonts(printed[form_id]["blank"], tmp_path)
    for family in ("Noto-Serif-CJK-SC", "Noto-Sans-CJK-SC"):
        assert any(name.startswith(family) for name in fonts), fonts
    assert all(emb == "yes" for emb in fonts.values()), fonts


@pytest.mark.parametrize("form_id", FORMS)
def test_blank_page_count_matches_the_handbook(printed, form_id):
    assert PAGES[form_id], f"catalog.json gives no page count for {form_id}"
    assert page_count(printed[form_id]["blank"]) == PAGES[form_id]


@pytest.mark.parametrize("form_id", FORMS)
def test_filled_print_has_the_student_and_the_answers(printed, form_id):
    text = squash(pdf_text(printed[form_id]["filled"]))
    if about_students(form_id):  # the running header names the student(s)
        assert STUDENT in text
    missing = [v for v in text_values(definition(form_id), example(form_id)) if squash(v) not in text]
    assert not missing, missing
    assert STUDENT not in squash(pdf_text(printed[form_id]["blank"]))


def test_blank_choice_fields_print_boxes(printed):
    text = squash(pdf_text(printed["screening_consent"]["blank"]))
    assert "□同意参加" in text and "□不同意参加" in text
    filled = squash(pdf_text(printed["screening_consent"]["filled"]))
    assert "☑同意参加" in filled and "□不同意参加" in filled


def test_harfbuzz_subsetting_available():
    from weasyprint.text.ffi import harfbuzz_subset

    assert harfbuzz_subset is not None


def test_page_renders_non_blank(printed, tmp_path):
    from PIL import Image

    source = tmp_path / "page.pdf"
    source.write_bytes(printed["registration"]["filled"])
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(source), str(tmp_path / "page")],
                   check=True, timeout=60)
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = sum(1 for pixel in image.getdata() if pixel < 128)
    assert image.getextrema()[0] < 64
    assert dark > 0.005 * image.width * image.height


# --- security: definitions are data, and WeasyPrint fetches nothing -----------------------

PAYLOAD_IMG = '<img src="file:///etc/passwd">'
PAYLOAD_SCRIPT = "<script>alert(1)</script>"


def hostile_form(tmp: Path):
    from server.checks import load_form_dir

    target = tmp / "hostile_consent"
    shutil.copytree(FORM_DEFS_DIR / "screening_consent", target)
    layout = json.loads((target / "layout.json").read_text(encoding="utf-8"))
    grid = next(b for b in layout["blocks"] if b["type"] == "grid")
    grid["rows"][0][0]["label"] = PAYLOAD_IMG
    grid["rows"][0][2]["label"] = PAYLOAD_SCRIPT
    layout["subtitle"] = PAYLOAD_SCRIPT
    (target / "layout.json").write_text(json.dumps(layout, ensure_ascii=False), encoding="utf-8")
    found, problems = load_form_dir(target)
    assert problems == [] and found is not None
    return found


def test_markup_in_labels_is_printed_literally(tmp_path):
    from renderers.pdf import html_to_pdf, print_html

    d = hostile_form(tmp_path)
    html = print_html(d, example("screening_consent"), context={"@student.name": STUDENT}, blank=False)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    pdf = html_to_pdf(html)
    text = squash(pdf_text(pdf))
    assert squash(PAYLOAD_SCRIPT) in text
    assert squash(PAYLOAD_IMG) in text
    assert image_count(pdf, tmp_path) == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "FILE:///etc/passwd", "http://127.0.0.1/x.png",
                                 "https://example.com/x.css", "/etc/hostname", "ftp://example.com/x"])
def test_deny_fetcher_refuses(url):
    from renderers.pdf import FetchRefused, deny_fetcher

    with pytest.raises(FetchRefused):
        deny_fetcher(url)


def test_deny_fetcher_allows_data_urls():
    from renderers.pdf import deny_fetcher

    fetched = deny_fetcher("data:image/png;base64," + TINY_PNG)
    assert fetched.read().startswith(b"\x89PNG")


def test_html_to_pdf_fetches_no_local_file(tmp_path):
    from renderers.pdf import html_to_pdf

    secret = tmp_path / "secret.png"
    secret.write_bytes(__import__("base64").b64decode(TINY_PNG))
    hostile = (f'<html><head><link rel="stylesheet" href="file://{tmp_path}/x.css"></head><body><p>正文</p>'
               f'<img src="file:///etc/hostname" width="50" height="50"><img src="file://{secret}" width="50" height="50">'
               f'<div style="background: url(file://{secret}); width: 20mm; height: 20mm"></div></body></html>')
    assert image_count(html_to_pdf(hostile), tmp_path) == 0
    # the control: an inline image is embedded, so the count above can see images
    control = f'<html><body><img src="data:image/png;base64,{TINY_PNG}" width="50" height="50"></body></html>'
    assert image_count(html_to_pdf(control), tmp_path) >= 1


def test_print_columns_are_in_millimetres_of_the_printable_width():
    import re

    from renderers.pdf import print_html
    from renderers.plan import plan_for
    from server.registry import Registry
    from server.settings import FORM_DEFS_DIR

    registry = Registry.load([FORM_DEFS_DIR])
    for form_id in ("registration", "attention_ledger"):
        d = registry.get(form_id)
        html = print_html(d, {}, blank=True)
        first = re.search(r"<colgroup>(.*?)</colgroup>", html).group(1)
        widths = [float(w) for w in re.findall(r'width: ([0-9.]+)mm', first)]
        assert widths and "%" not in first
        assert abs(sum(widths) - plan_for(d).content_width_mm) < 1, (form_id, sum(widths))
