"""The administrator's pages: accounts (roles, classes, disabling, resets), sessions, the second
factor, accounts opened by a recorded confidentiality agreement, and the school's risk-level names."""

from __future__ import annotations

import re
import time

import httpx
import pyotp

from _formdata import CJK, example, shipped_registry
from conftest import PASSWORD, light_password_hash

NEW_PASSWORD = "一段足够长的新口令 2026"


async def add_user(username: str, roles: list[str], classes: list[int] | None = None) -> int:
    from server.models import School, SchoolClass, User

    school = await School.get(code="t1")
    user = await User.create(school=school, username=username, display_name=username, roles=roles,
                             password_hash=light_password_hash(PASSWORD))
    if classes:
        await user.classes.add(*await SchoolClass.filter(id__in=classes))
    return user.id


async def class_id() -> int:
    from server.models import SchoolClass

    return (await SchoolClass.get(name="七年级(1)班")).id


async def audit_details(target: str) -> list[tuple[str, str, str]]:
    from server.models import AuditEntry

    return [(e.action, e.result, e.detail) for e in await AuditEntry.filter(target=target).order_by("id")]


async def session_count(user_id: int) -> int:
    from server.models import SessionEntry

    return await SessionEntry.filter(user_id=user_id).count()


class Browsers:
    """Two people at two computers, on the one test client: each keeps its own cookies."""

    def __init__(self, world):
        self.client, self.jars, self.current = world.client, {}, "admin"

    def use(self, name: str):
        self.jars[self.current] = httpx.Cookies(self.client.cookies)
        self.client.cookies = self.jars.get(name, httpx.Cookies())
        self.current = name
        return self.client


def post(world, url: str, data: dict | None = None, **kwargs):
    return world.client.post(url, data={"_csrf_token": world.csrf(), **(data or {})}, follow_redirects=False, **kwargs)


def test_only_an_administrator_reaches_the_admin_pages(world):
    world.run(add_user, "xinli", ["psych_teacher", "leader"])
    world.login("xinli")
    for url in ("/admin/users", "/admin/users/new", "/admin/sessions", "/admin/security"):
        response = world.client.get(url)
        assert response.status_code == 403 and CJK.search(response.text), url
    assert post(world, "/admin/security", {"require_agreement": "true"}).status_code == 403
    assert ("open", "denied") in [(a, r) for a, r, _ in world.run(audit_details, "/admin/security")]


