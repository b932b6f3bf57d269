"""The form editor end to end over HTTP: a draft edited cell by cell, its problems shown where they are,
the review of what publishing changes, publishing, versions pinned to records, history, rollback,
export and import, the shipped definition changing under a school's own version, and two admins
editing the same draft at once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import subprocess
import zipfile

import pytest

from _formdata import example, form_fields, squash
from _formdata import definition as shipped
from conftest import PASSWORD, light_password_hash
from server.models import AuditEntry, FormDraft, FormVersion, Record, RecordRevision, School, SchoolClass, User

FORM = "classroom_observation"
EDITOR = f"/admin/forms/{FORM}"


def revision(html: str) -> str:
    return re.search(r'name="revision" value="(\d+)"', html).group(1)


def edit(world, op: str, seen: str | None = None, form_id: str = FORM, **fields) -> "object":
    if seen is None:
        seen = revision(world.client.get(f"/admin/forms/{form_id}").text)
    return world.client.post(f"/admin/forms/{form_id}/edit", data={"_csrf_token": world.csrf(), "op": op, "revision": seen, **fields},
                             headers={"HX-Request": "true"})


def draft_of(world, form_id: str = FORM) -> FormDraft:
    return world.run(lambda: FormDraft.get(form_id=form_id))


def publish(world, form_id: str = FORM, confirm: bool = False, note: str = ""):
    review = world.client.get(f"/admin/forms/{form_id}/review")
    assert review.status_code == 200, review.text
    data = {"_csrf_token": world.csrf(), "revision": revision(review.text), "note": note}
    if confirm:
        data["confirm_critical"] = "yes"
    return world.client.post(f"/admin/forms/{form_id}/publish", data=data, follow_redirects=False)


def create_record(world, data: dict, form_id: str = FORM) -> dict:
    response = world.client.post(f"/api/forms/{form_id}/records", json={"students": [world.student_ids[0]], "data": data},
                                 headers={"Authorization": f"Bearer {token(world)}"})
    assert response.status_code == 201, response.text
    return response.json()


def token(world) -> str:
    from server.auth import create_token

    if "api" not in world.__dict__:
        world.__dict__["api"] = world.run(lambda: create_token_for("admin"))
    return world.__dict__["api"]


async def create_token_for(username: str) -> str:
    from server.auth import create_token

    return await create_token(await User.get(username=username))


async def add_user(username: str, roles: list[str], with_class: bool = False) -> None:
    user = await User.create(school=await School.get(code="t1"), username=username, display_name=username, roles=roles,
                             password_hash=light_password_hash(PASSWORD))
    if with_class:
        await user.classes.add(await SchoolClass.get(name="七年级(1)班"))


def pdf_text(pdf: bytes) -> str:
    return squash(subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout.decode())


def versions(world, form_id: str = FORM) -> list[tuple[int, str]]:
    return world.run(lambda: FormVersion.filter(form_id=form_id, school__code="t1").order_by("version").values_list("version", "origin"))


def test_acceptance_add_a_bounded_field_and_a_conditional_section_move_cells_preview_publish_fill_and_print_old(logged_in):
    """The issue's acceptance, over HTTP: the record made before the change still shows and prints as it was."""
    world = logged_in
    old = create_record(world, {**example(FORM), "plan": "每周一次，持续一个月"})
    assert old["form_version"] == 1
    # a field "观察时长（分钟）" with 1–45 bounds, in a new row of the first grid
    response = edit(world, "add_field", place="b0", kind="integer", title="观察时长（分钟）", minimum="1", maximum="45", where="new_row")
    assert response.status_code == 200, response.text
    schema = draft_of(world).schema
    added = next(name for name, sub in schema["properties"].items() if sub.get("title") == "观察时长（分钟）")
    assert schema["properties"][added] == {"title": "观察时长（分钟）", "type": "integer", "minimum": 1, "maximum": 45}
    # a section after the observations, shown only when some observation's 情绪表现 includes 哭泣
    assert edit(world, "add_block", place="b1", kind="section", title="哭泣情况跟进").status_code == 200
    layout = draft_of(world).layout
    assert layout["blocks"][2]["type"] == "section"
    response = edit(world, "block", place="b2", select="b2", title="哭泣情况跟进", when_field="observations[].emotions", when_op="includes",
                    when_value="哭泣")
    assert response.status_code == 200, response.text
    assert 'value="observations[].emotions" selected' in response.text  # the picker shows the condition it made
    # move two cells: 班主任's label and field swap with 建表日期's
    row_before = draft_of(world).layout["blocks"][0]["rows"][1]
    assert edit(world, "move_cell", place="b0/r1/c0", direction="right").status_code == 200
    assert edit(world, "move_cell", place="b0/r1/c3", direction="left").status_code == 200
    row_after = draft_of(world).layout["blocks"][0]["rows"][1]
    assert [row_after[i] for i in (0, 1, 2, 3)] == [row_before[1], row_before[0], row_before[3], row_before[2]]
    # preview: the entry page beside the editor, the PDF blank and with an example, with its page count
    page = world.client.get(EDITOR)
    assert "观察时长（分钟）" in page.text and "ed-preview-form" in page.text
    counts = world.client.get(f"{EDITOR}/pages")
    assert re.search(r"\d+ 页", counts.text) or re.search(r"Paper pages: \d+ blank", counts.text), counts.text
    preview = world.client.get(f"{EDITOR}/preview.pdf")
    assert preview.headers["content-type"] == "application/pdf" and "观察时长（分钟）" in pdf_text(preview.content)
    # review lists the new field; nothing critical, so publishing needs no confirmation
    review = world.client.get(f"{EDITOR}/review")
    assert "观察时长（分钟）" in review.text and "confirm_critical" not in review.text
    published = publish(world, note="加观察时长")
    assert published.status_code == 303, published.text
    assert versions(world)[-1] == (2, "edit")
    assert world.run(lambda: FormDraft.filter(form_id=FORM).count()) == 0
    # a teacher fills the new version: the bound is enforced, the record is version 2
    too_long = world.client.post(f"/api/forms/{FORM}/records", json={"students": [world.student_ids[0]], "data": {**example(FORM), added: 60}},
                                 headers={"Authorization": f"Bearer {token(world)}"})
    assert too_long.status_code == 422 and "45" in json.dumps(too_long.json(), ensure_ascii=False)
    new = create_record(world, {**example(FORM), added: 30})
    assert new["form_version"] == 2
    entry = world.client.get(f"/forms/{FORM}/new?student={world.student_ids[0]}")
    assert "观察时长（分钟）" in entry.text
    # the old record still shows and prints with version 1: no new field, its own cells
    view = world.client.get(f"/records/{old['id']}")
    assert view.status_code == 200 and "每周一次，持续一个月" in view.text and "观察时长（分钟）" not in view.text
    printed = pdf_text(world.client.get(f"/records/{old['id']}/print.pdf").content)
    assert "每周一次，持续一个月" in printed and "观察时长（分钟）" not in printed and "哭泣情况跟进" not in printed
    assert "观察时长（分钟）" in pdf_text(world.client.get(f"/records/{new['id']}/print.pdf").content)


