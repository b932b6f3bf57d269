"""Who may see what: the route × role matrix with ids outside each role's scope, class scoping,
field masking in every output, and the user command."""

from __future__ import annotations

import io
import re

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from _formdata import CJK, definition, example
from conftest import PASSWORD, light_password_hash
from server.access import Actor, hidden_fields, keep_hidden, mask
from server.cli import main as cli

ROLES = ["admin", "leader", "moral_education", "psych_teacher", "homeroom_teacher", "subject_teacher", "school_doctor"]
CLASS_BOUND = {"homeroom_teacher", "subject_teacher"}
SECRET = "只给心理教师看的转介原因"
OTHER_CLASS_NAME = "吴在别班"
# routes without an id: reachable by every signed-in user (or refused by their own guard); a new one must be placed here
UNSCOPED = {"/", "/forms", "/login", "/login/code", "/logout", "/language", "/session/keepalive", "/account/password", "/account/totp", "/account/totp/setup",
            "/account/totp/off", "/handbook.pdf", "/admin/handbook", "/admin/audit", "/admin/users", "/admin/users/new", "/admin/sessions",
            "/admin/sessions/end", "/admin/security", "/roster", "/roster/classes", "/students", "/prints", "/disposals", "/roster/import", "/roster/import/preview", "/roster/import/confirm", "/roster/promote", "/admin/forms", "/admin/forms/new", "/admin/forms/import", "/api/forms", "/api/classes", "/api/students", "/schema", "/schema/openapi.json",
            "/favicon.ico"}
NOT_STUDENT_DATA = ("/static", "/schema")  # files and the OpenAPI description
PUBLIC_FORM_ROUTES = {"/forms/{form_id:str}/blank.pdf", "/api/forms/{form_id:str}"}  # definitions are not student data
EDITOR_ROUTES = ("/admin/forms/", "/api/forms/{form_id:str}/versions")  # definitions, for the form editors only
FORM_EDITORS = {"admin", "moral_education"}


async def seed_scope() -> dict:
    """A second class with a student, one user per role (class-bound ones in class 1), records everywhere,
    and a batch print of the administrator's."""
    from server.models import PrintJob, Record, School, SchoolClass, Student, User
    from server.records import create_record
    from _formdata import shipped_registry

    school = await School.get(code="t1")
    other_school = await School.get(code="t2")
    class_one = await SchoolClass.get(school=school, name="七年级(1)班")
    class_two = await SchoolClass.create(school=school, grade=7, name="七年级(2)班", school_year="2026-2027")
    other_class_student = await Student.create(school=school, klass=class_two, student_number="T0099", name=OTHER_CLASS_NAME, gender="男")
    mine = await Student.get(school=school, student_number="T0001")
    stranger = await Student.get(school=other_school)
    users = {}
    for role in ROLES:
        user = await User.create(school=school, username="r_" + role, display_name=role, password_hash=light_password_hash(PASSWORD),
                                 roles=[role])
        if role in CLASS_BOUND:
            await user.classes.add(class_one)
        users[role] = user
    outsider = await User.create(school=other_school, username="outsider", display_name="外校", roles=["psych_teacher"],
                                 password_hash=light_password_hash(PASSWORD))
    admin = await User.get(username="admin")
    registry = shipped_registry()
    registration, referral = registry.get("registration"), registry.get("referral")
    records = {
        "mine": await create_record(registration, school, admin, example("registration"), [mine]),
        "other_class": await create_record(registration, school, admin, example("registration"), [other_class_student]),
        "other_school": await create_record(registration, other_school, outsider, example("registration"), [stranger]),
        "referral": await create_record(referral, school, admin, {**example("referral"), "reason": SECRET}, [mine]),
    }
    job = await PrintJob.create(school=school, owner=admin, title="七年级(1)班 · 全班 · 全部档案", student_ids=[mine.id], total=1,
                                status="done")
    return {"records": {k: r.id for k, r in records.items()}, "mine": mine.id, "job": job.id, "other_class_student": other_class_student.id,
            "outsider": outsider.id, "colleague": users["psych_teacher"].id, "other_school_class": stranger.klass_id,
            "stranger": stranger.id, "class_one": class_one.id, "class_two": class_two.id}


