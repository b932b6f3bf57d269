"""Definitions and answers are data: markup and template syntax in titles, labels, options,
help and answers come out escaped on every page, and CSV cells cannot start a formula."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
from litestar.testing import TestClient

from conftest import DATABASES, PASSWORD, drop_settings_db, make_settings, seed
from server.settings import FORM_DEFS_DIR, Settings

SCRIPT = "<script>alert(1)</script>"
ATTR = '" onfocus="alert(1)'
TEMPLATE = "{{7*7}}"
FORM_ID = "xss_probe"
OPTIONS = [SCRIPT, ATTR, TEMPLATE, "普通选项"]


def write_form(base: Path) -> None:
    folder = base / FORM_ID
    folder.mkdir(parents=True)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"测试表 {SCRIPT} {TEMPLATE}",
        "x-subject": "student",
        "type": "object",
        "additionalProperties": False,
        "required": ["note"],
        "properties": {
            "note": {"title": f"备注{SCRIPT}", "description": f"帮助{SCRIPT}{ATTR}{TEMPLATE}", "type": "string", "maxLength": 200},
            "choice": {"title": f"选择{ATTR}", "type": "string", "enum": OPTIONS},
            "picks": {"title": f"多选{TEMPLATE}", "type": "array", "uniqueItems": True, "maxItems": len(OPTIONS), "items": {"enum": OPTIONS}},
            "rows": {"title": "行", "type": "array", "maxItems": 50, "items": {"type": "object", "additionalProperties": False,
                                                               "properties": {"what": {"title": f"内容{SCRIPT}", "type": "string", "maxLength": 100}}}},
        },
    }
    layout = {
        "title": f"测试表 {SCRIPT} {TEMPLATE}",
        "subtitle": ATTR,
        "paper": {"size": "A4", "orientation": "portrait"},
        "blocks": [
            {"type": "section", "title": f"一、{SCRIPT}", "style": "band", "blocks": [
                {"type": "grid", "columns": [1, 3], "rows": [
                    [{"label": f"标签{SCRIPT}"}, {"field": "note", "help": f"提示{SCRIPT}{ATTR}{TEMPLATE}"}],
                    [{"label": f"标签{ATTR}"}, {"field": "choice", "widget": "select"}],
                    [{"label": f"标签{TEMPLATE}"}, {"field": "picks"}],
                ]},
                {"type": "table", "field": "rows", "title": f"表{SCRIPT}", "columns": [{"field": "what", "label": f"列{ATTR}"}]},
            ]},
            {"type": "text", "text": f"说明文字{SCRIPT}{ATTR}"},
        ],
        "list": {"columns": ["@student.name", "note", "choice", "picks"], "filters": ["choice"], "search": ["note"]},
    }
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    (folder / "layout.json").write_text(json.dumps(layout, ensure_ascii=False), encoding="utf-8")


@dataclasses.dataclass
class XssWorld:
    client: TestClient
    student_id: int

    def csrf(self) -> str:
        return self.client.cookies.get("xd_csrf")


@pytest.fixture(params=DATABASES)
def xss(request, tmp_path):
    from server.app import create_app

    extra = tmp_path / "extra_forms"
    write_form(extra)
    base = make_settings(tmp_path, request.param)
    from_env = Settings.from_env({"XINDANG_DATA_DIR": str(base.data_dir), "XINDANG_SECRET_KEY": base.secret_key,
                                  "XINDANG_FORM_DIRS": str(extra)})
    assert from_env.form_dirs == [FORM_DEFS_DIR, extra]
    settings = dataclasses.replace(base, form_dirs=from_env.form_dirs)
    app = create_app(settings, migrate=True)
    assert FORM_ID in app.state.registry.forms, app.state.registry.problems
    try:
        with TestClient(app, base_url="http://testserver.local") as client:
            ids, _other = client.blocking_portal.call(seed)
            client.get("/login")
            response = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                                   "_csrf_token": client.cookies.get("xd_csrf")}, follow_redirects=False)
            assert response.status_code == 303
            yield XssWorld(client=client, student_id=ids[0])
    finally:
        from tortoise.backends.base.executor import EXECUTOR_CACHE

        EXECUTOR_CACHE.clear()
        drop_settings_db(settings)


class TagScan(HTMLParser):
    """Every start tag and its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_inert(page: str) -> None:
    assert "<script>alert" not in page.lower()
    scan = TagScan()
    scan.feed(page)
    for tag, attrs in scan.tags:
        assert tag not in ("script", "img", "iframe", "object", "embed") or dict(attrs).get("src", "").startswith("/static/"), (tag, attrs)
        handlers = [name for name, _value in attrs if name.startswith("on")]
        assert not handlers, (tag, attrs)
    assert "49" not in re.sub(r"<[^>]*>", " ", page).split()  # {{7*7}} is text, never evaluated