def test_a_critical_change_needs_a_system_administrators_confirmation(logged_in):
    world = logged_in
    create_record(world, {**example(FORM), "plan": "每周一次"})
    world.run(add_user, "deyu", ["moral_education"])
    # 德育处 removes the field 观察安排 (answered by a stored record): critical
    world.client.cookies.clear()
    world.login("deyu")
    assert edit(world, "delete_cell", place="b0/r1/c5").status_code == 200
    assert edit(world, "delete_cell", place="b0/r1/c4").status_code == 200
    assert edit(world, "cell", place="b0/r1/c3", span="3").status_code == 200  # 建表日期 takes the freed columns
    review = world.client.get(f"{EDITOR}/review")
    assert "plan" in review.text or "观察安排" in review.text
    assert 'name="confirm_critical"' not in review.text  # 德育处 cannot confirm
    refused = publish(world, confirm=True)
    assert refused.status_code == 403
    refused = publish(world)
    assert refused.status_code == 409
    assert versions(world) == [(1, "base")]
    # the 系统管理员 confirms
    world.client.cookies.clear()
    world.login()
    review = world.client.get(f"{EDITOR}/review")
    assert 'name="confirm_critical"' in review.text
    assert publish(world, confirm=True).status_code == 303
    assert versions(world)[-1] == (2, "edit")
    row = world.run(lambda: FormVersion.get(form_id=FORM, version=2))
    assert row.critical >= 1


def test_edits_by_two_admins_at_once_lose_nothing(world):
    """A field edit made on an outdated view is applied to the newest draft; a positional edit on an outdated
    view is refused (409) with the newest draft shown, never applied to cells that moved."""
    world.login()
    first = revision(world.client.get(EDITOR).text)
    assert edit(world, "field", seen=first, field="plan", title="观察安排（频次）", kind="short_text").status_code == 200
    # the second admin still shows revision 0 … their field edit lands on top of the first one's
    assert edit(world, "field", seen=first, field="head_teacher", title="班主任姓名", kind="short_text").status_code == 200
    schema = draft_of(world).schema
    assert schema["properties"]["plan"]["title"] == "观察安排（频次）"
    assert schema["properties"]["head_teacher"]["title"] == "班主任姓名"
    # a move on the outdated view is refused and changes nothing
    before = draft_of(world)
    stale = edit(world, "move_cell", seen=first, place="b0/r1/c0", direction="right")
    assert stale.status_code == 409 and "flash error" in stale.text
    after = draft_of(world)
    assert (after.revision, after.layout) == (before.revision, before.layout)
    # the advanced view's whole-document save on an outdated view: refused, the typed text kept on the page
    typed = json.dumps(after.schema, ensure_ascii=False).replace("观察安排（频次）", "别人的改动")
    stale = edit(world, "json", seen=first, schema_json=typed, layout_json=json.dumps(after.layout, ensure_ascii=False))
    assert stale.status_code == 409 and "别人的改动" in stale.text
    assert draft_of(world).schema["properties"]["plan"]["title"] == "观察安排（频次）"


def test_simultaneous_saves_of_one_draft_all_land(world):
    """Ten admins' field edits at the same moment, all made on the same view: each save reads, applies and
    writes conditionally on the revision, retrying when another landed in between; none is lost."""
    from server.form_drafts import edit_draft

    world.login()
    titles = {"head_teacher": "甲", "plan": "乙", "reviewer": "丙", "next_step": "丁", "review_summary": "戊"}

    async def together():
        school, admin = await School.get(code="t1"), await User.get(username="admin")
        forms = await world.client.app.state.forms.school_forms(school.id)
        await asyncio.gather(*(edit_draft(school.id, FORM, forms.get(FORM), "field", {"field": name, "title": title}, 0, admin)
                               for name, title in titles.items()))

    world.run(together)
    draft = draft_of(world)
    assert {name: draft.schema["properties"][name]["title"] for name in titles} == titles
    assert draft.revision == len(titles)


HOSTILE = [
    # the last item: words of the refusal's message (the page holds none of them otherwise)
    ("xss label", lambda s, l: s["properties"]["plan"].update(title="<script>alert(1)</script>"), "HTML 标签"),
    ("redos pattern", lambda s, l: s["properties"]["plan"].update(pattern="(a+)+\\1"), "RE2"),
    ("remote ref", lambda s, l: s["properties"]["plan"].update({"$ref": "https://evil.example/x.json"}), "evil.example"),
    ("10000 fields", lambda s, l: s["properties"].update({f"f{n}": {"type": "string"} for n in range(10_000)}), "1000 个"),
]


