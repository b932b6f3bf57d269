"""The roster import of a whole school: 5,000 students from one XLSX, read, checked and written
(the issue's "5,000 students in one file within a few seconds"). Prints the figures.

    python bench/roster_import.py [--students N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts the project root on sys.path)


def workbook(count: int) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["学籍号", "姓名", "性别", "出生日期", "年级", "班级", "入学日期", "监护人", "联系电话"])
    for n in range(count):  # fictional students
        sheet.append([f"G{n:010d}", f"学生{n}", "男" if n % 2 else "女", "2013-05-02", 7 + n % 3, f"{1 + (n // 3) % 12}班",
                      "2025-09-01", f"家长{n}", f"139{n:08d}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def run(count: int) -> dict:
    from server.db import close_database, open_database
    from server.models import School
    from server.roster import apply_plan, plan_import, read_table
    from server.settings import Settings

    content = workbook(count)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env({"XINDANG_DATA_DIR": folder, "XINDANG_SECRET_KEY": "bench"})
        await open_database(settings, migrate=True)
        try:
            school = await School.create(code="bench", name="基准测试学校")
            started = time.perf_counter()
            table = read_table(content, "roster.xlsx")
            read = time.perf_counter()
            plan = await plan_import(school, table, school_year="2026-2027", create_classes=True)
            planned = time.perf_counter()
            counts = await apply_plan(school, plan, school_year="2026-2027")
            written = time.perf_counter()
            again = await plan_import(school, table, school_year="2026-2027")  # a second import: all unchanged
            replanned = time.perf_counter()
        finally:
            await close_database()
    return {"bytes": len(content), "read": read - started, "plan": planned - read, "write": written - planned,
            "total": written - started, "replan": replanned - written, "created": counts["created"],
            "unchanged": again.count("unchanged")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5000)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.students))
    print(f"roster import: {args.students} students, {figures['bytes'] / 1e6:.1f} MB XLSX (SQLite)")
    print(f"  read {figures['read']:.2f} s, check {figures['plan']:.2f} s, write {figures['write']:.2f} s "
          f"= {figures['total']:.2f} s; re-check of the same file {figures['replan']:.2f} s "
          f"({figures['created']} created, then {figures['unchanged']} unchanged)")
    return figures


if __name__ == "__main__":
    main()
