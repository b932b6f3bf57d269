"""The audit log: reads, writes, refusals and logins are recorded without answers; the hash chain
finds a changed or removed entry; the audit page is for 校领导 and 系统管理员."""

from __future__ import annotations

from click.testing import CliRunner

from _formdata import example
from conftest import PASSWORD, light_password_hash
from server.cli import main as cli


async def entries() -> list:
    from server.models import AuditEntry

    return list(await AuditEntry.all().order_by("id"))


async def add_users() -> None:
    from server.models import School, SchoolClass, User

    school = await School.get(code="t1")
    teacher = await User.create(school=school, username="teacher", display_name="班主任", roles=["homeroom_teacher"],
                                password_hash=light_password_hash(PASSWORD))
    await teacher.classes.add(await SchoolClass.get(school=school))
    await User.create(school=school, username="boss", display_name="校长", roles=["leader"], password_hash=light_password_hash(PASSWORD))


def test_reads_writes_refusals_and_logins_are_audited_without_answers(logged_in):
    world, client = logged_in, logged_in.client
    world.run(add_users)
    data = {**example("registration"), "hobbies": "审计里不该出现的爱好文字"}
    created = client.post("/forms/registration", data={"_csrf_token": world.csrf(), "_student": str(world.student_ids[0]),
                                                       **{k: v for k, v in _form(data).items()}}, follow_redirects=False)
    assert created.status_code == 303, created.text[:500]
    record_id = int(created.headers["location"].split("/")[2].split("?")[0])
    client.get(f"/records/{record_id}")
    client.get("/forms/registration", params={"q": "林小雨"})
    client.get(f"/records/{record_id}/print.pdf")
    client.get("/records/999999")
    client.post("/logout", data={"_csrf_token": world.csrf()})
    client.post("/login", data={"username": "teacher", "password": "wrong password", "_csrf_token": world.csrf()})

    log = world.run(entries)
    seen = [(e.action, e.target, e.result) for e in log]
    for expected in [("create", f"record:{record_id}", "ok"), ("read", f"record:{record_id}", "ok"),
                     ("list", "form:registration", "ok"), ("print", f"record:{record_id}", "ok"),
                     ("read", "record:999999", "denied"), ("logout", "", "ok")]:
        assert expected in seen, (expected, seen)
    failed = [e for e in log if e.action == "login" and e.result == "failed"]
    assert len(failed) == 1 and failed[0].target.startswith("user:") and failed[0].actor == "teacher" and failed[0].school_id
    listed = next(e for e in log if e.action == "list")
    assert listed.detail == "search" and listed.actor == "admin" and "psych_teacher" in listed.roles
    everything = " ".join(f"{e.target} {e.detail} {e.actor} {e.roles}" for e in log)
    assert "林小雨" not in everything and "审计里不该出现" not in everything and "wrong password" not in everything
    assert len({e.request_id for e in log}) == len([e for e in log])  # one request, one id (one entry each here)
    assert all(e.at.tzinfo is not None for e in log)


def test_the_chain_finds_a_changed_or_removed_entry(world):
    from server.audit import verify

    world.run(add_users)
    world.login("teacher")
    world.client.get("/forms/individual_counseling")  # refused: a 班主任 does not read counselling records
    for _ in range(3):
        world.client.get("/forms/registration")
    checked, broken = world.run(verify)
    assert checked >= 3 and broken is None
    log = world.run(entries)
    assert ("read", "form:individual_counseling", "denied") in [(e.action, e.target, e.result) for e in log]

    async def tamper() -> int:
        from server.models import AuditEntry

        entry = await AuditEntry.filter(result="denied").first()
        await AuditEntry.filter(id=entry.id).update(result="ok")  # someone hides a refusal
        return entry.id

    changed = world.run(tamper)
    assert world.run(verify)[1] == changed

    async def restore_and_delete(entry_id: int) -> int:
        from server.models import AuditEntry

        await AuditEntry.filter(id=entry_id).update(result="denied")
        victim = await AuditEntry.filter(id__gt=entry_id).order_by("id").first()
        await AuditEntry.filter(id=victim.id).delete()  # someone removes an entry
        return (await AuditEntry.filter(id__gt=victim.id).order_by("id").first()).id

    following = world.run(restore_and_delete, changed)
    assert world.run(verify)[1] == following


def test_audit_verify_command(tmp_path):
    import sqlite3

    env = {"XINDANG_DATA_DIR": str(tmp_path / "data"), "XINDANG_SECRET_KEY": "x"}
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--admin-password", "Long-enough-9"], env=env).exit_code == 0
    for name in ("a1", "a2", "a3"):
        made = runner.invoke(cli, ["user", "create", name, "--role", "leader", "--password", "Long-enough-9"], env=env)
        assert made.exit_code == 0, made.output
    result = runner.invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 0 and "3" in result.output and "完整" in result.output
    with sqlite3.connect(tmp_path / "data" / "xindang.sqlite3") as db:
        db.execute("UPDATE audit_log SET detail = 'create roles=admin' WHERE id = 2")
    result = runner.invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 1 and "2" in result.output and "改动" in result.output


def test_audit_page_for_leaders_and_administrators_only(logged_in):
    world, client = logged_in, logged_in.client
    world.run(add_users)
    client.get(f"/records/123456")
    page = client.get("/admin/audit", params={"target": "record:123456"})
    assert page.status_code == 200 and "record:123456" in page.text and "拒绝" in page.text
    assert "record:123456" not in client.get("/admin/audit", params={"action": "create"}).text
    client.post("/logout", data={"_csrf_token": world.csrf()})
    world.login("teacher")
    refused = client.get("/admin/audit")
    assert refused.status_code == 403 and "校领导" in refused.text
    assert 'href="/admin/audit"' not in client.get("/forms").text
    client.post("/logout", data={"_csrf_token": world.csrf()})
    world.login("boss")
    page = client.get("/admin/audit", params={"actor": "teacher"})
    assert page.status_code == 200 and "/admin/audit" in page.text and "拒绝" in page.text


def _form(data: dict) -> dict:
    from _formdata import definition, form_fields

    return form_fields(definition("registration"), data)


def test_audited_writes_hold_the_advisory_lock_on_postgresql(world):
    """Several workers append in turn: the chain's lock is really taken (and a nested append joins it)."""
    async def inside() -> int:
        from tortoise import connections

        from server import audit

        async with audit.transaction() as log:
            await audit.append("open", "nested")  # joins the open transaction instead of waiting for itself
            await log.append("open", "outer")
            if connections.get("default").capabilities.dialect != "postgres":
                return -1
            _, rows = await log.connection.execute_query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted")
            return rows[0]["n"]
    held = world.run(inside)
    assert held == -1 or held >= 1