def assert_shown_escaped(page: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert TEMPLATE in page


def post_fields(world: XssWorld, **extra) -> dict:
    return {"_csrf_token": world.csrf(), "_student": str(world.student_id), **extra}


def test_definition_text_is_escaped_on_every_page(xss):
    client = xss.client
    for url in ["/forms", f"/forms/{FORM_ID}", f"/forms/{FORM_ID}/new"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_inert(response.text)
        assert "&lt;script&gt;" in response.text, url
    entry = client.get(f"/forms/{FORM_ID}/new").text
    assert_shown_escaped(entry)
    assert "&#34; onfocus=&#34;alert(1)" in entry or "&quot; onfocus=&quot;alert(1)" in entry

    # htmx fragment with an error (the required note missing)
    response = client.post(f"/forms/{FORM_ID}", data=post_fields(xss, choice=ATTR), headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "<html" not in response.text.lower()
    assert_inert(response.text)
    assert_shown_escaped(response.text)
    assert re.search(r'<option value="&#34; onfocus=&#34;alert\(1\)" selected>', response.text), "the choice is kept"


def test_answers_are_stored_and_shown_escaped(xss):
    client = xss.client
    fields = post_fields(xss, note=f"{SCRIPT}{ATTR}{TEMPLATE}", choice=SCRIPT, picks=[ATTR, TEMPLATE],
                         **{"rows.0.what": f"<img src=x onerror=alert(1)>{TEMPLATE}"})
    response = client.post(f"/forms/{FORM_ID}", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    record_url = response.headers["location"].split("?")[0]
    for url in [record_url, f"{record_url}/edit", f"/forms/{FORM_ID}", f"/forms/{FORM_ID}?q=script"]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert_inert(page.text)
        assert "<img src=x" not in page.text, url
        assert "&lt;script&gt;" in page.text, url
    view = client.get(record_url).text
    assert "&lt;img src=x onerror=alert(1)&gt;" in view
    assert TEMPLATE in view
    # the htmx fragment of an edit with an error keeps the answers escaped
    edit = post_fields(xss, note="", choice=SCRIPT, _version="1", **{"rows.0.what": SCRIPT})
    response = client.post(record_url, data=edit, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert_inert(response.text)
    assert "&lt;script&gt;" in response.text


def test_csv_cells_cannot_start_a_formula(xss):
    client = xss.client
    formulas = ['=HYPERLINK("http://evil.example","点我")', "+1+2", "-3+4", "@SUM(A1)"]
    for formula in formulas:
        response = client.post(f"/forms/{FORM_ID}", data=post_fields(xss, note=formula, **{"rows.0.what": formula}),
                               follow_redirects=False)
        assert response.status_code == 303
    response = client.get(f"/forms/{FORM_ID}?format=csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(formulas)
    notes = {row[header.index(f"备注{SCRIPT}")] for row in body}
    assert notes == {"'" + f for f in formulas}
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    # the same answers in the Excel export are plain strings, never formulas
    response = client.get(f"/forms/{FORM_ID}?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [cell for row in sheet.iter_rows() for cell in row]
    assert {c.value for c in values} >= {"'" + f for f in formulas}
    assert all(c.data_type != "f" for c in values)