@pytest.fixture
def scoped(world):
    world.ids = world.run(seed_scope)
    return world


def login(world, role: str) -> None:
    """Sign in as the seeded user who holds just this role."""
    world.client.cookies.clear()
    world.login("r_" + role)


def api_token(world, role: str) -> str:
    async def make() -> str:
        from server.auth import create_token
        from server.models import User

        return await create_token(await User.get(username="r_" + role))
    return world.run(make)


def route_table(app) -> list[tuple[str, str]]:
    return sorted({(route.path, method) for route in app.routes for method in getattr(route, "methods", set())
                   if method not in ("HEAD", "OPTIONS")})


def test_every_route_is_in_the_matrix(scoped):
    for path, _method in route_table(scoped.client.app):
        params = set(re.findall(r"\{(\w+)", path))
        if path.startswith(NOT_STUDENT_DATA):
            continue
        assert params <= {"record_id", "student_id", "form_id", "user_id", "class_id", "job_id", "version"}, f"{path}: a new kind of id; add it to the matrix"
        assert params or path in UNSCOPED, f"{path}: a new route without ids; place it in UNSCOPED or give it a scope"


@pytest.mark.parametrize("role", ROLES)
def test_out_of_scope_ids_answer_404_or_403_with_no_foreign_data(scoped, role):
    world, ids = scoped, scoped.ids
    login(world, role)
    token = api_token(world, role)
    foreign_records = [ids["records"]["other_school"]] + ([ids["records"]["other_class"]] if role in CLASS_BOUND else [])
    foreign_students = [ids["stranger"]] + ([ids["other_class_student"]] if role in CLASS_BOUND else [])
    if role == "admin":  # the administrator manages accounts and forms; it reads no student's records
        foreign_records.append(ids["records"]["mine"])
    tried = 0
    for path, method in route_table(world.client.app):
        params = set(re.findall(r"\{(\w+)", path))
        if not params or path.startswith(NOT_STUDENT_DATA):
            continue
        if "record_id" in params:
            values = [{"record_id": r} for r in foreign_records]
        elif "student_id" in params:
            values = [{"student_id": s} for s in foreign_students]
        elif "class_id" in params:
            values = [{"class_id": ids["other_school_class"]}] + ([{"class_id": ids["class_two"]}] if role in CLASS_BOUND else [])
        elif "job_id" in params:  # a batch print is its owner's alone, even for a colleague with the same rights
            values = [{"job_id": ids["job"]}]
        elif "user_id" in params:  # accounts: another school's for everyone; a colleague's for all but the administrator
            values = [{"user_id": ids["outsider"]}] + ([{"user_id": ids["colleague"]}] if role != "admin" else [])
        else:
            if path in PUBLIC_FORM_ROUTES or (path.startswith(EDITOR_ROUTES) and role in FORM_EDITORS):
                continue
            values = [{"form_id": "individual_counseling", "version": 1}] if role != "psych_teacher" else \
                [{"form_id": "confidentiality_agreement", "version": 1}]
            if role == "psych_teacher" and method == "GET" and not path.endswith("/new"):
                continue  # the 心理教师 reads every form: refusals of reading are covered for the other roles
        for value in values:
            url = re.sub(r"\{(\w+):\w+\}", lambda m: str(value[m.group(1)]), path)
            headers = {"x-csrftoken": world.csrf()}
            if url.startswith("/api/"):
                headers["Authorization"] = f"Bearer {token}"
            body = {"data": {}, "students": [], "version": 1} if url.startswith("/api/") else None
            response = world.client.request(method, url, headers=headers,
                                            json=body if method in ("POST", "PUT") and body else None,
                                            data={"_csrf_token": world.csrf()} if method == "POST" and not body else None,
                                            follow_redirects=False)
            tried += 1
            assert response.status_code in (403, 404), (role, method, url, response.status_code)
            text = response.text
            assert "外校学生" not in text and OTHER_CLASS_NAME not in text and SECRET not in text, (role, method, url)
            assert "outsider" not in text and "外校" not in text, (role, method, url)
            assert CJK.search(text), (role, method, url)
    assert tried >= 10