@pytest.mark.parametrize("name,spoil,word", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_definition_is_refused_with_a_clear_message(logged_in, name, spoil, word):
    world = logged_in
    exported = json.loads(world.client.get(f"{EDITOR}/export").content)
    spoil(exported["schema"], exported["layout"])
    upload = world.client.post("/admin/forms/import", data={"_csrf_token": world.csrf()},
                               files={"file": ("form.json", json.dumps(exported).encode(), "application/json")})
    assert upload.status_code == 422
    assert word in upload.text
    assert "<script>alert(1)</script>" not in upload.text
    assert world.run(lambda: FormDraft.all().count()) == 0
    # the same through the API: 422 with the problems, nothing published
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": exported["schema"], "layout": exported["layout"]},
                               headers={"Authorization": f"Bearer {token(world)}"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] and all(e["message"] for e in answer.json()["errors"])
    assert versions(world) == [(1, "base")]


def test_export_and_import_round_trip_as_json_and_zip(logged_in):
    world = logged_in
    assert edit(world, "field", field="plan", title="观察计划", kind="short_text").status_code == 200
    exported = world.client.get(f"{EDITOR}/export")
    assert exported.status_code == 200 and json.loads(exported.content)["form_id"] == FORM
    zipped = world.client.get(f"{EDITOR}/export?format=zip")
    assert set(zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()) == {f"{FORM}/schema.json", f"{FORM}/layout.json"}
    # a school imports the ZIP as a new form of its own
    imported = world.client.post("/admin/forms/import", data={"_csrf_token": world.csrf(), "form_id": "observation_copy"},
                                 files={"file": ("form.zip", zipped.content, "application/zip")}, follow_redirects=False)
    assert imported.status_code == 303, imported.text
    draft = draft_of(world, "observation_copy")
    assert draft.origin == "import" and draft.schema == json.loads(exported.content)["schema"]
    # a draft being edited is never thrown away by an import or a rollback
    again = world.client.post("/admin/forms/import", data={"_csrf_token": world.csrf()},
                              files={"file": ("form.json", exported.content, "application/json")})
    assert again.status_code == 422 and draft_of(world).schema["properties"]["plan"]["title"] == "观察计划"
    rollback = world.client.post(f"{EDITOR}/versions/1/restore", data={"_csrf_token": world.csrf()})
    assert rollback.status_code == 409 and draft_of(world).schema["properties"]["plan"]["title"] == "观察计划"
    assert publish(world, "observation_copy").status_code == 303
    assert versions(world, "observation_copy") == [(1, "import")]
    assert world.client.get("/forms/observation_copy/new").status_code == 200
    assert "observation_copy" in [f["id"] for f in world.client.get("/api/forms", headers={"Authorization": f"Bearer {token(world)}"}).json()]


def test_history_diff_and_rollback(logged_in):
    world = logged_in
    assert edit(world, "field", field="plan", title="观察计划", kind="short_text").status_code == 200
    assert publish(world).status_code == 303
    history = world.client.get(f"{EDITOR}/versions?a=1&b=2")
    assert history.status_code == 200 and "观察计划" in history.text
    restored = world.client.post(f"{EDITOR}/versions/1/restore", data={"_csrf_token": world.csrf()}, follow_redirects=False)
    assert restored.status_code == 303 and restored.headers["location"].endswith("/review")
    assert publish(world).status_code == 303
    assert versions(world) == [(1, "base"), (2, "edit"), (3, "rollback")]
    v1, v3 = world.run(lambda: FormVersion.get(form_id=FORM, version=1)), world.run(lambda: FormVersion.get(form_id=FORM, version=3))
    assert (v1.schema, v1.layout) == (v3.schema, v3.layout)
    actions = world.run(lambda: AuditEntry.filter(target=f"form:{FORM}").values_list("action", flat=True))
    assert {"draft", "publish"} <= set(actions)


def test_problems_are_shown_at_the_cell_they_concern_and_block_publishing(logged_in):
    world = logged_in
    response = edit(world, "add_field", place="b0/r1/c5", kind="short_text", title="备注", where="after")
    assert response.status_code == 200
    assert "error-summary" in response.text and "has-problem" in response.text  # the row is now wider than the grid
    review = world.client.get(f"{EDITOR}/review")
    assert "/publish" not in review.text
    fixed = edit(world, "delete_cell", place="b0/r1/c7")
    fixed = edit(world, "delete_cell", place="b0/r1/c6")
    assert "error-summary" not in fixed.text
    # a problem in the schema, typed in the JSON view, is shown at the cell of its field
    draft = draft_of(world)
    draft.schema["properties"]["plan"]["maxLength"] = -1
    typed = edit(world, "json", schema_json=json.dumps(draft.schema, ensure_ascii=False), layout_json=json.dumps(draft.layout, ensure_ascii=False))
    assert typed.status_code == 200 and "/properties/plan/maxLength" in typed.text
    at_cell = world.client.get(f"{EDITOR}?select=b0/r1/c5")
    assert 'href="/admin/forms/classroom_observation?select=b0/r1/c5"' in at_cell.text
    assert re.search(r'class="field selected has-problem"', at_cell.text)
    assert at_cell.text.count('class="error" role="alert"') == 1  # the problem's sentence in the cell's panel


def test_only_form_editors_reach_the_editor(world):
    world.run(add_user, "teacher", ["homeroom_teacher"])
    world.login("teacher")
    for url in ("/admin/forms/", EDITOR, f"{EDITOR}/versions", f"{EDITOR}/export"):
        assert world.client.get(url).status_code == 403
    assert edit(world, "field", seen="0", field="plan", title="x").status_code == 403


def republish_without_plan_and_with_duration(world) -> str:
    """Version 2: 观察安排 removed (critical), 观察缘由 retitled, a required 观察时长（分钟）."""
    assert edit(world, "delete_cell", place="b0/r1/c5").status_code == 200
    assert edit(world, "delete_cell", place="b0/r1/c4").status_code == 200
    assert edit(world, "cell", place="b0/r1/c3", span="3").status_code == 200
    assert edit(world, "field", field="reason", title="观察起因").status_code == 200
    assert edit(world, "add_field", place="b0", kind="integer", title="观察时长（分钟）", minimum="1", maximum="45",
                where="new_row").status_code == 200
    added = next(n for n, sub in draft_of(world).schema["properties"].items() if sub.get("title") == "观察时长（分钟）")
    assert edit(world, "field", field=added, required="on").status_code == 200
    assert publish(world, confirm=True).status_code == 303
    return added


def current_definition(world, form_id: str = FORM):
    async def find():
        school = await School.get(code="t1")
        return (await world.client.app.state.forms.school_forms(school.id)).get(form_id)

    return world.run(find)


def test_an_old_record_is_carried_to_the_current_version_showing_what_moves(logged_in):
    world = logged_in
    old = create_record(world, {**example(FORM), "plan": "每周一次，持续一个月"})
    added = republish_without_plan_and_with_duration(world)
    # editing the old record keeps its version, and offers to carry it over
    page = world.client.get(f"/records/{old['id']}/edit")
    assert page.status_code == 200 and f"/records/{old['id']}/upgrade" in page.text and "每周一次，持续一个月" in page.text
    upgrade = world.client.get(f"/records/{old['id']}/upgrade")
    assert upgrade.status_code == 200
    plan = upgrade.text[upgrade.text.index("upgrade-plan"):upgrade.text.index("</div>", upgrade.text.index("upgrade-plan"))]
    assert "每周一次，持续一个月" in plan  # dropped, shown with its value
    assert "观察缘由 → 观察起因" in plan
    assert "观察时长（分钟）" in plan  # to fill
    new_definition = current_definition(world)
    carried = {k: v for k, v in example(FORM).items() if k != "plan"}
    fields = {**form_fields(new_definition, carried), "_csrf_token": world.csrf(), "_version": str(old["version"])}
    # without the duration and without confirming the loss: refused, nothing changed
    refused = world.client.post(f"/records/{old['id']}/upgrade", data=fields)
    assert refused.status_code == 422 and "err-_confirm_loss" in refused.text and f"err-{added}" in refused.text
    stored = world.run(lambda: Record.get(id=old["id"]))
    assert stored.form_version == 1 and stored.data["plan"] == "每周一次，持续一个月"
    saved = world.client.post(f"/records/{old['id']}/upgrade", data={**fields, added: "20", "_confirm_loss": "yes"}, follow_redirects=False)
    assert saved.status_code in (303, 200), saved.text
    stored = world.run(lambda: Record.get(id=old["id"]))
    assert stored.form_version == 2 and stored.data[added] == 20 and "plan" not in stored.data
    # the dropped answer stays in the record's history
    last = world.run(lambda: RecordRevision.filter(record_id=old["id"]).order_by("-version").first())
    assert last.action == "upgrade" and last.data_before["plan"] == "每周一次，持续一个月"
    history = world.client.get(f"/records/{old['id']}/history")
    assert "每周一次，持续一个月" in history.text
    # an up-to-date record is not offered (and cannot be carried) again
    assert f"/records/{old['id']}/upgrade" not in world.client.get(f"/records/{old['id']}/edit").text
    assert world.client.get(f"/records/{old['id']}/upgrade").status_code == 404


def test_exports_span_every_version_with_a_version_column(logged_in):
    world = logged_in
    create_record(world, {**example(FORM), "plan": "每周一次，持续一个月"})
    added = republish_without_plan_and_with_duration(world)
    create_record(world, {**{k: v for k, v in example(FORM).items() if k != "plan"}, added: 25})
    rows = list(csv.reader(io.StringIO(world.client.get(f"/forms/{FORM}?format=csv").content.decode("utf-8-sig"))))
    header = rows[0]
    assert "观察时长（分钟）" in header and any(h.startswith("观察安排") for h in header)
    by_version = {row[header.index("表单版本")]: row for row in rows[1:]}
    plan_column = next(i for i, h in enumerate(header) if h.startswith("观察安排"))
    assert by_version["1"][plan_column] == "每周一次，持续一个月" and by_version["2"][plan_column] == ""
    assert by_version["2"][header.index("观察时长（分钟）")] == "25" and by_version["1"][header.index("观察时长（分钟）")] == ""
    # JSON: each record with its version, and the answers its version had
    exported = json.loads(world.client.get(f"/forms/{FORM}?format=json").content)
    assert sorted(r["form_version"] for r in exported) == [1, 2] and len({r["number"] for r in exported}) == 2
    assert next(r for r in exported if r["form_version"] == 1)["data"]["plan"] == "每周一次，持续一个月"
    xlsx = world.client.get(f"/forms/{FORM}?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def api_headers(world, username: str = "admin") -> dict:
    return {"Authorization": f"Bearer {world.run(lambda: create_token_for(username))}"}


def test_versions_api_lists_checks_refuses_and_publishes(world):
    world.run(add_user, "deyu", ["moral_education"])
    world.run(add_user, "teacher", ["homeroom_teacher"])
    admin, deyu = api_headers(world), api_headers(world, "deyu")
    listed = world.client.get(f"/api/forms/{FORM}/versions", headers=admin)
    assert listed.status_code == 200 and listed.json()["current"] == 1
    assert [v["origin"] for v in listed.json()["versions"]] == ["base"]
    assert world.client.get(f"/api/forms/{FORM}/versions", headers=api_headers(world, "teacher")).status_code == 403
    definition = world.client.get(f"/api/forms/{FORM}", headers=admin).json()
    schema, layout = definition["schema"], definition["layout"]
    create_record(world, {**example(FORM), "plan": "每周一次"})
    # 422: a broken definition, with its problems
    broken = json.loads(json.dumps(schema))
    broken["properties"]["plan"]["type"] = "strnig"
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": broken, "layout": layout}, headers=admin)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"].startswith("/properties/plan")
    # 409: the option a stored record uses is removed, listed with the records it touches
    narrowed = json.loads(json.dumps(schema))
    used = example(FORM)["reason"]
    narrowed["properties"]["reason"]["enum"] = [o for o in narrowed["properties"]["reason"]["enum"] if o != used]
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": narrowed, "layout": layout}, headers=deyu)
    assert answer.status_code == 409
    critical = [c for c in answer.json()["changes"] if c["critical"]]
    assert critical and critical[0]["kind"] == "option_removed" and critical[0]["records"] == 1
    # the 德育处's confirmation is not enough; the 系统管理员's is
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": narrowed, "layout": layout, "confirm_critical": True},
                               headers=deyu)
    assert answer.status_code == 409 and "系统管理员" in json.dumps(answer.json(), ensure_ascii=False)
    answer = world.client.post(f"/api/forms/{FORM}/versions",
                               json={"schema": narrowed, "layout": layout, "confirm_critical": True, "note": "去掉一个缘由"}, headers=admin)
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"]["version"] == 2 and answer.json()["version"]["note"] == "去掉一个缘由"
    # a harmless change needs no confirmation, from the 德育处 too
    retitled = json.loads(json.dumps(narrowed))
    retitled["properties"]["plan"]["title"] = "观察计划"
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": retitled, "layout": layout}, headers=deyu)
    assert answer.status_code == 201 and [c["kind"] for c in answer.json()["changes"]] == ["title_changed"]
    # each version stays readable: the record's own version through ?version=
    assert world.client.get(f"/api/forms/{FORM}?version=1", headers=admin).json()["schema"] == schema
    assert world.client.get(f"/api/forms/{FORM}", headers=admin).json()["version"] == 3
    assert world.client.get(f"/api/forms/{FORM}?version=9", headers=admin).status_code == 404
    # a new form can be pushed by a script
    answer = world.client.post("/api/forms/district_survey/versions", json={"schema": {**retitled, "title": "区级调查"},
                                                                             "layout": {**layout, "title": "区级调查"}}, headers=admin)
    assert answer.status_code == 201 and answer.json()["version"]["version"] == 1
    assert world.client.get("/api/forms/district_survey", headers=admin).status_code == 200