def test_an_administrator_creates_an_account_whose_initial_password_is_shown_once(logged_in):
    world = logged_in
    klass = world.run(class_id)
    form = {"username": "zhou.t", "display_name": "周老师", "roles": ["homeroom_teacher"], "classes": [str(klass)]}
    bad = post(world, "/admin/users", {**form, "classes": []})
    assert bad.status_code == 422 and "班级" in bad.text
    bad = post(world, "/admin/users", {**form, "username": "有 空格"})
    assert bad.status_code == 422 and "用户名" in bad.text
    created = post(world, "/admin/users", form)
    assert created.status_code == 200, created.text
    password = re.search(r'<code class="secret">([^<]+)</code>', created.text).group(1)
    assert "zhou.t" in world.client.get("/admin/users").text
    assert password not in world.client.get("/admin/users").text
    assert post(world, "/admin/users", form).status_code == 422  # the name is taken
    world.client.cookies.clear()
    world.login("zhou.t", password)
    assert world.client.get("/forms", follow_redirects=False).headers["location"] == "/account/password"
    changed = post(world, "/account/password", {"current": password, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert changed.status_code == 303
    assert world.client.get("/forms").status_code == 200


def test_changing_roles_or_disabling_ends_the_users_sessions_and_is_audited(logged_in):
    world = logged_in
    user_id = world.run(add_user, "banzhuren", ["homeroom_teacher"], [world.run(class_id)])
    browsers = Browsers(world)
    browsers.use("teacher")  # the teacher's own computer
    world.login("banzhuren")
    assert world.client.get("/forms").status_code == 200 and world.run(session_count, user_id) == 1
    browsers.use("admin")
    page = world.client.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and "banzhuren" in page.text and "最近活动" in page.text
    saved = post(world, f"/admin/users/{user_id}", {"display_name": "班主任", "roles": ["homeroom_teacher", "subject_teacher"],
                                                      "classes": [str(world.run(class_id))], "is_active": "true"})
    assert saved.status_code == 303
    assert world.run(session_count, user_id) == 0
    assert browsers.use("teacher").get("/forms", follow_redirects=False).status_code == 303  # signed out
    browsers.use("admin")
    assert post(world, f"/admin/users/{user_id}", {"display_name": "班主任", "roles": ["homeroom_teacher"],
                                                     "classes": [str(world.run(class_id))], "is_active": "false"}).status_code == 303
    browsers.use("teacher")
    world.client.get("/login")
    assert post(world, "/login", {"username": "banzhuren", "password": PASSWORD}).status_code == 401
    browsers.use("admin")
    details = [d for a, r, d in world.run(audit_details, f"user:{user_id}") if a == "permission"]
    assert any("subject_teacher" in d and "->" in d for d in details) and any(d.endswith("disabled") for d in details)
    assert world.client.get("/admin/audit", params={"target": f"user:{user_id}"}).text.count("修改权限") >= 2


def test_an_administrator_cannot_lock_themselves_out(logged_in):
    world = logged_in
    from server.models import User

    admin_id = world.run(lambda: User.get(username="admin")).id
    response = post(world, f"/admin/users/{admin_id}", {"display_name": "管理员", "roles": ["leader"], "is_active": "true"})
    assert response.status_code == 422 and "管理员" in response.text
    assert "admin" in world.run(lambda: User.get(username="admin")).roles


def test_users_of_another_school_are_not_found(logged_in):
    world = logged_in

    async def outsider() -> int:
        from server.models import School, User

        return (await User.create(school=await School.get(code="t2"), username="wai", display_name="外校管理员",
                                  roles=["admin"], password_hash=light_password_hash(PASSWORD))).id
    user_id = world.run(outsider)
    assert world.client.get(f"/admin/users/{user_id}").status_code == 404
    assert post(world, f"/admin/users/{user_id}/password").status_code == 404
    assert "wai" not in world.client.get("/admin/users").text and "wai" not in world.client.get("/admin/sessions").text


def test_password_reset_makes_a_one_time_password_and_ends_sessions(logged_in):
    world = logged_in
    user_id = world.run(add_user, "xiaoyi", ["school_doctor"])
    reset = post(world, f"/admin/users/{user_id}/password")
    password = re.search(r'<code class="secret">([^<]+)</code>', reset.text).group(1)
    world.client.cookies.clear()
    world.login("xiaoyi", password)
    assert world.client.get("/forms", follow_redirects=False).headers["location"] == "/account/password"


def test_the_sessions_page_lists_and_ends_a_session(logged_in):
    world = logged_in
    user_id = world.run(add_user, "deyu", ["moral_education"])
    browsers = Browsers(world)
    browsers.use("deyu")
    world.login("deyu")
    key = world.client.cookies.get("xd_session")
    browsers.use("admin")
    listing = world.client.get("/admin/sessions").text
    assert "deyu" in listing and "本会话" in listing
    assert key not in listing  # pages name a session by a digest, never its key
    handle = re.search(r'name="session" value="([0-9a-f]+)"', listing).group(1)
    assert post(world, "/admin/sessions/end", {"session": handle}).status_code == 303
    assert world.run(session_count, user_id) == 0
    assert browsers.use("deyu").get("/forms", follow_redirects=False).status_code == 303
    browsers.use("admin")
    assert world.client.get("/forms").status_code == 200  # the administrator's own session goes on


async def enrolled_psych_teacher() -> tuple[int, str]:
    """A 心理教师 with an authenticator set up: (user id, TOTP secret)."""
    from server.models import User

    secret = pyotp.random_base32()
    user_id = await add_user("xinli", ["psych_teacher"])
    await User.filter(id=user_id).update(totp_secret=secret)
    return user_id, secret


def totp_code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset * 30)


def test_a_required_second_factor_is_set_up_then_asked_at_every_sign_in(logged_in):
    world = logged_in
    saved = post(world, "/admin/security", {"totp_roles": ["psych_teacher"], **default_levels()})
    assert saved.status_code == 303
    user_id = world.run(add_user, "xinli", ["psych_teacher"])
    world.client.cookies.clear()
    world.login("xinli")
    assert world.client.get("/forms", follow_redirects=False).headers["location"] == "/account/totp"
    setup = world.client.get("/account/totp")
    assert "<svg" in setup.text and setup.text.count("<script") == 1  # htmx only: the QR code is drawn on the server
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text).group(1)
    assert post(world, "/account/totp/setup", {"code": "000000" if totp_code(secret) != "000000" else "111111"}).status_code == 422
    assert post(world, "/account/totp/setup", {"code": totp_code(secret)}).status_code == 303
    assert world.client.get("/forms").status_code == 200
    refused = post(world, "/account/totp/off", {"code": totp_code(secret)})
    assert refused.status_code == 422 and "要求" in refused.text  # the school requires it for this role
    post(world, "/logout")
    # the password alone no longer signs in
    world.client.get("/login")
    step = post(world, "/login", {"username": "xinli", "password": PASSWORD})
    assert step.headers["location"] == "/login/code"
    assert world.client.get("/forms", follow_redirects=False).status_code == 303
    wrong = post(world, "/login/code", {"code": "12345x"})
    assert wrong.status_code == 401 and CJK.search(wrong.text)
    time.sleep(0)  # the code of the set-up step was used: the next step's code signs in
    accepted = post(world, "/login/code", {"code": totp_code(secret, 1)})
    assert accepted.status_code == 303 and world.client.get("/forms").status_code == 200
    post(world, "/logout")
    world.client.get("/login")
    post(world, "/login", {"username": "xinli", "password": PASSWORD})
    replayed = post(world, "/login/code", {"code": totp_code(secret, 1)})
    assert replayed.status_code == 401  # a code works once
    logins = world.run(audit_details, f"user:{user_id}")
    assert ("login", "failed", "second factor") in logins and ("permission", "ok", "second factor on") in logins