def test_a_homeroom_teacher_works_within_the_class(scoped):
    world, ids, client = scoped, scoped.ids, scoped.client
    login(world, "homeroom_teacher")
    listing = client.get("/forms/registration").text
    assert f'href="/records/{ids["records"]["mine"]}"' in listing
    assert f'href="/records/{ids["records"]["other_class"]}"' not in listing and OTHER_CLASS_NAME not in listing
    picker = client.get("/forms/registration/new").text
    assert f'value="{ids["mine"]}"' in picker and OTHER_CLASS_NAME not in picker
    assert client.get(f"/forms/registration/new?student={ids['other_class_student']}").status_code == 404
    token = api_token(world, "homeroom_teacher")
    students = client.get("/api/students", headers={"Authorization": f"Bearer {token}"}).json()
    assert {s["id"] for s in students} == {ids["mine"], ids["mine"] + 1}
    refused = client.post("/api/forms/registration/records", headers={"Authorization": f"Bearer {token}"},
                          json={"students": [ids["other_class_student"]], "data": example("registration")})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "/students"
    catalog = client.get("/forms").text
    assert "/forms/registration/new" in catalog and "个别心理辅导全过程记录表" not in catalog
    assert client.get("/forms/individual_counseling").status_code == 403


def test_a_homeroom_teacher_sees_a_referral_without_its_clinical_details(scoped):
    world, ids, client = scoped, scoped.ids, scoped.client
    referral = ids["records"]["referral"]
    login(world, "psych_teacher")
    assert SECRET in client.get(f"/records/{referral}").text
    login(world, "homeroom_teacher")
    view = client.get(f"/records/{referral}")
    assert view.status_code == 200 and SECRET not in view.text, view.text[view.text.find(SECRET) - 400:view.text.find(SECRET) + 50]
    assert "仅限授权角色查看" in view.text
    assert example("referral")["referral_type"] in view.text  # the status and type are there
    assert SECRET not in client.get("/forms/referral").text
    assert SECRET not in client.get("/forms/referral", params={"q": SECRET[:4]}).text
    assert client.get("/forms/referral", params={"format": "csv"}).status_code == 403  # export: 心理教师 and 德育处
    pdf = client.get(f"/records/{referral}/print.pdf")
    assert pdf.status_code == 200
    assert SECRET not in "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    token = api_token(world, "homeroom_teacher")
    got = client.get(f"/api/records/{referral}", headers={"Authorization": f"Bearer {token}"}).json()
    assert "reason" not in got["data"] and got["data"]["referral_type"] == example("referral")["referral_type"]
    assert client.get(f"/records/{referral}/edit").status_code == 404  # editing is the 心理教师's


def test_a_subject_teacher_reads_back_only_what_they_wrote(scoped):
    world, ids, client = scoped, scoped.ids, scoped.client
    login(world, "subject_teacher")
    token = api_token(world, "subject_teacher")
    made = client.post("/api/forms/classroom_observation/records", headers={"Authorization": f"Bearer {token}"},
                       json={"students": [ids["mine"]], "data": example("classroom_observation")})
    assert made.status_code == 201, made.text
    listing = client.get("/forms/classroom_observation").text
    assert f'href="/records/{made.json()["id"]}"' in listing
    assert client.get(f"/records/{ids['records']['mine']}").status_code == 404  # a 综合登记表 is not theirs


def test_a_hidden_group_hides_each_of_its_fields_and_editing_needs_reading(scoped):
    teacher = Actor(1, 1, frozenset({"homeroom_teacher"}), frozenset({1}))
    plan = definition("support_plan")
    assert {"medical.status", "medical.note", "risk_summary"} <= hidden_fields(teacher, plan)
    world, ids, client = scoped, scoped.ids, scoped.client

    async def appointment() -> int:
        from server.models import Student, User
        from server.records import create_record
        from _formdata import shipped_registry

        admin = await User.get(username="admin")
        return (await create_record(shipped_registry().get("counseling_appointment"), await admin.school, admin,
                                    example("counseling_appointment"), [await Student.get(id=ids["mine"])])).id

    record = world.run(appointment)
    login(world, "homeroom_teacher")  # may book an appointment for the class, not read the 心理教师's ones
    assert client.get(f"/records/{record}/edit").status_code == 404
    refresh = client.post(f"/records/{record}", data={"_action": "refresh", "_csrf_token": world.csrf()})
    assert refresh.status_code == 404
    token = api_token(world, "homeroom_teacher")
    assert client.put(f"/api/records/{record}", headers={"Authorization": f"Bearer {token}"},
                      json={"version": 1, "data": example("counseling_appointment")}).status_code == 404