def changed_library(world, edit_schema):
    """The app's forms after an upgrade of xindang that changes the shipped definition of FORM."""
    import copy

    from server.definitions import Definition
    from server.form_versions import FormLibrary
    from server.registry import Registry, order_parts

    base = world.client.app.state.registry
    shipped = base.get(FORM)
    schema = copy.deepcopy(shipped.schema)
    edit_schema(schema)
    forms = {**base.forms, FORM: Definition(form_id=FORM, schema=schema, layout=shipped.layout, source_dir=shipped.source_dir)}
    return FormLibrary(Registry(forms=forms, parts=order_parts(base.catalog, forms), problems={}, catalog=base.catalog))


def test_a_changed_shipped_definition_is_taken_over_unless_the_school_changed_the_form(logged_in):
    world = logged_in
    old = create_record(world, {**example(FORM), "plan": "每周一次"})

    def upstream(schema):
        schema["properties"]["head_teacher"]["title"] = "班主任（签名）"
        schema["properties"]["plan"]["title"] = "观察安排（上游）"

    world.client.app.state.forms = changed_library(world, upstream)
    # the school never changed the form: the update is its version 2; the old record keeps version 1
    assert current_definition(world).fields["head_teacher"].title == "班主任（签名）"  # the first request takes it over
    assert versions(world) == [(1, "base"), (2, "upstream")]
    assert "观察安排（上游）" not in world.client.get(f"/records/{old['id']}").text
    # a school that changed the form keeps its version when the next update comes, and is offered a merge
    assert edit(world, "field", field="plan", title="观察计划（本校）").status_code == 200
    assert edit(world, "field", field="reviewer", title="阅评教师").status_code == 200
    assert publish(world).status_code == 303

    def second(schema):
        upstream(schema)
        schema["properties"]["head_teacher"]["title"] = "班主任姓名"
        schema["properties"]["plan"]["title"] = "观察安排（新）"

    world.client.app.state.forms = changed_library(world, second)
    page = world.client.get(EDITOR)
    assert versions(world)[-1] == (3, "edit")  # not overwritten
    assert f"{EDITOR}/merge" in page.text
    merged = world.client.post(f"{EDITOR}/merge", data={"_csrf_token": world.csrf()}, follow_redirects=False)
    assert merged.status_code == 303
    draft = draft_of(world)
    assert draft.origin == "merge"
    assert draft.schema["properties"]["head_teacher"]["title"] == "班主任姓名"  # only upstream changed it: taken
    assert draft.schema["properties"]["plan"]["title"] == "观察计划（本校）"  # both changed it: the school's kept …
    assert draft.schema["properties"]["reviewer"]["title"] == "阅评教师"  # only the school changed it: kept
    assert "/properties/plan/title" in world.client.get(EDITOR).text  # … and listed as a conflict
    assert publish(world).status_code == 303
    assert versions(world)[-1] == (4, "merge")
    assert f"{EDITOR}/merge" not in world.client.get(EDITOR).text  # the update is in: nothing more to merge


