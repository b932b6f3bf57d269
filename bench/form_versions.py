"""What versions and the form editor cost: a school's registry built and looked up, one editor edit, a
publish reviewed against the records made with the version in use, and an export across versions.

A temporary SQLite database with one fictional school; prints figures only, never asserts timings.

    python bench/form_versions.py [--records 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import example  # noqa: E402

FORM = "classroom_observation"


def timed(runs: int, action) -> float:
    """Median seconds of `runs` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def measure(records: int) -> dict[str, float]:
    from tortoise import Tortoise

    from server.db import close_database, open_database
    from server.definition_diff import compare
    from server.definitions import Definition
    from server.form_editor import apply
    from server.form_versions import FormLibrary, stored_answers
    from server.models import Record, School, User
    from server.registry import Registry
    from server.settings import Settings
    from server.tabular import export_rows

    data_dir = Path(tempfile.mkdtemp(prefix="xindang-bench-versions-"))
    settings = Settings.from_env({"XINDANG_DATA_DIR": str(data_dir), "XINDANG_SECRET_KEY": "bench"})
    await open_database(settings, migrate=True)
    figures: dict[str, float] = {}
    try:
        base = Registry.load(settings.form_dirs)
        school = await School.create(code="bench", name="示例实验学校")
        user = await User.create(school=school, username="bench", display_name="bench", password_hash="-", roles=["admin"])
        library = FormLibrary(base)
        start = time.perf_counter()
        forms = await library.school_forms(school.id)
        figures["first registry of a school (writes version 1 of every form), ms"] = (time.perf_counter() - start) * 1000
        start, lookups = time.perf_counter(), 2000
        for _ in range(lookups):
            await library.school_forms(school.id)
        figures["cached registry lookup, µs"] = (time.perf_counter() - start) / lookups * 1e6
        library.forget(school.id)
        start = time.perf_counter()
        await library.school_forms(school.id)
        figures["registry lookup re-reading the version numbers, ms"] = (time.perf_counter() - start) * 1000

        current = forms.get(FORM)
        data = {**example(FORM), "plan": "每周一次"}
        rows = [Record(school=school, form_id=FORM, form_version=current.version, data=data, created_by=user, updated_by=user)
                for _ in range(records)]
        await Record.bulk_create(rows, batch_size=500)
        schema, layout = copy.deepcopy(current.schema), copy.deepcopy(current.layout)
        figures["one editor edit (add a field to a grid), ms"] = timed(50, lambda: apply(
            "add_field", schema, layout, {"place": "b0", "kind": "integer", "title": "观察时长（分钟）", "minimum": "1", "maximum": "45"})) * 1000
        schema, layout = apply("delete_cell", schema, layout, {"place": "b0/r1/c5"})
        schema, layout = apply("delete_cell", schema, layout, {"place": "b0/r1/c4"})
        schema, layout = apply("cell", schema, layout, {"place": "b0/r1/c3", "span": "3"})
        start = time.perf_counter()
        answers = await stored_answers(school.id, FORM)
        changes = compare(current, Definition(form_id=FORM, schema=schema, layout=layout), answers)
        figures[f"critical-change review against {records} records, ms"] = (time.perf_counter() - start) * 1000
        assert any(c.critical for c in changes)
        start = time.perf_counter()
        await library.publish(school.id, FORM, schema, layout, user, origin="edit", confirm_critical=True)
        figures[f"publish (checks, review of {records} records, write), ms"] = (time.perf_counter() - start) * 1000
        forms = await library.school_forms(school.id)
        new = forms.get(FORM)
        fetched = await Record.filter(school_id=school.id, form_id=FORM).prefetch_related("students")
        versions = {current.version: (current, frozenset())}
        start = time.perf_counter()
        lines = sum(1 for _ in export_rows(new, fetched, school, versions=versions))
        figures[f"export rows across two versions, {lines - 1} records, ms"] = (time.perf_counter() - start) * 1000
    finally:
        await close_database()
        await Tortoise.close_connections()
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"\nForm versions and the editor ({args.records} stored records)")
    figures = asyncio.run(measure(args.records))
    for name, value in figures.items():
        print(f"  {name}: {value:.1f}")
    return figures


if __name__ == "__main__":
    main()
