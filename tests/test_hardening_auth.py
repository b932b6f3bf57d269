"""Hardening of sign-in and requests: parallel password guesses get no more tries than sequential
ones, a CSRF token works only in the session it was given to, the audit log keeps no typed words,
and the API's description is for signed-in users and token holders only."""

from __future__ import annotations

import asyncio

from conftest import PASSWORD
from test_roster import upload, xlsx, ROWS

MARKER = "王可馨有自伤倾向"


async def account_state() -> tuple[int, object]:
    from server.models import User

    user = await User.get(username="admin")
    return user.failed_logins, user.locked_until


def test_parallel_wrong_passwords_let_no_guess_through(world, monkeypatch):
    """40 wrong passwords at once and the right one 0.3 s later: at most five tries in a row are really
    checked against the account's hash (the rest wait unchecked), so the right password gets in only as
    one of those five; otherwise the account waits, the right password with it."""
    import server.auth

    checked = []
    real_verify = server.auth._verify

    def counting_verify(password_hash: str, password: str) -> bool:
        if password_hash != server.auth._DUMMY_HASH:
            checked.append(password)
        return real_verify(password_hash, password)
    monkeypatch.setattr(server.auth, "_verify", counting_verify)

    async def attack():
        async def right_one_later():
            await asyncio.sleep(0.3)
            return await server.auth.authenticate_password("admin", PASSWORD)
        results = await asyncio.gather(*(server.auth.authenticate_password("admin", f"guess number {i}") for i in range(40)),
                                       right_one_later())
        return [user is not None for user, _account in results], await account_state()
    signed_in, (failures, locked_until) = world.run(attack)
    assert not any(signed_in[:40])
    if signed_in[40]:  # one of the first five checked; its success starts a new run of five free tries
        assert checked.index(PASSWORD) < 5 and len(checked) <= 10
    else:
        assert len(checked) <= 5 and failures == 5 and locked_until is not None


def test_a_right_password_among_parallel_tries_leaves_the_account_open(world):
    from server.auth import authenticate_password

    async def tries():
        results = await asyncio.gather(*(authenticate_password("admin", f"guess number {i}") for i in range(4)),
                                       authenticate_password("admin", PASSWORD))
        return results[-1][0] is not None, await account_state()
    signed_in, (failures, locked_until) = world.run(tries)
    assert signed_in
    assert locked_until is None and failures < 5
    assert world.client.post("/login", data={"username": "admin", "password": PASSWORD, "_csrf_token": world.csrf()},
                             follow_redirects=False).status_code == 303


def _logout(client, cookie: str, token: str):
    client.cookies.set("xd_csrf", cookie)
    return client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)


def test_a_csrf_token_works_only_in_its_own_session(world):
    client = world.client
    client.get("/login")
    anonymous = client.cookies.get("xd_csrf")
    world.login()
    first = client.cookies.get("xd_csrf")
    assert first and first != anonymous  # signing in gives the session a token of its own
    client.cookies.clear()
    world.login()
    own = client.cookies.get("xd_csrf")
    assert own not in (first, anonymous)
    for cookie in (first, anonymous):  # another session's pair, or an anonymous visit's
        refused = _logout(client, cookie, cookie)
        assert refused.status_code == 403 and "安全校验未通过" in refused.text
        assert client.get("/forms", follow_redirects=False).status_code == 200  # still signed in: nothing changed
    assert _logout(client, own, own).status_code == 303
    assert client.get("/forms", follow_redirects=False).status_code == 303  # signed out


def test_a_half_finished_sign_in_is_bound_too(world):
    """The session between the password and the second-factor code holds its own token as well."""
    client = world.client
    client.get("/login")
    anonymous = client.cookies.get("xd_csrf")

    async def require_code() -> None:
        from server.models import School, User
        from server.second_factor import new_secret

        await User.filter(username="admin").update(totp_secret=new_secret())
        await School.filter(code="t1").update(totp_roles=["admin"])
    world.run(require_code)
    response = client.post("/login", data={"username": "admin", "password": PASSWORD, "_csrf_token": anonymous},
                           follow_redirects=False)
    assert response.headers["location"] == "/login/code"
    bound = client.cookies.get("xd_csrf")
    assert bound != anonymous
    client.cookies.set("xd_csrf", anonymous)
    assert client.post("/login/code", data={"code": "123456", "_csrf_token": anonymous}).status_code == 403


def test_the_audit_log_keeps_no_typed_words(logged_in):
    world, client = logged_in, logged_in.client
    client.get("/forms/monthly_mood", params={"format": MARKER, "q": MARKER, "f." + MARKER: MARKER})
    client.get("/forms/monthly_mood", params={"format": "csv", "q": MARKER})
    preview = upload(world, xlsx(ROWS[2:]), name=f"{MARKER}.xlsx")  # a row of the test school's own class
    assert preview.status_code == 200, preview.text
    assert client.post("/roster/import/confirm", data={"_csrf_token": world.csrf(), "year": "2026-2027"}).status_code == 200

    async def entries():
        from server.models import AuditEntry

        return [(e.action, e.target, e.detail) for e in await AuditEntry.all()]
    logged = world.run(entries)
    assert any(action == "list" for action, _t, _d in logged) and any(action == "import" for action, _t, _d in logged)
    assert not [entry for entry in logged if MARKER in "".join(entry) or "王可馨" in "".join(entry)]
    kinds = {detail.split()[0] for action, _t, detail in logged if action in ("list", "export") and detail}
    assert kinds <= {"csv", "xlsx", "json", "search"}


def test_the_api_description_needs_a_user_or_a_token(world):
    client = world.client
    for url in ("/schema", "/schema/openapi.json"):
        refused = client.get(url)
        assert refused.status_code == 401 and "paths" not in refused.text, url
        assert refused.json()["errors"][0]["message"]

    async def token() -> str:
        from server.auth import create_token
        from server.models import User

        return await create_token(await User.get(username="admin"))
    bearer = {"Authorization": "Bearer " + world.run(token)}
    assert "paths" in client.get("/schema/openapi.json", headers=bearer).json()
    assert client.get("/schema/openapi.json", headers={"Authorization": "Bearer xd_wrong"}).status_code == 401
    world.login()
    assert "paths" in client.get("/schema/openapi.json").json()