def test_masking_and_keeping_hidden_fields():
    d = definition("referral")
    teacher = Actor(1, 1, frozenset({"homeroom_teacher"}), frozenset({1}))
    assert {"reason", "measures_taken", "parent_summary", "doctor_advice", "decline_reason", "approval_opinion", "followup_note"} == hidden_fields(teacher, d)
    stored = {**example("referral"), "reason": SECRET}
    assert "reason" not in mask(teacher, d, stored) and stored["reason"] == SECRET
    posted = {**example("referral"), "reason": "改掉它"}
    assert keep_hidden(teacher, d, stored, posted)["reason"] == SECRET
    psych = Actor(2, 1, frozenset({"psych_teacher"}), frozenset())
    assert hidden_fields(psych, d) == frozenset() and mask(psych, d, stored) is stored


def test_user_create_command(tmp_path):
    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    result = runner.invoke(cli, ["user", "create", "t1", "--role", "wizard", "--password", "short"], env=env)
    assert result.exit_code == 1 and "wizard" in result.output and CJK.search(result.output)
    result = runner.invoke(cli, ["user", "create", "t2", "--role", "homeroom_teacher", "--password", "Long-enough-9"], env=env)
    assert result.exit_code == 1 and "班级" in result.output
    result = runner.invoke(cli, ["user", "create", "t3", "--role", "homeroom_teacher", "--class", "1", "--role", "psych_teacher",
                                 "--password", "Long-enough-9", "--name", "周老师"], env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["user", "create", "t3", "--role", "leader", "--password", "Long-enough-9"], env=env).exit_code == 1
    listed = runner.invoke(cli, ["init", "--demo"], env=env).output
    assert "xinli" in listed and "banzhuren1" in listed and "心理教师" in listed


def test_history_shows_who_changed_what_and_keeps_hidden_fields_hidden(scoped):
    world, ids, client = scoped, scoped.ids, scoped.client
    referral = ids["records"]["referral"]
    token = api_token(world, "psych_teacher")
    headers = {"Authorization": f"Bearer {token}"}
    current = client.get(f"/api/records/{referral}", headers=headers).json()
    changed = {**current["data"], "reason": "第二稿的转介原因", "urgency": "尽快（一周内）"}
    saved = client.put(f"/api/records/{referral}", headers=headers, json={"version": current["version"], "data": changed})
    assert saved.status_code == 200, saved.text
    login(world, "psych_teacher")
    history = client.get(f"/records/{referral}/history").text
    assert "版本 2" in history and "r_psych_teacher" not in history and "psych_teacher" in history  # the display name
    assert SECRET in history and "第二稿的转介原因" in history and "尽快（一周内）" in history
    login(world, "homeroom_teacher")
    history = client.get(f"/records/{referral}/history").text
    assert "尽快（一周内）" in history and SECRET not in history and "第二稿的转介原因" not in history
    assert "仅限授权角色查看" in history
    assert client.get(f"/records/{ids['records']['other_class']}/history").status_code == 404


def test_classes_and_students_of_a_class_through_the_api(scoped):
    world, ids, client = scoped, scoped.ids, scoped.client
    for role, classes in (("homeroom_teacher", {ids["class_one"]}), ("psych_teacher", {ids["class_one"], ids["class_two"]})):
        headers = {"Authorization": f"Bearer {api_token(world, role)}"}
        assert {c["id"] for c in client.get("/api/classes", headers=headers).json()} == classes
        in_class_two = client.get("/api/students", params={"class": ids["class_two"]}, headers=headers).json()
        assert [s["name"] for s in in_class_two] == ([] if role == "homeroom_teacher" else [OTHER_CLASS_NAME])
    headers = {"Authorization": f"Bearer {api_token(world, 'psych_teacher')}"}
    assert client.get("/api/students", params={"class": "abc"}, headers=headers).status_code == 400
