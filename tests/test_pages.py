"""The generated HTML pages of the four shipped forms, over HTTP, on SQLite (and PostgreSQL)."""

from __future__ import annotations

import html
import io
import re

import openpyxl
import pytest

from _formdata import (CJK, FORMS, about_students, assert_chinese, definition, example, form_fields, layout_labels, make_leaver, stored,
                       short_text_field, shows_student_name, squash, takes_leavers, text_values)
from server.definitions import get_path
from server.models import Record, RecordRevision


async def count_records(form_id: str | None = None) -> int:
    return await (Record.filter(form_id=form_id) if form_id else Record.all()).count()


async def record_state(record_id: int) -> tuple[int, dict]:
    record = await Record.get(id=record_id)
    return record.version, record.data


def page_text(response) -> str:
    return squash(html.unescape(response.text))


def valid_post(world, form_id: str, data: dict | None = None) -> dict:
    d = definition(form_id)
    if takes_leavers(form_id):
        world.run(make_leaver, world.student_ids[0])
    fields = form_fields(d, example(form_id) if data is None else data)
    fields["_student"] = [str(world.student_ids[0])]
    if d.subject == "class":  # a record about a class is linked to it (the fixture's 七年级(1)班)
        fields["_class"] = [str(world.run(fixture_class_id))]
    fields["_csrf_token"] = [world.csrf()]
    return fields


async def fixture_class_id() -> int:
    from server.models import SchoolClass

    return (await SchoolClass.get(school__code="t1", name="七年级(1)班")).id


def first_required(form_id: str) -> str:
    d = definition(form_id)
    return next(p for p in d.fields if d.fields[p].required and "." not in p)


def assert_error_next_to(page: str, name: str) -> None:
    dashed = name.replace(".", "-")
    field_at = page.find(f'id="f-{dashed}')
    error_at = page.find(f'class="error" id="err-{dashed}"')
    assert field_at > 0, f"no input for {name}"
    assert error_at > field_at, f"no error element after the input of {name}"
    between = page[field_at:error_at]
    assert "<td" not in between and "<th" not in between and "</td>" not in between, between
    assert f'aria-describedby="err-{dashed}"' in page
    message = re.search(rf'id="err-{re.escape(dashed)}">([^<]+)<', page).group(1)
    assert_chinese(html.unescape(message))


