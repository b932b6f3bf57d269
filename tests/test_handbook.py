"""The printed blank handbook: forms on the paper handbook's pages, contents and outline that
match, the school's own front matter, the page, the admin page and the command."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from _formdata import CJK, assert_chinese, shipped_registry, squash
from server.cli import main as cli
from renderers.handbook import handbook_pdf, text_blocks

CHARTER = """虚构示例学校心理健康工作章程
第一章 总则
本章程依据有关文件，结合本校实际制定。<b>不是标记</b>
1.1 工作目标
为每一位学生建立完善的心理健康档案，做到信息动态采集、分类存储与专人保管。"""
NOTES = "使用说明\n本手册由班主任和心理教师按表填写，填写后交心理辅导室统一保管。"
ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"]


def catalog_forms() -> list[dict]:
    return [form for part in shipped_registry().catalog["parts"] for form in part["forms"]]


def outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(level, title, page index) of every bookmark, in order."""
    found = []

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                found.append((level, item.title, reader.get_destination_page_number(item)))
    walk(reader.outline, 1)
    return found


@pytest.fixture(scope="module")
def book():
    registry = shipped_registry()
    pdf = handbook_pdf(registry, school_name="虚构示例实验学校", charter=CHARTER, notes=NOTES, other_title="其他表单")
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [page.extract_text() for page in reader.pages]


def test_every_form_starts_on_its_handbook_page(book):
    reader, texts = book
    marks = outline(reader)
    by_title = {title: index for level, title, index in marks if level == 2}
    forms = catalog_forms()
    assert len(forms) == 28
    for form in forms:
        definition = shipped_registry().get(form["id"])
        index = by_title[definition.title]
        page_text = texts[index]
        assert f"第 {form['page']} 页" in page_text, (form["id"], page_text[-80:])
        assert reader.page_labels[index] == str(form["page"])  # a viewer's "go to page" agrees with the paper
        assert squash(definition.title) in squash(page_text)
    # each form fills exactly its pages: the next one starts right after, the book ends after the last
    starts = [by_title[shipped_registry().get(f["id"]).title] for f in forms]
    for form, start, following in zip(forms, starts, starts[1:] + [len(texts)]):
        assert following - start == form["pages"], form["id"]


def test_outline_lists_parts_and_their_forms_in_handbook_order(book):
    reader, _texts = book
    marks = outline(reader)
    registry = shipped_registry()
    parts = [(level, title) for level, title, _i in marks if level == 1]
    assert [title for _l, title in parts] == ["目　录", "学生心理健康暨一生一档建设工作章程", "使用说明",
                                               *[part["title"] for part in registry.catalog["parts"]]]
    expected = []
    for part in registry.catalog["parts"]:
        expected.append((1, part["title"]))
        expected += [(2, registry.get(form["id"]).title) for form in part["forms"]]
    assert [(level, title) for level, title, _i in marks][3:] == expected
    # a part begins on the page of its first form (第一部分 on 28, as the paper contents say)
    index = {title: i for _l, title, i in marks}
    for part in registry.catalog["parts"]:
        assert index[part["title"]] == index[registry.get(part["forms"][0]["id"]).title]


def test_contents_show_the_handbook_page_numbers(book):
    reader, texts = book
    first_form = next(i for level, title, i in outline(reader) if level == 2)
    contents = squash("".join(texts[1:first_form]))
    registry = shipped_registry()
    for part in registry.catalog["parts"]:
        assert re.search(re.escape(squash(part["title"])) + r"\.{3,}" + str(part["forms"][0]["page"]), contents), part["title"]
        for form in part["forms"]:
            title = squash(registry.get(form["id"]).title)
            assert re.search(re.escape(title) + r"\.{3,}" + str(form["page"]) + r"(?!\d)", contents), form["id"]
    # the paper handbook's own examples
    assert re.search(r"第一部分基础信息档案\.{3,}28", contents)
    assert re.search(r"中小学生心理危机评估访谈记录表\.{3,}54", contents)


def test_front_matter_has_its_own_numbering_and_the_school_texts(book):
    reader, texts = book
    first_form = next(i for level, title, i in outline(reader) if level == 2)
    assert "虚构示例实验学校" in texts[0] and "学生心理健康“一生一档”工作手册" in texts[0]
    assert "第" not in texts[0].splitlines()[-1]  # the cover has no page number
    for index in range(1, first_form):
        assert texts[index].split()[-1] == ROMAN[index], (index, texts[index][-40:])
    assert reader.page_labels[:first_form] == ROMAN[:first_form]
    front = squash("".join(texts[1:first_form]))
    assert "本章程依据有关文件，结合本校实际制定。<b>不是标记</b>" in front  # typed text, printed as text
    assert "填写后交心理辅导室统一保管" in front
    assert re.search(r"学生心理健康暨一生一档建设工作章程\.{3,}(iii|iv)", front)


def test_running_header_names_the_part_and_marks_confidential_forms(book):
    reader, texts = book
    marks = outline(reader)
    index = {title: i for _l, title, i in marks}
    registry = shipped_registry()
    crisis = index[registry.get("crisis_assessment").title]
    assert "第四部分 心理辅导、干预与危机处置档案" in texts[crisis + 1]
    assert "保密" in texts[crisis + 1]


