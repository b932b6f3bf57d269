"""A group record sealed with one student's file under the old rule comes back for the others when the database is
migrated (migration 0014), and a record about sealed files alone stays sealed."""

from __future__ import annotations

import asyncio

from _formdata import example, shipped_registry


def test_migration_unseals_group_records_shared_with_open_files(tmp_path):
    from conftest import drop_settings_db, make_settings, seed
    from server.db import close_database, open_database
    from server.models import Record, School, Student, User
    from server.records import create_record

    settings = make_settings(tmp_path, "sqlite")

    async def run() -> tuple[bool, bool]:
        await open_database(settings, migrate=True)
        try:
            await seed()
            school, admin = await School.get(code="t1"), await User.get(username="admin")
            sealed, other = await Student.filter(school=school).order_by("student_number")
            group = await create_record(shipped_registry().get("group_counseling"), school, admin, example("group_counseling"),
                                        [sealed, other])
            alone = await create_record(shipped_registry().get("registration"), school, admin, example("registration"), [sealed])
            await Student.filter(id=sealed.id).update(file_state="sealed")
            await Record.filter(id__in=[group.id, alone.id]).update(sealed=True)  # what sealing did before
            from importlib import import_module

            from tortoise import connections

            sql = import_module("server.migrations.0016_unseal_shared_group_records").Migration.operations[0].sql
            await connections.get("default").execute_script(sql)  # the migration's own statement, on the old state
            return (await Record.get(id=group.id)).sealed, (await Record.get(id=alone.id)).sealed
        finally:
            await close_database()
    group_sealed, alone_sealed = asyncio.run(run())
    drop_settings_db(settings)
    assert (group_sealed, alone_sealed) == (False, True)