def test_a_new_form_from_scratch_or_as_a_copy(logged_in):
    world = logged_in
    made = world.client.post("/admin/forms/new", data={"_csrf_token": world.csrf(), "form_id": "class_visit", "title": "家访记录（本校）"},
                             follow_redirects=False)
    assert made.status_code == 303
    copy_made = world.client.post("/admin/forms/new", data={"_csrf_token": world.csrf(), "form_id": "observation_short",
                                                            "title": "简版课堂观察", "copy_of": FORM}, follow_redirects=False)
    assert copy_made.status_code == 303
    assert draft_of(world, "observation_short").schema["properties"].keys() == current_definition(world).schema["properties"].keys()
    taken = world.client.post("/admin/forms/new", data={"_csrf_token": world.csrf(), "form_id": FORM, "title": "x"})
    assert taken.status_code == 422 and FORM in taken.text
    bad = world.client.post("/admin/forms/new", data={"_csrf_token": world.csrf(), "form_id": "Bad Id!", "title": "x"})
    assert bad.status_code == 422
    listing = world.client.get("/admin/forms/")
    assert "class_visit" in listing.text and "observation_short" in listing.text
    assert publish(world, "class_visit").status_code == 303
    assert world.client.get("/forms/class_visit").status_code == 200
    assert "家访记录（本校）" in world.client.get("/forms").text


def test_tightened_access_protects_old_records_too(logged_in):
    """Who may read follows the version in use, also for records made with an older one."""
    world = logged_in
    world.run(add_user, "deyu", ["moral_education"])
    old = create_record(world, {**example(FORM), "plan": "每周一次，持续一个月"})
    page = edit(world, "field", field="plan", select="b0/r1/c5", readers_shown="1", readers="psych_teacher")
    assert page.status_code == 200 and 'name="readers" value="psych_teacher" checked' in page.text
    assert publish(world).status_code == 303
    assert current_definition(world).fields["plan"].schema["x-access"] == {"read": ["psych_teacher"]}
    world.client.cookies.clear()
    world.login("deyu")
    view = world.client.get(f"/records/{old['id']}")
    assert view.status_code == 200 and "每周一次，持续一个月" not in view.text
    assert "每周一次，持续一个月" not in pdf_text(world.client.get(f"/records/{old['id']}/print.pdf").content)
    # and the whole form: the 德育处 no longer reads it at all
    world.client.cookies.clear()
    world.login()
    settings = edit(world, "form", title="课堂心理行为观察记录表", paper_size="A4", orientation="portrait", access_shown="1",
                    **{"access_create": "psych_teacher", "access_read": "psych_teacher", "access_edit": "psych_teacher",
                       "access_print": "psych_teacher", "access_export": "psych_teacher"})
    assert settings.status_code == 200 and "error-summary" not in settings.text
    assert publish(world).status_code == 303
    world.client.cookies.clear()
    world.login("deyu")
    assert world.client.get(f"/records/{old['id']}").status_code == 404


