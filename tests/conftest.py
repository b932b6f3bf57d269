"""Shared fixtures: a real database (a SQLite file, and PostgreSQL when XINDANG_TEST_POSTGRES_URL
is set), the app on it, a logged-in client and a small fictional school."""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import TestClient

from server.settings import Settings

PG_URL = os.environ.get("XINDANG_TEST_POSTGRES_URL", "")
DATABASES = ["sqlite"] + (["postgres"] if PG_URL else [])
PASSWORD = "correct horse battery"


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@functools.lru_cache(maxsize=None)
def migrated_template(database: str) -> str:
    """A database migrated once per test session: each test starts from a copy of it (a SQLite file
    copied; PostgreSQL's CREATE DATABASE … TEMPLATE). Running the migrations costs ~0.8 s, a copy ~0.05 s."""
    import atexit
    import shutil
    import tempfile

    from server.db import close_database, open_database

    folder = Path(tempfile.mkdtemp(prefix="xd-template-"))
    env = {"XINDANG_DATA_DIR": str(folder), "XINDANG_SECRET_KEY": "template"}
    name = ""
    if database == "postgres":
        name = "xd_tpl_" + uuid.uuid4().hex[:12]
        _pg_admin(f"CREATE DATABASE {name}")
        env["XINDANG_DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + name
        atexit.register(_pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    settings = Settings.from_env(env)

    async def migrate() -> None:
        await open_database(settings, migrate=True)
        await close_database()
    asyncio.run(migrate())
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
    atexit.register(shutil.rmtree, folder, True)
    if database == "postgres":
        return name
    assert not list(folder.glob("*-wal")) or (folder / "xindang.sqlite3-wal").stat().st_size == 0
    return str(folder / "xindang.sqlite3")


def make_settings(tmp_path: Path, database: str) -> Settings:
    """A fresh, migrated database of its own for one test (a copy of the session's template)."""
    import shutil

    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    env = {"XINDANG_DATA_DIR": str(data_dir), "XINDANG_SECRET_KEY": "test-secret-" + uuid.uuid4().hex}
    if database == "postgres":
        name = "xd_test_" + uuid.uuid4().hex[:12]
        _pg_admin(f"CREATE DATABASE {name} TEMPLATE {migrated_template('postgres')}")
        env["XINDANG_DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + name
    elif not (data_dir / "xindang.sqlite3").exists():
        shutil.copyfile(migrated_template("sqlite"), data_dir / "xindang.sqlite3")
    return Settings.from_env(env)


def drop_settings_db(settings: Settings) -> None:
    if not settings.is_sqlite:
        name = settings.database_url.rsplit("/", 1)[1]
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class World:
    """A fictional school with one class, two students and an admin user."""

    client: TestClient
    settings: Settings
    student_ids: list[int]
    other_school_student_id: int
    admin_username: str = "admin"

    def run(self, coro_fn, *args):
        return self.client.blocking_portal.call(coro_fn, *args)

    def login(self, username: str = "admin", password: str = PASSWORD) -> None:
        self.client.get("/login")
        response = self.client.post("/login", data={"username": username, "password": password,
                                                    "_csrf_token": self.csrf()}, follow_redirects=False)
        assert response.status_code == 303, response.text

    def csrf(self) -> str:
        token = self.client.cookies.get("xd_csrf")
        if not token:
            self.client.get("/login")
            token = self.client.cookies.get("xd_csrf")
        return token


@functools.lru_cache(maxsize=None)
def light_password_hash(password: str) -> str:
    """A real argon2id hash with light parameters: login verifies it with the app's own hasher
    (the parameters travel in the hash), at a fraction of the production cost."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


async def seed() -> tuple[list[int], int]:
    from server.models import School, SchoolClass, Student, User

    school = await School.create(code="t1", name="测试实验学校")
    klass = await SchoolClass.create(school=school, grade=7, name="七年级(1)班", school_year="2026-2027")
    await User.create(school=school, username="admin", display_name="管理员", password_hash=light_password_hash(PASSWORD),
                      roles=["admin", "leader", "moral_education", "psych_teacher", "school_doctor"])
    ids = []
    for number, (name, gender) in enumerate([("林小雨", "女"), ("周明轩", "男")], start=1):
        student = await Student.create(school=school, klass=klass, student_number=f"T{number:04d}", name=name, gender=gender)
        ids.append(student.id)
    other = await School.create(code="t2", name="另一所学校")
    other_class = await SchoolClass.create(school=other, grade=7, name="七年级(9)班", school_year="2026-2027")
    stranger = await Student.create(school=other, klass=other_class, student_number="X0001", name="外校学生", gender="男")
    return ids, stranger.id


@pytest.fixture(params=DATABASES)
def world(request, tmp_path):
    from server.app import create_app

    settings = make_settings(tmp_path, request.param)
    app = create_app(settings, migrate=True)
    try:
        with TestClient(app, base_url="http://testserver.local") as client:
            ids, stranger = client.blocking_portal.call(seed)
            yield World(client=client, settings=settings, student_ids=ids, other_school_student_id=stranger)
    finally:
        # Tortoise caches insert statements per connection name, not per dialect: forget
        # them so the next test can run on the other database in this process.
        from tortoise.backends.base.executor import EXECUTOR_CACHE

        EXECUTOR_CACHE.clear()
        drop_settings_db(settings)


@pytest.fixture
def logged_in(world):
    world.login()
    return world


@pytest.fixture(scope="session", autouse=True)
def shared_definitions():
    """Checking and compiling the shipped definitions costs ~0.6 s per app: every app of the
    session reuses a folder's definition while its files are unchanged (definitions are immutable)."""
    import server.registry

    original = server.registry.load_form_dir
    cache: dict = {}

    def cached(form_dir: Path):
        files = sorted(p for p in form_dir.rglob("*.json") if p.is_file())
        key = (str(form_dir.resolve()), tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))
        if key not in cache:
            cache[key] = original(form_dir)
        return cache[key]

    server.registry.load_form_dir = cached
    yield
    server.registry.load_form_dir = original
