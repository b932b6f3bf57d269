"""Sign-in and sessions: per-account back-off with one generic message, logout ending every session
of the user, and the idle timeout."""

from __future__ import annotations

import time

import orjson
from conftest import PASSWORD


def attempt(world, client, password: str):
    client.get("/login")
    token = client.cookies.get("xd_csrf")
    return client.post("/login", data={"username": "admin", "password": password, "_csrf_token": token}, follow_redirects=False)


async def account() -> tuple[int, object]:
    from server.models import User

    user = await User.get(username="admin")
    return user.failed_logins, user.locked_until


def test_wrong_passwords_make_the_account_wait_with_the_same_message(world):
    client = world.client
    unknown = client.post("/login", data={"username": "nobody", "password": "x" * 9, "_csrf_token": world.csrf()})
    generic = unknown.text[unknown.text.find('class="error"'):][:120]
    for number in range(1, 6):
        response = attempt(world, client, f"wrong password {number}")
        assert response.status_code == 401 and generic.split("</")[0] in response.text
    failures, locked_until = world.run(account)
    assert failures == 5 and locked_until is not None
    locked = attempt(world, client, PASSWORD)  # even the right password waits, with the same words
    assert locked.status_code == 401 and generic.split("</")[0] in locked.text

    async def lock_expired() -> None:
        import datetime as dt

        from server.models import User

        await User.filter(username="admin").update(locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))

    world.run(lock_expired)
    assert attempt(world, client, PASSWORD).status_code == 303
    assert world.run(account) == (0, None)


def test_logout_ends_every_session_of_the_user(world):
    client = world.client
    world.login()
    first_device = dict(client.cookies)
    client.cookies.clear()
    world.login()  # the same user on a second computer: another session
    assert client.cookies.get("xd_session") != first_device["xd_session"]
    client.post("/logout", data={"_csrf_token": world.csrf()})
    client.cookies.clear()
    for name, value in first_device.items():
        client.cookies.set(name, value)
    assert client.get("/forms", follow_redirects=False).status_code in (302, 303, 401)


def test_an_idle_session_ends(logged_in):
    world, client = logged_in, logged_in.client
    assert client.get("/forms").status_code == 200

    async def idle_for(seconds: int) -> None:
        from server.models import SessionEntry

        for entry in await SessionEntry.all():
            data = orjson.loads(bytes(entry.data))
            if data.get("user_id"):
                data["seen"] = int(time.time()) - seconds
                await SessionEntry.filter(key=entry.key).update(data=orjson.dumps(data))

    world.run(idle_for, 20 * 60)
    assert client.get("/forms").status_code == 200  # 20 minutes away: still signed in
    world.run(idle_for, 31 * 60)
    assert client.get("/forms", follow_redirects=False).status_code in (302, 303, 401)
    assert client.get("/forms", follow_redirects=False).status_code in (302, 303, 401)  # and it stays ended


def test_password_rules():
    from server.passwords import password_problem

    for bad in ("short", "password123", "WoAiNi1314", "88888888", "aaaaaaaaaaaa", "abababababab", "xinli-2026-xinli"):
        assert password_problem(bad, "xinli"), bad
    for good in ("我的心理档案密码很长", "correct horse battery staple", "Ünïcödé-pass-7", "长江长城黄山黄河", "a1b2" * 64):
        assert password_problem(good, "xinli") is None, good
    assert password_problem("x" * 257)


async def new_teacher() -> None:
    from server.auth import hash_password
    from server.models import School, User

    await User.create(school=await School.get(code="t1"), username="newbie", display_name="新老师", roles=["psych_teacher"],
                      password_hash=hash_password("初始密码-由管理员设定"), must_change_password=True)


async def must_change(username: str) -> bool:
    from server.models import User

    return (await User.get(username=username)).must_change_password


def test_an_initial_password_must_be_changed_first(world):
    client = world.client
    world.run(new_teacher)
    client.get("/login")
    signed = client.post("/login", data={"username": "newbie", "password": "初始密码-由管理员设定", "_csrf_token": world.csrf()},
                         follow_redirects=False)
    assert signed.status_code == 303
    assert client.get("/forms", follow_redirects=False).headers["location"] == "/account/password"
    form = client.get("/account/password")
    assert form.status_code == 200 and "由别人设定" in form.text
    token = world.run(_token, "newbie")
    api = client.get("/api/forms", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 403 and "密码" in api.json()["errors"][0]["message"]

    def change(current: str, new: str, repeat: str | None = None):
        return client.post("/account/password", data={"current": current, "new": new, "repeat": repeat or new,
                                                      "_csrf_token": world.csrf()}, follow_redirects=False)

    assert change("猜错的密码", "一个很好记的新密码").status_code == 422
    weak = change("初始密码-由管理员设定", "password123")
    assert weak.status_code == 422 and "容易" in weak.text
    assert change("初始密码-由管理员设定", "一个很好记的新密码", "另一个").status_code == 422
    assert client.get("/api/forms", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    done = change("初始密码-由管理员设定", "一个很好记的新密码")
    assert done.status_code == 303 and done.headers["location"] == "/forms"
    assert client.get("/forms").status_code == 200
    assert world.run(must_change, "newbie") is False
    assert client.get("/api/forms", headers={"Authorization": f"Bearer {token}"}).status_code == 401  # old tokens end too
    client.post("/logout", data={"_csrf_token": world.csrf()})
    client.get("/login")
    old = client.post("/login", data={"username": "newbie", "password": "初始密码-由管理员设定", "_csrf_token": world.csrf()})
    assert old.status_code == 401
    world.login("newbie", "一个很好记的新密码")


async def _token(username: str) -> str:
    from server.auth import create_token
    from server.models import User

    return await create_token(await User.get(username=username))