def test_a_table_of_rows_with_its_columns(logged_in):
    world = logged_in
    assert edit(world, "add_block", place="b3", kind="table", title="家长沟通记录").status_code == 200
    page = edit(world, "add_column", place="b4", select="b4", kind="date", title="沟通日期")
    assert page.status_code == 200 and "沟通日期" in page.text and "error-summary" not in page.text
    assert edit(world, "delete_column", place="b4", column="0").status_code == 200
    assert edit(world, "delete_column", place="b4", column="0").status_code == 422  # the last column stays
    assert publish(world).status_code == 303
    entry = world.client.get(f"/forms/{FORM}/new?student={world.student_ids[0]}")
    assert "家长沟通记录" in entry.text and "沟通日期" in entry.text


def test_a_retitled_field_keeps_what_the_editor_does_not_show():
    """A title change touches the title: a shared `$defs` entry (a time's pattern, a risk level's options) stays."""
    from server.form_editor import apply

    base = shipped("crisis_assessment")
    schema, _layout = apply("field", base.schema, base.layout, {"field": "start_time", "title": "谈话开始时间"})
    assert schema["properties"]["start_time"] == {"$ref": "#/$defs/time", "title": "谈话开始时间"}
    schema, _layout = apply("field", base.schema, base.layout, {"field": "level", "title": "风险等级（评估）"})
    assert {k: v for k, v in schema["properties"]["level"].items() if k != "title"} == \
        {k: v for k, v in base.schema["properties"]["level"].items() if k != "title"}
    # changing a shared definition's limit gives the field its own copy; the other users of `$defs/time` keep theirs
    schema, _layout = apply("field", base.schema, base.layout, {"field": "start_time", "maxLength": "5"})
    assert "$ref" not in schema["properties"]["start_time"] and schema["properties"]["start_time"]["pattern"]
    assert schema["$defs"] == base.schema["$defs"]


def test_an_outdated_settings_panel_changes_only_what_its_admin_changed(logged_in):
    """Admin A tightens who may read the form and edits an option; admin B, on a page loaded before, renames the
    form and retitles the field: B's post carries the old values as shown, so A's changes stay."""
    world = logged_in
    shown_form = world.client.get(EDITOR).text
    shown_field = world.client.get(f"{EDITOR}?select=b0/r2/c1").text
    assert edit(world, "form", access_read="psych_teacher,moral_education", was_access_read="").status_code == 200
    assert edit(world, "field", field="reason", options="日常发现\n家长反映\n其他", was_options="").status_code == 200

    def posted_panel(html: str, op: str) -> dict:
        panel = html[html.index(f'name="op" value="{op}"'):]
        panel = panel[:panel.index("</form>")]
        fields = dict(re.findall(r'<input type="hidden" name="(was_[\w]+)" value="([^"]*)"', panel))
        return {**{k: v for k, v in fields.items()}, **{k[4:]: v for k, v in fields.items()}}

    stale_form = {**posted_panel(shown_form, "form"), "title": "课堂观察记录（本校）"}
    assert edit(world, "form", seen="0", **stale_form).status_code == 200
    stale_field = {**posted_panel(shown_field, "field"), "field": "reason", "title": "观察起因"}
    stale_field["options"] = stale_field["options"].replace("&#10;", "\n")
    assert edit(world, "field", seen="0", **stale_field).status_code == 200
    draft = draft_of(world)
    assert draft.schema["title"] == "课堂观察记录（本校）" and draft.schema["x-access"]["read"] == ["psych_teacher", "moral_education"]
    assert draft.schema["properties"]["reason"]["title"] == "观察起因"
    assert draft.schema["properties"]["reason"]["enum"] == ["日常发现", "家长反映", "其他"]


def test_broken_input_to_the_editor_gets_a_message_and_changes_nothing(logged_in):
    world = logged_in
    assert edit(world, "field", field="plan", title="观察计划").status_code == 200
    before = draft_of(world)
    schema, layout = json.dumps(before.schema, ensure_ascii=False), json.dumps(before.layout, ensure_ascii=False)
    deep = "[" * 50_000 + "]" * 50_000
    bad_posts = [
        dict(op="json", schema_json=schema.replace('"properties": {', '"properties": [], "x": {', 1), layout_json=layout),
        dict(op="json", schema_json=schema, layout_json=layout.replace('"type": "grid"', '"kind": "grid"', 1)),
        dict(op="json", schema_json=deep, layout_json=layout),
        dict(op="json", schema_json='{"a": ' * 100 + "1" + "}" * 100, layout_json=layout),
        dict(op="cell", place="b0/r1/c1", span="0"),
        dict(op="cell", place="b0/r1/c1", span="999"),
        dict(op="cell", place="b9.9.9/r1/c1", span="2"),
        dict(op="cell", place="<script>", span="2"),
        dict(op="field", field="plan", kind="integer", minimum="nan"),
        dict(op="field", field="plan", kind="integer", minimum="abc"),
        dict(op="field", field="reason", options="\n".join(f"选项{n}" for n in range(500))),
        dict(op="field", field="no_such_field", title="x"),
        dict(op="nonsense"),
    ]
    for post in bad_posts:
        response = edit(world, **post)
        assert response.status_code in (409, 422), (post.get("op"), response.status_code)
        assert "flash error" in response.text, post
    assert (draft_of(world).revision, draft_of(world).schema, draft_of(world).layout) == (before.revision, before.schema, before.layout)
    # the odd query strings and uploads of the other pages
    for url in (f"{EDITOR}?published=²", f"{EDITOR}/versions?a=²&b=1", f"{EDITOR}?select=b999/r0/c0"):
        assert world.client.get(url).status_code in (200, 404), url
    assert world.client.post(f"{EDITOR}/check", data={"_csrf_token": world.csrf(), "schema_json": deep, "layout_json": "{}"}).status_code == 200
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr(f"{FORM}/schema.json", schema)
        archive.writestr(f"{FORM}/layout.json", layout)
    raw = bytearray(damaged.getvalue())
    raw[raw.index(b'"$schema"') + 2] ^= 0x20  # a flipped bit: the CRC no longer matches
    for name, content in (("bad.zip", bytes(raw)), ("deep.json", deep.encode()), ("x.json", b"\\xff\\xfe"), ("empty.zip", b"PK\\x03\\x04")):
        answer = world.client.post("/admin/forms/import", data={"_csrf_token": world.csrf(), "form_id": "imported_x"},
                                   files={"file": (name, content, "application/octet-stream")})
        assert answer.status_code == 422 and "error-summary" in answer.text, name


