"""Typed work survives an ended session: a save posted after the session ended is kept (encrypted) for the
user who opened the form, handed back to that user only after signing in, once, and purged when it expires.
Also the keep-alive and the absolute session limit it must respect."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import orjson

from conftest import PASSWORD, light_password_hash
from server.models import AuditEntry, Record, SessionEntry

COMPLAINT = "近两周晚上睡不着，上课注意力难以集中，和同桌发生过两次争执。" * 20  # a long 主诉, typed over an hour
FORM = "/forms/individual_counseling"


async def idle_for(seconds: int, field: str = "seen") -> None:
    """Age every signed-in session as if its user had been away (the real idle/absolute check then ends it)."""
    for entry in await SessionEntry.all():
        data = orjson.loads(bytes(entry.data))
        if data.get("user_id"):
            data[field] = int(time.time()) - seconds
            await SessionEntry.filter(key=entry.key).update(data=orjson.dumps(data))


async def delete_sessions() -> None:
    await SessionEntry.all().delete()


async def kept_rows() -> list[tuple[int, bytes, str]]:
    from server.models import UnsavedPost

    return [(row.user_id, bytes(row.data), row.target) for row in await UnsavedPost.all()]


async def record_count() -> int:
    return await Record.all().count()


async def audit_rows() -> list[tuple[str, str, str, str]]:
    return [(e.action, e.target, e.result, e.detail) for e in await AuditEntry.all().order_by("id")]


async def add_teacher(username: str) -> int:
    from server.models import School, User

    user = await User.create(school=await School.get(code="t1"), username=username, display_name="另一位心理老师",
                             roles=["psych_teacher"], password_hash=light_password_hash(PASSWORD))
    return user.id


def owner_token(page: str) -> str:
    return html.unescape(re.search(r'name="_owner" value="([^"]+)"', page).group(1))


def typed_post(world, page: str, **extra: str) -> dict:
    return {"_csrf_token": world.csrf(), "_owner": owner_token(page), "_student": str(world.student_ids[0]),
            "opened_on": "2026-03-02", "complaint": COMPLAINT, "source": "班主任转介", "_action": "save", **extra}


def sign_in(world, username: str, next_url: str):
    world.client.get("/login")
    return world.client.post("/login", data={"username": username, "password": PASSWORD, "next": next_url,
                                             "_csrf_token": world.csrf()}, follow_redirects=False)


def next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def test_a_save_after_the_idle_timeout_comes_back_filled_after_signing_in(logged_in):
    world, client = logged_in, logged_in.client
    page = client.get(f"{FORM}/new").text
    world.run(idle_for, 31 * 60)  # the settings' idle timeout passes while the teacher types
    response = client.post(FORM, data=typed_post(world, page), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?")
    resume = next_of(response.headers["location"])
    assert resume.startswith(f"{FORM}/new?restore=")
    assert world.run(record_count) == 0  # nothing saved without a session

    rows = world.run(kept_rows)
    assert len(rows) == 1 and rows[0][2] == FORM
    assert "睡不着".encode() not in rows[0][1] and COMPLAINT[:10].encode("utf-8") not in rows[0][1]  # encrypted at rest
    assert all("睡不着" not in " ".join(entry) for entry in world.run(audit_rows))  # no answer text in the audit log
    assert ("keep-unsaved", "form:individual_counseling", "ok") in [e[:3] for e in world.run(audit_rows)]

    login = client.get(response.headers["location"])
    assert "暂存" in login.text  # the login page says the typing is kept
    signed = sign_in(world, "admin", resume)
    assert signed.status_code == 303 and signed.headers["location"] == resume
    back = client.get(resume)
    assert back.status_code == 200
    assert COMPLAINT in html.unescape(back.text)
    assert 'data-unsaved="true"' in back.text and "已恢复" in back.text
    assert f'<input type="hidden" name="_student" value="{world.student_ids[0]}">' in back.text  # the student chosen again
    assert world.run(kept_rows) == []  # handed back once, then deleted
    assert "restore-unsaved" in [e[0] for e in world.run(audit_rows)]
    again = client.get(resume)
    assert COMPLAINT not in html.unescape(again.text) and "没有找到暂存的内容" in again.text

    saved = client.post(FORM, data={**typed_post(world, back.text), "risk_screen": "无自伤他伤迹象",
                                    "confidentiality_informed": "true"}, follow_redirects=False)
    assert saved.status_code == 303 and world.run(record_count) == 1


def test_an_htmx_save_with_a_deleted_session_row_is_kept_too(logged_in):
    world, client = logged_in, logged_in.client
    page = client.get(f"{FORM}/new").text
    world.run(delete_sessions)  # the session is gone from the store altogether
    response = client.post(FORM, data=typed_post(world, page), headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    resume = next_of(response.headers["HX-Redirect"])
    assert resume.startswith(f"{FORM}/new?restore=") and len(world.run(kept_rows)) == 1
    assert sign_in(world, "admin", resume).status_code == 303
    assert COMPLAINT in html.unescape(client.get(resume).text)


def test_another_user_on_the_same_browser_never_sees_it(logged_in):
    world, client = logged_in, logged_in.client
    world.run(add_teacher, "xinli2")
    page = client.get(f"{FORM}/new").text
    world.run(idle_for, 31 * 60)
    resume = next_of(client.post(FORM, data=typed_post(world, page), follow_redirects=False).headers["location"])
    assert sign_in(world, "xinli2", resume).status_code == 303  # a colleague signs in on this browser
    theirs = client.get(resume)
    assert theirs.status_code == 200 and COMPLAINT not in html.unescape(theirs.text) and "睡不着" not in theirs.text
    assert len(world.run(kept_rows)) == 1  # still kept for its owner
    client.post("/logout", data={"_csrf_token": world.csrf()})
    assert sign_in(world, "admin", resume).status_code == 303
    assert COMPLAINT in html.unescape(client.get(resume).text)


def test_a_post_without_a_valid_owner_token_keeps_nothing(logged_in):
    world, client = logged_in, logged_in.client
    page = client.get(f"{FORM}/new").text
    other_form_token = owner_token(client.get("/forms/attention_ledger/new").text)  # made for another form
    world.run(delete_sessions)
    for token in ("", "1.1700000000.0000", other_form_token, owner_token(page).replace(".", ".9", 1)):
        response = client.post(FORM, data={**typed_post(world, page), "_owner": token}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert world.run(kept_rows) == []


async def expire_all() -> None:
    from server.models import UnsavedPost

    await UnsavedPost.all().update(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))


async def purge() -> int:
    from server.unsaved_work import purge_expired

    return await purge_expired()


def test_kept_work_expires_and_is_purged(logged_in):
    world, client = logged_in, logged_in.client
    page = client.get(f"{FORM}/new").text
    world.run(idle_for, 31 * 60)
    resume = next_of(client.post(FORM, data=typed_post(world, page), follow_redirects=False).headers["location"])
    world.run(expire_all)  # 24 hours later
    assert sign_in(world, "admin", resume).status_code == 303
    late = client.get(resume)
    assert COMPLAINT not in html.unescape(late.text) and "没有找到暂存的内容" in late.text
    assert world.run(purge) == 1
    assert world.run(kept_rows) == []
    assert ("purge-unsaved", "form:individual_counseling", "ok") in [e[:3] for e in world.run(audit_rows)]


async def save_meanwhile(record_id: int) -> None:
    from server.models import User
    from server.records import update_record

    record = await Record.get(id=record_id)
    await update_record(record, record.version, {**record.data, "complaint": "同事补充的主诉"}, await User.get(username="admin"))


def test_an_edit_kept_across_the_session_end_goes_through_the_conflict_check(logged_in):
    world, client = logged_in, logged_in.client
    created = client.post(FORM, data={**typed_post(world, client.get(f"{FORM}/new").text), "complaint": "最初的主诉",
                                       "risk_screen": "无自伤他伤迹象", "confidentiality_informed": "true"}, follow_redirects=False)
    record_id = int(re.search(r"/records/(\d+)", created.headers["location"]).group(1))
    edit = client.get(f"/records/{record_id}/edit").text
    world.run(idle_for, 31 * 60)
    mine = {**typed_post(world, edit), "_version": "1", "risk_screen": "无自伤他伤迹象", "confidentiality_informed": "true"}
    mine.pop("_student")
    resume = next_of(client.post(f"/records/{record_id}", data=mine, follow_redirects=False).headers["location"])
    assert resume == f"/records/{record_id}/edit?restore=" + parse_qs(urlsplit(resume).query)["restore"][0]
    world.run(save_meanwhile, record_id)  # a colleague saves the record while the teacher is signed out
    assert sign_in(world, "admin", resume).status_code == 303
    back = client.get(resume)
    assert COMPLAINT in html.unescape(back.text) and 'name="_version" value="1"' in back.text
    assert "有人保存过这条记录" in back.text
    again = client.post(f"/records/{record_id}", data={**mine, "_owner": owner_token(back.text), "_csrf_token": world.csrf()})
    assert again.status_code == 409 and "同事补充的主诉" in again.text  # shown, never overwritten silently

    async def complaint() -> str:
        return (await Record.get(id=record_id)).data["complaint"]

    assert world.run(complaint) == "同事补充的主诉"


async def session_data() -> dict:
    entry = (await SessionEntry.all())[0]
    return orjson.loads(bytes(entry.data))


def test_the_keep_alive_holds_off_the_idle_timeout_but_not_the_absolute_one(logged_in):
    world, client = logged_in, logged_in.client
    world.run(idle_for, 25 * 60)
    alive = client.post("/session/keepalive", headers={"x-csrftoken": world.csrf()})
    assert alive.status_code == 200 and 0 < alive.json()["ends_in"] <= 8 * 3600
    assert int(time.time()) - world.run(session_data)["seen"] < 5
    world.run(idle_for, 8 * 3600 + 60, "since")  # signed in more than 8 hours ago, busy all the time
    ended = client.post("/session/keepalive", headers={"x-csrftoken": world.csrf()}, follow_redirects=False)
    assert ended.status_code in (303, 401)
    assert client.get("/forms", follow_redirects=False).status_code in (302, 303, 401)


def test_a_form_posted_while_another_account_is_signed_in_is_kept_for_its_opener(logged_in):
    world, client = logged_in, logged_in.client
    world.run(add_teacher, "xinli2")
    page = client.get(f"{FORM}/new").text  # opened by admin, who then signs out; a colleague signs in on this browser
    client.post("/logout", data={"_csrf_token": world.csrf()})
    assert sign_in(world, "xinli2", "/forms").status_code == 303
    refused = client.post(FORM, data=typed_post(world, page))
    assert refused.status_code == 409 and "没有保存" in refused.text and "睡不着" not in refused.text
    assert world.run(record_count) == 0  # nothing saved under the colleague's name
    assert [row[0] for row in world.run(kept_rows)] == [1]
    assert "暂存" not in client.get("/forms").text  # the colleague is not offered it
    client.post("/logout", data={"_csrf_token": world.csrf()})
    assert sign_in(world, "admin", "/forms").status_code == 303
    catalog = client.get("/forms").text
    assert "为您暂存" in catalog and "个别心理辅导全过程记录表" in catalog and "睡不着" not in catalog
    link = html.unescape(re.search(r'<a href="(/forms/individual_counseling/new\?restore=[^"]+)"', catalog).group(1))
    assert COMPLAINT in html.unescape(client.get(link).text)
    assert "为您暂存" not in client.get("/forms").text  # handed back: no longer waiting