def default_levels(**changes) -> dict:
    levels = [("常规", "#2e7d32"), ("一般关注", "#f9a825"), ("重点关注", "#ef6c00"), ("高危", "#c62828")]
    out = {}
    for n, (label, colour) in enumerate(levels):
        out[f"level_{n}_label"], out[f"level_{n}_colour"] = changes.get(f"label_{n}", label), changes.get(f"colour_{n}", colour)
    return out


def test_the_administrator_resets_a_lost_second_factor(logged_in):
    world = logged_in

    async def enrolled() -> int:
        from server.models import User

        user_id = await add_user("xiaoyi", ["school_doctor"])
        await User.filter(id=user_id).update(totp_secret=pyotp.random_base32())
        return user_id
    user_id = world.run(enrolled)
    assert post(world, f"/admin/users/{user_id}/totp").status_code == 303
    world.client.cookies.clear()
    world.login("xiaoyi")  # straight in: no second factor is set any more
    assert world.client.get("/forms").status_code == 200


def agreement(username: str, **changes) -> dict:
    return {**example("confidentiality_agreement", "teacher"), "account_name": username, "valid_from": "2020-09-01",
            "valid_to": "2099-08-31", **changes}


async def record_agreement(data: dict) -> int:
    from server.models import School, User
    from server.records import create_record

    definition = shipped_registry().get("confidentiality_agreement")
    data = {k: v for k, v in data.items() if v is not None}
    record = await create_record(definition, await School.get(code="t1"), await User.get(username="admin"), data, [])
    return record.id