def test_carrying_over_never_shows_or_drops_answers_the_user_may_not_read(logged_in):
    world = logged_in
    world.run(add_user, "banzhuren", ["homeroom_teacher"], True)
    # version 2: 观察安排 is for the 心理教师 only; a record made with it
    assert edit(world, "field", field="plan", readers="psych_teacher").status_code == 200
    assert publish(world).status_code == 303
    record = create_record(world, {**example(FORM), "plan": "仅心理教师可见的安排"})
    # version 3 drops the field
    assert edit(world, "delete_cell", place="b0/r1/c5").status_code == 200
    assert edit(world, "delete_cell", place="b0/r1/c4").status_code == 200
    assert edit(world, "cell", place="b0/r1/c3", span="3").status_code == 200
    assert publish(world, confirm=True).status_code == 303
    world.client.cookies.clear()
    world.login("banzhuren")
    plan = world.client.get(f"/records/{record['id']}/upgrade")
    assert plan.status_code == 200 and "仅心理教师可见的安排" not in plan.text and "err-_confirm_loss" in plan.text
    fields = {**form_fields(current_definition(world), {k: v for k, v in example(FORM).items() if k != "plan"}),
              "_csrf_token": world.csrf(), "_version": str(record["version"]), "_confirm_loss": "yes"}
    refused = world.client.post(f"/records/{record['id']}/upgrade", data=fields)
    assert refused.status_code == 422 and "仅心理教师可见的安排" not in refused.text
    stored = world.run(lambda: Record.get(id=record["id"]))
    assert stored.form_version == 2 and stored.data["plan"] == "仅心理教师可见的安排"
    history = world.client.get(f"/records/{record['id']}/history")
    assert history.status_code == 200 and "仅心理教师可见的安排" not in history.text


def test_opening_a_form_or_a_field_to_more_roles_is_critical(world):
    world.run(add_user, "deyu", ["moral_education"])
    create_record(world, example(FORM))
    definition = world.client.get(f"/api/forms/{FORM}", headers=api_headers(world)).json()
    deyu = api_headers(world, "deyu")
    wider = json.loads(json.dumps(definition["schema"]))
    wider["x-access"]["read"].append("school_doctor")
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": wider, "layout": definition["layout"]}, headers=deyu)
    assert answer.status_code == 409 and [c["kind"] for c in answer.json()["changes"] if c["critical"]] == ["access_widened"]
    narrower = json.loads(json.dumps(definition["schema"]))
    narrower["properties"]["plan"]["x-access"] = {"read": ["psych_teacher"]}
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": narrower, "layout": definition["layout"]}, headers=deyu)
    assert answer.status_code == 201 and [c["kind"] for c in answer.json()["changes"]] == ["access_changed"]
    reopened = json.loads(json.dumps(narrower))
    del reopened["properties"]["plan"]["x-access"]
    answer = world.client.post(f"/api/forms/{FORM}/versions", json={"schema": reopened, "layout": definition["layout"]}, headers=deyu)
    assert answer.status_code == 409 and answer.json()["changes"][0]["field"] == "plan"
    assert world.run(lambda: AuditEntry.filter(action="permission", target=f"form:{FORM}").count()) == 1


def test_a_draft_older_than_the_version_in_use_is_merged_before_it_is_published(logged_in):
    world = logged_in
    assert edit(world, "field", field="plan", title="观察计划（草稿）").status_code == 200
    # meanwhile a script publishes version 2
    definition = world.client.get(f"/api/forms/{FORM}", headers=api_headers(world)).json()
    schema = json.loads(json.dumps(definition["schema"]))
    schema["properties"]["head_teacher"]["title"] = "班主任（脚本）"
    assert world.client.post(f"/api/forms/{FORM}/versions", json={"schema": schema, "layout": definition["layout"]},
                             headers=api_headers(world)).status_code == 201
    review = world.client.get(f"{EDITOR}/review")
    assert f"{EDITOR}/rebase" in review.text and f"{EDITOR}/publish" not in review.text
    refused = world.client.post(f"{EDITOR}/publish", data={"_csrf_token": world.csrf(), "revision": str(draft_of(world).revision)})
    # (posted anyway, from a page loaded before: refused, nothing published)
    assert refused.status_code == 409 and versions(world)[-1] == (2, "api")
    merged = world.client.post(f"{EDITOR}/rebase", data={"_csrf_token": world.csrf()}, follow_redirects=False)
    assert merged.status_code == 303
    draft = draft_of(world)
    assert draft.based_on == 2 and draft.schema["properties"]["head_teacher"]["title"] == "班主任（脚本）"
    assert draft.schema["properties"]["plan"]["title"] == "观察计划（草稿）"
    assert publish(world).status_code == 303 and versions(world)[-1] == (3, "edit")


def test_a_version_asked_for_before_it_exists_is_served_once_published(world):
    admin = api_headers(world)
    assert world.client.get(f"/api/forms/{FORM}?version=2", headers=admin).status_code == 404
    definition = world.client.get(f"/api/forms/{FORM}", headers=admin).json()
    schema = json.loads(json.dumps(definition["schema"]))
    schema["properties"]["plan"]["title"] = "观察计划"
    assert world.client.post(f"/api/forms/{FORM}/versions", json={"schema": schema, "layout": definition["layout"]},
                             headers=admin).status_code == 201
    assert world.client.get(f"/api/forms/{FORM}?version=2", headers=admin).json()["schema"]["properties"]["plan"]["title"] == "观察计划"
    assert world.client.get(f"/api/forms/{FORM}", headers=admin).json()["version"] == 2
    assert create_record(world, example(FORM))["form_version"] == 2