def test_school_texts_become_paragraphs_and_headings():
    assert text_blocks(CHARTER)[:3] == [("heading", "虚构示例学校心理健康工作章程"), ("heading", "第一章 总则"),
                                        ("paragraph", "本章程依据有关文件，结合本校实际制定。<b>不是标记</b>")]
    assert text_blocks("\n\n  \n") == []


def test_without_school_texts_the_forms_still_start_on_page_28():
    reader = PdfReader(io.BytesIO(handbook_pdf(shipped_registry(), school_name="虚构学校")))
    marks = outline(reader)
    assert [title for level, title, _i in marks if level == 1][:2] == ["目　录", "第一部分 基础信息档案"]
    first = next(i for level, title, i in marks if level == 2)
    assert "第 28 页" in reader.pages[first].extract_text()
    last = catalog_forms()[-1]  # the last form starts on its catalog page and fills the book's last pages
    assert f"第 {last['page']} 页" in reader.pages[len(reader.pages) - last["pages"]].extract_text()


# --- the page, the admin page, the command ----------------------------------------------------

def test_handbook_pdf_page_and_front_matter_admin(logged_in, monkeypatch):
    world, client = logged_in, logged_in.client
    import server.routes.handbook as route

    renders = []
    monkeypatch.setattr(route, "handbook_pdf", lambda *a, **k: renders.append(1) or handbook_pdf(*a, **k))
    catalog = client.get("/forms")
    assert 'href="/handbook.pdf"' in catalog.text and 'href="/admin/handbook"' in catalog.text

    admin_page = client.get("/admin/handbook")
    assert admin_page.status_code == 200 and 'name="handbook_charter"' in admin_page.text
    too_long = {"handbook_charter": "章" * 50_001, "handbook_notes": "说明", "_csrf_token": world.csrf()}
    response = client.post("/admin/handbook", data=too_long)
    assert response.status_code == 422 and "50000" in response.text
    bad = {"handbook_charter": "章程\x07", "handbook_notes": "", "_csrf_token": world.csrf()}
    response = client.post("/admin/handbook", data=bad)
    assert response.status_code == 422 and "控制字符" in response.text
    assert world.run(school_texts) == ("", "")

    good = {"handbook_charter": CHARTER, "handbook_notes": NOTES, "_csrf_token": world.csrf()}
    response = client.post("/admin/handbook", data=good, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/handbook?saved=1"
    assert world.run(school_texts) == (CHARTER, NOTES)
    assert "<b>不是标记</b>" not in client.get("/admin/handbook").text  # escaped in the textarea

    response = client.get("/handbook.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert "handbook.pdf" in response.headers["content-disposition"]
    text = squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages[:6]))
    assert "测试实验学校" in text and "结合本校实际制定" in text
    assert client.get("/handbook.pdf").content == response.content and len(renders) == 1  # kept, not laid out again

    world.run(add_teacher)
    client.post("/logout", data={"_csrf_token": world.csrf()})
    world.login("teacher")
    assert 'href="/admin/handbook"' not in client.get("/forms").text
    refused = client.get("/admin/handbook")
    assert refused.status_code == 403
    assert "管理员" in refused.text and CJK.search(refused.text)
    refused = client.post("/admin/handbook", data={**good, "handbook_notes": "改", "_csrf_token": world.csrf()})
    assert refused.status_code == 403 and world.run(school_texts) == (CHARTER, NOTES)

    client.post("/logout", data={"_csrf_token": world.csrf()})
    assert client.get("/handbook.pdf", follow_redirects=False).status_code in (302, 303, 401)


async def school_texts() -> tuple[str, str]:
    from server.models import School

    school = await School.get(code="t1")
    return school.handbook_charter, school.handbook_notes


async def add_teacher() -> None:
    from conftest import PASSWORD, light_password_hash
    from server.models import School, User

    await User.create(school=await School.get(code="t1"), username="teacher", display_name="班主任",
                      password_hash=light_password_hash(PASSWORD))


def test_print_handbook_command(tmp_path):
    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--school-name", "虚构县第二中学", "--admin-password", "Long-enough-9"], env=env)
    assert result.exit_code == 0, result.output
    target = tmp_path / "手册.pdf"
    result = runner.invoke(cli, ["print", "--handbook", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    reader = PdfReader(str(target))
    assert "虚构县第二中学" in reader.pages[0].extract_text()
    assert [t for level, t, _i in outline(reader) if level == 1][1] == "第一部分 基础信息档案"
    result = runner.invoke(cli, ["print", "-o", str(target)], env=env)
    assert result.exit_code == 2 and CJK.search(result.output)
    result = runner.invoke(cli, ["print", "--handbook", "--school", "nope", "-o", str(tmp_path / "x.pdf")], env=env)
    assert result.exit_code == 1 and not (tmp_path / "x.pdf").exists()
    assert_chinese(result.output.strip())