def test_accounts_open_only_with_a_confidentiality_agreement_in_force(logged_in):
    world = logged_in
    turned_on = post(world, "/admin/security", {"require_agreement": "true", **default_levels()})
    assert turned_on.status_code == 422 and "保密协议" in turned_on.text  # the administrator's own agreement comes first
    world.run(record_agreement, agreement("admin"))
    world.run(add_user, "renke", ["subject_teacher"], [world.run(class_id)])
    assert post(world, "/admin/security", {"require_agreement": "true", "confirm_closing": "true", **default_levels()}).status_code == 303
    assert "等待保密协议" in world.client.get("/admin/users").text
    assert world.client.get("/forms").status_code == 200  # the administrator's own session goes on
    world.client.cookies.clear()
    world.client.get("/login")
    refused = post(world, "/login", {"username": "renke", "password": PASSWORD})
    assert refused.status_code == 403 and "保密协议" in refused.text
    world.run(record_agreement, agreement("renke", account_closed_on="2021-01-01"))  # an old one, closed
    assert post(world, "/login", {"username": "renke", "password": PASSWORD}).status_code == 403
    world.run(record_agreement, agreement("renke", valid_from="2026-01-01"))
    assert post(world, "/login", {"username": "renke", "password": PASSWORD}).status_code == 303


def test_the_schools_risk_level_names_and_colours_show_everywhere(logged_in):
    world = logged_in
    bad = post(world, "/admin/security", default_levels(label_3="", colour_2="red;x"))
    assert bad.status_code == 422 and CJK.search(bad.text)
    saved = post(world, "/admin/security", default_levels(label_3="红色预警", colour_3="#ff0000"))
    assert saved.status_code == 303

    async def ledger_record() -> int:
        from server.models import School, Student, User
        from server.records import create_record

        definition = shipped_registry().get("attention_ledger")
        student = await Student.get(student_number="T0001")
        record = await create_record(definition, await School.get(code="t1"), await User.get(username="admin"),
                                     {**example("attention_ledger"), "level": 3}, [student])
        return record.id
    record_id = world.run(ledger_record)
    view = world.client.get(f"/records/{record_id}").text
    assert "红色预警" in view and "background-color: #ff0000" in view and "高危" not in view
    assert "红色预警" in world.client.get("/forms/attention_ledger", params={"format": "csv"}).text
    entry = world.client.get(f"/records/{record_id}/edit").text
    assert "红色预警" in entry
    from pypdf import PdfReader
    import io

    pdf = world.client.get(f"/records/{record_id}/print.pdf")
    assert pdf.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "红色预警" in re.sub(r"\s", "", text), text[:400]  # a narrow ledger column may wrap the name


def test_wrong_codes_lock_the_second_factor_however_fast_they_come(logged_in):
    world = logged_in
    import asyncio

    async def attack() -> tuple[int, bool]:
        from server import second_factor
        from server.models import User

        user_id, secret = await enrolled_psych_teacher()
        user = await User.get(id=user_id)
        wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
        await asyncio.gather(*(second_factor.accept_code(user, wrong) for _ in range(40)))
        checked_in_parallel = (await User.get(id=user_id)).totp_failures  # tries that were really checked
        for _ in range(10):
            await second_factor.accept_code(user, wrong)
        return checked_in_parallel, (await User.get(id=user_id)).totp_failures, \
            await second_factor.accept_code(user, pyotp.TOTP(secret).now())
    in_parallel, checked, right_code_during_lock = world.run(attack)
    assert 1 <= in_parallel <= 5 and checked == 5  # five tries, then the account waits (one try per wait after it)
    assert right_code_during_lock is False  # even the right code waits while the account is locked


def test_ending_every_session_also_ends_a_half_finished_sign_in(logged_in):
    world = logged_in

    user_id, secret = world.run(enrolled_psych_teacher)
    browsers = Browsers(world)
    browsers.use("attacker")
    world.client.get("/login")
    assert post(world, "/login", {"username": "xinli", "password": PASSWORD}).headers["location"] == "/login/code"
    browsers.use("admin")
    assert "xinli" in world.client.get("/admin/sessions").text  # the half-finished sign-in is listed
    post(world, f"/admin/users/{user_id}/sessions")
    browsers.use("attacker")
    assert post(world, "/login/code", {"code": totp_code(secret)}).headers["location"] == "/login"
    assert world.client.get("/forms", follow_redirects=False).status_code == 303