def test_a_refused_edit_keeps_what_was_typed(logged_in):
    world = logged_in
    page = world.client.get(f"{EDITOR}?select=b0/r1/c5")
    shown = dict(re.findall(r'<input type="hidden" name="(was_\w+)" value="([^"]*)"', page.text[page.text.index('value="field"'):]))
    response = edit(world, "field", select="b0/r1/c5", field="plan", **shown, title="观察计划（新）", description="每周写一次", maxLength="四十五")
    assert response.status_code == 422 and "四十五" in response.text
    assert 'value="观察计划（新）"' in response.text and "每周写一次" in response.text
    assert edit(world, "field", field="plan", kind="integer", minimum="1.5").status_code == 422


def test_cell_edits_keep_every_row_as_wide_as_the_grid():
    from server.checks import check_publishable
    from server.form_editor import apply

    base = shipped(FORM)
    widths = lambda layout: [sum(c.get("span", 1) for c in row) for row in layout["blocks"][0]["rows"]]  # noqa: E731
    assert widths(base.layout) == [6, 6, 6]
    schema, layout = apply("add_field", base.schema, base.layout, {"place": "b0/r2/c1", "where": "after", "kind": "short_text", "title": "补充"})
    assert widths(layout) == [6, 6, 6] and layout["blocks"][0]["rows"][2][1]["span"] == 3  # 观察缘由 gave two columns
    schema, layout = apply("delete_cell", schema, layout, {"place": "b0/r1/c5"})
    assert widths(layout) == [6, 6, 6] and layout["blocks"][0]["rows"][1][4]["span"] == 2  # its neighbour took the column
    schema, layout = apply("move_cell", schema, layout, {"place": "b0/r2/c1", "direction": "up"})
    assert widths(layout) == [6, 6, 6] and layout["blocks"][0]["rows"][1][1] == {"field": "reason"}
    assert check_publishable(FORM, schema, layout) == []


def test_small_things_a_school_admin_meets(logged_in):
    world = logged_in
    # a condition on an option the field does not have is a problem shown at once
    page = edit(world, "cell", place="b0/r1/c5", select="b0/r1/c5", when_field="reason", when_op="equals", when_value="没有这个选项")
    assert page.status_code == 200 and "error-summary" in page.text and "没有这个选项" in page.text
    assert edit(world, "cell", place="b0/r1/c5", when_field="").status_code == 200
    # nothing made-up goes onto paper: a new block needs its words
    assert edit(world, "add_block", place="b0", kind="text").status_code == 422
    added = edit(world, "add_block", place="b0", kind="text", title="注：本表由任课教师填写。")
    assert added.status_code == 200 and 'class="ed-block selected"' in added.text  # the new block is selected
    # the draft can be exported as it is, before publishing
    exported = json.loads(world.client.get(f"{EDITOR}/export?draft=1").content)
    assert exported["layout"]["blocks"][1] == {"type": "text", "text": "注：本表由任课教师填写。"}
    assert world.client.get(f"{EDITOR}/export?version=99999999999").status_code in (400, 404)
    # discarding asks first, and the page goes back to the published form
    assert 'hx-confirm=' in world.client.get(EDITOR).text
    gone = world.client.post(f"{EDITOR}/discard", data={"_csrf_token": world.csrf()}, headers={"HX-Request": "true"})
    assert gone.headers["HX-Redirect"] == EDITOR and world.run(lambda: FormDraft.all().count()) == 0
    # the versions page opens on what the version in use changed
    assert edit(world, "field", field="plan", title="观察计划").status_code == 200
    assert publish(world).status_code == 303
    versions_page = world.client.get(f"{EDITOR}/versions")
    assert "观察计划" in versions_page.text and "从第 1 版到第 2 版" in versions_page.text


def test_records_with_an_option_since_removed_can_still_be_filtered(logged_in):
    world = logged_in
    used = example(FORM)["reason"]
    old = create_record(world, example(FORM))
    kept = [o for o in shipped(FORM).schema["properties"]["reason"]["enum"] if o != used]
    assert edit(world, "field", field="reason", options="\n".join(kept)).status_code == 200
    assert publish(world, confirm=True).status_code == 303
    listing = world.client.get(f"/forms/{FORM}")
    assert f'<option value="{used}">{used}（' in listing.text  # offered, marked as an earlier version's option
    found = world.client.get(f"/forms/{FORM}?f.reason={used}")
    assert f"/records/{old['id']}" in found.text


def test_fixing_a_refused_input_and_saving_again_keeps_every_change(logged_in):
    """A refused save shows what was typed; the panel still posts what the page first showed (`was_…`), so the
    second save, with the one bad input fixed, saves the title and help typed the first time too."""
    world = logged_in

    def hidden(html: str, op: str) -> dict:
        panel = html[html.index(f'name="op" value="{op}"'):]
        return dict(re.findall(r'<input type="hidden" name="(was_\w+)" value="([^"]*)"', panel[:panel.index("</form>")]))

    first = world.client.get(f"{EDITOR}?select=b0/r1/c5")
    typed = {"title": "观察计划（每周）", "description": "写清频次", "maxLength": "abc"}
    refused = edit(world, "field", select="b0/r1/c5", field="plan", **hidden(first.text, "field"), **typed)
    assert refused.status_code == 422 and 'value="观察计划（每周）"' in refused.text
    again = edit(world, "field", select="b0/r1/c5", field="plan", **hidden(refused.text, "field"), **{**typed, "maxLength": "60"})
    assert again.status_code == 200
    plan = draft_of(world).schema["properties"]["plan"]
    assert (plan["title"], plan["description"], plan["maxLength"]) == ("观察计划（每周）", "写清频次", 60)
    # the other panels keep what was typed too
    refused = edit(world, "add_field", select="b0/r2/c1", place="b0/r2/c1", where="new_row", kind="integer", title="睡眠时长",
                   minimum="abc", maximum="12", name="sleep_hours")
    assert refused.status_code == 422 and 'value="睡眠时长"' in refused.text and 'value="sleep_hours"' in refused.text
    assert '<option value="integer" selected>' in refused.text
    refused = edit(world, "cell", select="b0/r2/c1", place="b0/r2/c1", span="a", when_field="reason", when_op="filled")
    assert refused.status_code == 422 and 'id="cell-span" name="span" inputmode="numeric" value="a"' in refused.text