def create(world, form_id: str) -> int:
    response = world.client.post(f"/forms/{form_id}", data=valid_post(world, form_id), follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    match = re.fullmatch(r"/records/(\d+)\?saved=1", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


@pytest.mark.parametrize("form_id", FORMS)
def test_entry_page_and_invalid_post(logged_in, form_id):
    world, client, d = logged_in, logged_in.client, definition(form_id)
    response = client.get(f"/forms/{form_id}/new")
    assert response.status_code == 200
    text = page_text(response)
    assert squash(d.title) in text
    missing = [label for label in layout_labels(d, entry=True) if squash(label) not in text]
    assert not missing, missing
    assert "<html" in response.text and 'name="_csrf_token"' in response.text

    fields = valid_post(world, form_id)
    broken = first_required(form_id)
    fields.pop(broken)
    response = client.post(f"/forms/{form_id}", data=fields, follow_redirects=False)
    assert response.status_code == 422
    assert_error_next_to(response.text, broken)
    assert 'class="error-summary"' in response.text
    # what was typed is still there
    for value in text_values(d, example(form_id)):
        if value != get_path(example(form_id), broken):
            assert html.escape(value, quote=True) in response.text or html.escape(value, quote=False) in response.text, value
    if about_students(form_id):  # the chosen student stays chosen (a chip holding the id)
        assert f'<input type="hidden" name="_student" value="{world.student_ids[0]}">' in response.text
    if d.subject == "class":
        assert f'<option value="{fields["_class"][0]}" selected' in response.text
    assert world.run(count_records) == 0


@pytest.mark.parametrize("form_id", FORMS)
def test_create_list_view_edit_conflict_csv(logged_in, form_id):
    world, client, d = logged_in, logged_in.client, definition(form_id)
    data = example(form_id)
    record_id = create(world, form_id)
    version, saved = world.run(record_state, record_id)
    assert version == 1 and saved == stored(form_id, data)

    listing = client.get(f"/forms/{form_id}")
    assert listing.status_code == 200
    assert f'href="/records/{record_id}"' in listing.text
    if "@student.name" in d.list_config.get("columns", []):
        assert "林小雨" in listing.text

    view = client.get(f"/records/{record_id}")
    assert view.status_code == 200
    text = page_text(view)
    assert squash(d.title) in text
    if shows_student_name(form_id):
        assert "林小雨" in text
    for value in text_values(d, data):
        assert squash(value) in text, value

    edit = client.get(f"/records/{record_id}/edit")
    assert edit.status_code == 200
    assert 'name="_version" value="1"' in edit.text
    path = short_text_field(d)
    changed = {**data}
    changed_value = "改过的内容"
    from server.definitions import set_path
    import copy
    changed = copy.deepcopy(data)
    set_path(changed, path, changed_value)
    fields = valid_post(world, form_id, changed)
    fields["_version"] = ["1"]
    response = client.post(f"/records/{record_id}", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    assert response.headers["location"] == f"/records/{record_id}?saved=1"
    version, saved = world.run(record_state, record_id)
    assert version == 2 and get_path(saved, path) == changed_value
    assert changed_value in client.get(f"/records/{record_id}").text

    # a save based on version 1 is now stale: 409, nothing overwritten
    stale = valid_post(world, form_id, data)
    stale["_version"] = ["1"]
    response = client.post(f"/records/{record_id}", data=stale, follow_redirects=False)
    assert response.status_code == 409
    assert CJK.search(response.text)
    assert 'name="_version" value="2"' in response.text
    version, saved = world.run(record_state, record_id)
    assert version == 2 and get_path(saved, path) == changed_value

    csv = client.get(f"/forms/{form_id}?format=csv")
    assert csv.status_code == 200
    assert csv.content.startswith(b"\xef\xbb\xbf")
    body = csv.content.decode("utf-8")
    assert changed_value in body and ("林小雨" in body or not about_students(form_id))
    assert csv.headers["content-type"].startswith("text/csv")

    xlsx = client.get(f"/forms/{form_id}?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert changed_value in cells and ("林小雨" in cells or not about_students(form_id))


@pytest.mark.parametrize("form_id", FORMS)
def test_htmx_post(logged_in, form_id):
    world, client = logged_in, logged_in.client
    headers = {"HX-Request": "true"}
    fields = valid_post(world, form_id)
    broken = first_required(form_id)
    fields.pop(broken)
    response = client.post(f"/forms/{form_id}", data=fields, headers=headers)
    assert response.status_code == 422
    assert "<html" not in response.text.lower()
    assert response.text.lstrip().startswith('<form id="record-form"')
    assert_error_next_to(response.text, broken)
    assert world.run(count_records) == 0

    response = client.post(f"/forms/{form_id}", data=valid_post(world, form_id), headers=headers, follow_redirects=False)
    assert response.status_code == 200
    assert re.fullmatch(r"/records/\d+\?saved=1", response.headers["hx-redirect"])
    assert world.run(count_records) == 1


def test_unknown_ids_are_404(logged_in):
    client = logged_in.client
    for url in ["/forms/no_such_form", "/forms/no_such_form/new", "/forms/no_such_form/blank.pdf", "/records/999999",
                "/records/999999/edit", "/records/999999/print.pdf"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert CJK.search(response.text), url
    response = client.post("/forms/no_such_form", data={"_csrf_token": logged_in.csrf()})
    assert response.status_code == 404


async def _foreign_record(student_id: int) -> int:
    from conftest import light_password_hash
    from server.models import School, Student, User
    from server.records import create_record

    student = await Student.get(id=student_id)
    school = await School.get(id=student.school_id)
    user = await User.create(school=school, username="other-admin", display_name="外校", password_hash=light_password_hash("x"))
    record = await create_record(definition("screening_consent"), school, user, example("screening_consent"), [student])
    return record.id


def test_other_schools_record_is_404(logged_in):
    world, client = logged_in, logged_in.client
    record_id = world.run(_foreign_record, world.other_school_student_id)
    for url in [f"/records/{record_id}", f"/records/{record_id}/edit", f"/records/{record_id}/print.pdf"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "外校学生" not in response.text
    fields = valid_post(world, "screening_consent")
    fields["_version"] = ["1"]
    assert client.post(f"/records/{record_id}", data=fields).status_code == 404
    assert world.run(record_state, record_id)[0] == 1
    assert "外校学生" not in client.get("/forms/screening_consent").text
    # nor can a record be made about another school's student
    fields = valid_post(world, "screening_consent")
    fields["_student"] = [str(world.other_school_student_id)]
    response = client.post("/forms/screening_consent", data=fields, follow_redirects=False)
    assert response.status_code == 422
    assert world.run(count_records, "screening_consent") == 1


def test_not_logged_in_redirects_to_login(world):
    client = world.client
    for url in ["/forms", "/forms/registration", "/forms/registration/new", "/records/1"]:
        response = client.get(url, follow_redirects=False)
        assert response.status_code in (302, 303), url
        assert response.headers["location"].startswith("/login"), url
    response = client.post("/forms/screening_consent", data=valid_post(world, "screening_consent"), follow_redirects=False)
    assert response.status_code in (302, 303, 401)
    assert world.run(count_records) == 0


def test_post_without_csrf_token_is_403(logged_in):
    world, client = logged_in, logged_in.client
    fields = valid_post(world, "screening_consent")
    fields.pop("_csrf_token")
    response = client.post("/forms/screening_consent", data=fields, follow_redirects=False)
    assert response.status_code == 403
    assert CJK.search(response.text)
    fields["_csrf_token"] = ["forged" + world.csrf()[6:]]
    assert client.post("/forms/screening_consent", data=fields, follow_redirects=False).status_code == 403
    assert world.run(count_records) == 0


def test_row_add_and_remove_rerender_without_saving(logged_in):
    world, client = logged_in, logged_in.client
    base = {"_csrf_token": [world.csrf()], "_student": [str(world.student_ids[0])],
            "family.members.0.relation": ["父亲"], "family.members.1.relation": ["母亲"], "established_on": ["2024-09-01"]}
    response = client.post("/forms/registration", data={**base, "_action": ["add:family.members"]})
    assert response.status_code == 200
    assert 'name="family.members.2.relation"' in response.text
    assert 'name="family.members.3.relation"' not in response.text
    assert 'value="父亲"' in response.text and 'value="母亲"' in response.text
    assert 'class="error"' not in response.text  # not validated: nothing was saved yet

    response = client.post("/forms/registration", data={**base, "_action": ["remove:family.members:0"]})
    assert response.status_code == 200
    assert 'value="父亲"' not in response.text
    assert re.search(r'name="family\.members\.0\.relation" value="母亲"', response.text)

    response = client.post("/forms/individual_counseling", data={**base, "_action": ["add:sessions"],
                                                                 "sessions.0.topic": ["第一次"]})
    assert response.status_code == 200
    assert 'name="sessions.1.topic"' in response.text and 'name="sessions.2.topic"' not in response.text
    assert world.run(count_records) == 0


def test_revision_written_on_create_and_update(logged_in):
    world, client = logged_in, logged_in.client
    record_id = create(world, "attention_ledger")
    fields = valid_post(world, "attention_ledger")
    fields["owner"] = ["王老师"]
    fields["_version"] = ["1"]
    assert client.post(f"/records/{record_id}", data=fields, follow_redirects=False).status_code == 303

    async def revisions():
        return [(r.version, r.action, r.diff) for r in await RecordRevision.filter(record_id=record_id).order_by("version")]

    found = world.run(revisions)
    assert [(v, a) for v, a, _d in found] == [(1, "create"), (2, "update")]
    assert found[1][2] == {"owner": ["李华", "王老师"]}


def test_when_hides_label_and_field_until_it_matches(logged_in):
    world, client = logged_in, logged_in.client
    page = client.get("/forms/registration/new").text
    note_label = re.compile(r'<th[^>]*>(<label[^>]*>)?说明')
    assert not note_label.search(page) and 'name="health.prior_help_note"' not in page
    # changing 既往就诊 re-renders the form (the `refresh` round trip): now 说明 is asked for
    response = client.post("/forms/registration", data={"_csrf_token": world.csrf(), "_action": "refresh",
                                                         "health.prior_help": "有"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert note_label.search(response.text) and 'name="health.prior_help_note"' in response.text
    assert 'class="error"' not in response.text
    assert world.run(count_records) == 0


def test_list_search_by_student_number_and_date_range(logged_in):
    world, client = logged_in, logged_in.client
    create(world, "attention_ledger")  # examples/full.json: 纳入日期 from the example
    included = example("attention_ledger")["included_on"]
    other = dict(example("attention_ledger"), included_on="2020-03-01")
    fields = valid_post(world, "attention_ledger", other)
    fields["_student"] = [str(world.student_ids[1])]
    assert client.post("/forms/attention_ledger", data=fields, follow_redirects=False).status_code == 303

    def listed(query: str, form_id: str = "attention_ledger") -> tuple[int, str]:
        text = page_text(client.get(f"/forms/{form_id}?{query}"))
        return int(re.search(r"(\d+)\s*条", text).group(1)), text

    total, text = listed("q=周明")  # the second student's name (tests/conftest.py)
    assert total == 1 and "周明轩" in text and "林小雨" not in text
    assert listed(f"from.included_on={included}")[0] == 1
    assert listed("to.included_on=2020-12-31")[0] == 1
    assert listed("from.included_on=2019-01-01&to.included_on=2030-01-01")[0] == 2
    assert listed("from.included_on=not-a-date")[0] == 2  # ignored, never an error
    page = client.get("/forms/attention_ledger").text
    assert 'name="from.included_on"' in page and 'type="date"' in page
    # registration's list searches 学籍号 too ("@student.number" in its layout's list.search)
    create(world, "registration")
    total, text = listed("q=T0001", form_id="registration")
    assert total == 1 and "林小雨" in text
    assert listed("q=T0002", form_id="registration")[0] == 0


def test_error_summary_names_fields_and_links_to_messages(logged_in):
    world, client = logged_in, logged_in.client
    fields = valid_post(world, "screening_consent")
    fields["guardian_phone"] = ["12345"]
    fields.pop("decision")
    response = client.post("/forms/screening_consent", data=fields, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.headers["hx-reswap"] == "outerHTML show:top"
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S).group(0)
    d = definition("screening_consent")
    for name in ("decision", "guardian_phone"):
        assert f'href="#err-{name}"' in summary and html.escape(d.fields[name].title) in summary
        assert f'id="err-{name}"' in response.text
    # a pattern error carries the field's description as a hint when it has one
    if d.fields["guardian_phone"].description:
        assert html.escape(d.fields["guardian_phone"].description) in summary


def test_conflict_lists_what_differs(logged_in):
    world, client = logged_in, logged_in.client
    record_id = create(world, "attention_ledger")
    form = client.get(f"/records/{record_id}/edit").text
    assert 'name="_version" value="1"' in form
    first = valid_post(world, "attention_ledger", dict(example("attention_ledger"), owner="王老师"))
    first["_version"] = ["1"]
    assert client.post(f"/records/{record_id}", data=first, follow_redirects=False).status_code == 303
    second = valid_post(world, "attention_ledger", dict(example("attention_ledger"), owner="赵老师"))
    second["_version"] = ["1"]
    response = client.post(f"/records/{record_id}", data=second)
    assert response.status_code == 409
    changes = re.search(r'<table class="changes">.*?</table>', response.text, re.S).group(0)
    owner_title = html.escape(definition("attention_ledger").fields["owner"].title)
    assert owner_title in changes and "王老师" in changes and "赵老师" in changes
    assert world.run(record_state, record_id)[1]["owner"] == "王老师"


def test_list_sorts_by_a_column_and_ignores_unknown_sorts(logged_in):
    world, client = logged_in, logged_in.client
    for student, day in ((0, "2024-03-01"), (1, "2025-06-01")):
        fields = valid_post(world, "attention_ledger", dict(example("attention_ledger"), included_on=day))
        fields["_student"] = [str(world.student_ids[student])]
        assert client.post("/forms/attention_ledger", data=fields, follow_redirects=False).status_code == 303

    def names_in_order(query: str) -> list[str]:
        text = page_text(client.get(f"/forms/attention_ledger?{query}"))
        return sorted(("林小雨", "周明轩"), key=text.index)

    assert names_in_order("sort=included_on") == ["林小雨", "周明轩"]
    assert names_in_order("sort=-included_on") == ["周明轩", "林小雨"]
    page = client.get("/forms/attention_ledger?sort=included_on").text
    assert 'aria-sort="ascending"' in page and "sort=-included_on" in page
    for junk in ("data", "-x') OR 1=1 --", "owner.__class__", "@school.name"):
        response = client.get("/forms/attention_ledger", params={"sort": junk})
        assert response.status_code == 200 and "周明轩" in response.text


def test_login_returns_to_the_page_asked_for_with_its_query(world):
    client = world.client
    response = client.get(f"/forms/registration/new?student={world.student_ids[0]}", follow_redirects=False)
    assert response.headers["location"] == f"/login?next=%2Fforms%2Fregistration%2Fnew%3Fstudent%3D{world.student_ids[0]}"
    page = client.get(response.headers["location"]).text
    assert f'value="/forms/registration/new?student={world.student_ids[0]}"' in page


def test_every_dynamic_answer_is_no_store_and_static_files_are_not(logged_in):
    client = logged_in.client
    for url in ["/forms", "/forms/registration", "/login", "/api/forms", "/schema/openapi.json"]:
        response = client.get(url)
        assert response.headers.get_list("cache-control") == ["no-store"], url
    assert "no-store" not in client.get("/static/css/app.css").headers.get("cache-control", "")


def test_error_answers_carry_the_security_headers_too(world):
    client = world.client
    for response in (client.get("/forms", follow_redirects=False), client.get("/api/forms"),
                     client.get("/static/nope.css"), client.post("/forms/registration", data={})):
        assert "script-src 'self'" in response.headers["content-security-policy"], response.status_code
        assert response.headers["x-content-type-options"] == "nosniff"


def test_list_filters_multiple_choice_by_that_field_only(logged_in):
    world, client = logged_in, logged_in.client
    answers = (("情绪", "人际"), ("学业",))
    for student, problems in zip(world.student_ids, answers):
        data = dict(example("attention_ledger"), problem_types=list(problems), notes="人际")  # the same word elsewhere
        fields = valid_post(world, "attention_ledger", data)
        fields["_student"] = [str(student)]
        assert client.post("/forms/attention_ledger", data=fields, follow_redirects=False).status_code == 303

    def names(query: str) -> set[str]:
        text = page_text(client.get(f"/forms/attention_ledger?{query}"))
        return {name for name in ("林小雨", "周明轩") if name in text}

    assert names("f.problem_types=人际") == {"林小雨"}
    assert names("f.problem_types=学业") == {"周明轩"}
    assert names("f.problem_types=家庭") == set()
    assert names("") == {"林小雨", "周明轩"}