def test_no_one_grants_themselves_rights(world):
    async def lone_admin() -> int:
        return await add_user("guanli", ["admin"])
    user_id = world.run(lone_admin)
    world.login("guanli")
    response = post(world, f"/admin/users/{user_id}", {"display_name": "管理员", "roles": ["admin", "psych_teacher"], "is_active": "true"})
    assert response.status_code == 422 and "另一位" in response.text
    assert post(world, f"/admin/users/{user_id}", {"display_name": "王管理员", "roles": ["admin"], "is_active": "true"}).status_code == 303

    async def roles() -> list:
        from server.models import User

        return (await User.get(id=user_id)).roles
    assert world.run(roles) == ["admin"]


def test_a_password_reset_ends_sessions_and_the_old_password(logged_in):
    world = logged_in
    user_id = world.run(add_user, "xiaoyi", ["school_doctor"])
    browsers = Browsers(world)
    browsers.use("doctor")
    world.login("xiaoyi")
    browsers.use("admin")
    assert post(world, f"/admin/users/{user_id}/password").status_code == 200
    assert browsers.use("doctor").get("/forms", follow_redirects=False).status_code == 303
    world.client.get("/login")
    assert post(world, "/login", {"username": "xiaoyi", "password": PASSWORD}).status_code == 401
    browsers.use("admin")


def test_the_agreement_gate_closes_sessions_and_tokens_as_soon_as_the_agreement_ends(logged_in):
    world = logged_in
    world.run(record_agreement, agreement("admin"))
    world.run(add_user, "renke", ["subject_teacher"], [world.run(class_id)])
    agreement_id = world.run(record_agreement, agreement("renke"))
    assert post(world, "/admin/security", {"require_agreement": "true", **default_levels()}).status_code == 303

    async def token() -> str:
        from server.auth import create_token
        from server.models import User

        return await create_token(await User.get(username="renke"))
    bearer = {"Authorization": f"Bearer {world.run(token)}"}
    browsers = Browsers(world)
    browsers.use("teacher")
    world.login("renke")
    assert world.client.get("/forms").status_code == 200 and world.client.get("/api/forms", headers=bearer).status_code == 200

    async def close() -> None:
        from server.models import Record

        record = await Record.get(id=agreement_id)
        await Record.filter(id=agreement_id).update(data={**record.data, "account_closed_on": "2020-01-01"})
    world.run(close)
    closed = world.client.get("/forms", follow_redirects=False)
    assert closed.status_code == 403 and "保密协议" in closed.text
    assert world.client.get("/api/forms", headers=bearer).status_code == 403
    browsers.use("admin")


def test_a_token_cannot_replace_a_required_second_factor(logged_in):
    world = logged_in

    async def token() -> str:
        from server.auth import create_token
        from server.models import User

        await add_user("xinli", ["psych_teacher"])
        return await create_token(await User.get(username="xinli"))
    bearer = {"Authorization": f"Bearer {world.run(token)}"}
    assert world.client.get("/api/forms", headers=bearer).status_code == 200
    post(world, "/admin/security", {"totp_roles": ["psych_teacher"], **default_levels()})
    refused = world.client.get("/api/forms", headers=bearer)
    assert refused.status_code == 403 and "两步验证" in refused.json()["errors"][0]["message"]


def test_turning_on_the_agreement_rule_names_whom_it_shuts_out_first(logged_in):
    world = logged_in
    world.run(record_agreement, agreement("admin"))
    world.run(add_user, "deyu", ["moral_education"])
    asked = post(world, "/admin/security", {"require_agreement": "true", **default_levels()})
    assert asked.status_code == 422 and "deyu" in asked.text
    assert post(world, "/admin/security", {"require_agreement": "true", "confirm_closing": "true", **default_levels()}).status_code == 303


def test_console_recovery_commands(tmp_path):
    from click.testing import CliRunner
    from server.cli import main as cli

    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    reset = runner.invoke(cli, ["user", "reset", "admin", "--password", "another long phrase 7"], env=env)
    assert reset.exit_code == 0 and CJK.search(reset.output), reset.output
    assert runner.invoke(cli, ["user", "reset", "nobody"], env=env).exit_code == 1
    opened = runner.invoke(cli, ["open-accounts"], env=env)
    assert opened.exit_code == 0 and CJK.search(opened.output)
