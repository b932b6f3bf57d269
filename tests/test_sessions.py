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
