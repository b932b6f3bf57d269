"""Batch printing of a whole class: 45 fictional students with ~10 records each, printed as one PDF by
the batch printer with 1 worker and with one worker per core, against raw WeasyPrint on the same HTML
in one process. Prints pages per second, the speed-up and each worker's peak memory.

Target (issue 5): all workers within 1.2× of (raw WeasyPrint time ÷ cores); < 400 MB per worker.

    python bench/batch_print.py [--students 45] [--records 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (puts the project root on sys.path)

FORMS = ["registration", "screening_consent", "attention_ledger", "classroom_observation", "individual_counseling",
         "family_interview", "referral", "support_plan", "monthly_mood", "growth_summary", "return_to_school", "safety_pledge"]


async def seed(students: int, records: int):
    """A class of fictional students, each with `records` records of the forms above."""
    from server.models import School, SchoolClass, Student, User
    from server.records import create_record
    from server.registry import Registry
    from server.settings import Settings

    settings = Settings.from_env()
    registry = Registry.load(settings.form_dirs)
    school = await School.create(code="bench", name="虚构县实验中学")
    klass = await SchoolClass.create(school=school, grade=7, name="七年级(3)班", school_year="2026-2027")
    author = await User.create(school=school, username="bench", display_name="心理老师", password_hash="-", roles=["psych_teacher"])
    ids = []
    for n in range(students):
        student = await Student.create(school=school, klass=klass, student_number=f"B{n:05d}", name=f"学生{n:02d}",
                                       gender="女" if n % 2 else "男")
        for form_id in FORMS[:records]:
            await create_record(registry.get(form_id), school, author, common.example(form_id), [student])
        ids.append(student.id)
    return settings, registry, school, klass, ids


async def measure(students: int, records: int) -> dict:
    from renderers.pdf import write_pdf_file
    from server.access import ROLES, Actor
    from server.batch_print import PrintOrder, PrintRunner
    from server.db import close_database, open_database
    from server.models import PrintJob, Student
    from server.student_file import student_archive

    settings, registry, school, klass, ids = None, None, None, None, None
    from server.settings import Settings

    await open_database(Settings.from_env(), migrate=True)
    try:
        settings, registry, school, klass, ids = await seed(students, records)
        keeper = Actor(0, school.id, frozenset(ROLES), frozenset())
        # raw WeasyPrint: the same HTML, one process, one after another (after one warm-up render)
        started = time.perf_counter()
        htmls = [(await student_archive(registry, keeper, s, school))[0]
                 for s in await Student.filter(id__in=ids).select_related("klass").order_by("student_number")]
        build = time.perf_counter() - started
        scratch = Path(tempfile.mkdtemp(prefix="xindang-bench-raw-"))
        write_pdf_file(htmls[0], str(scratch / "warm.pdf"))
        started = time.perf_counter()
        raw_pages = sum(write_pdf_file(html, str(scratch / f"{n}.pdf")) for n, html in enumerate(htmls))
        raw = time.perf_counter() - started
        results = {"students": students, "records": students * records, "pages": raw_pages, "raw": raw, "build": build}
        for workers in sorted({1, os.cpu_count() or 1}):
            runner = PrintRunner(settings, registry, workers)
            list(runner.pool.map(len, ["warm"] * workers))  # the pool a running server keeps: started once
            job = await PrintJob.create(school=school, owner=None, title=f"bench {workers}", student_ids=ids, total=len(ids))
            started = time.perf_counter()
            done = await runner.run(job, keeper, actor_name="bench")
            elapsed = time.perf_counter() - started
            await runner.close()
            assert done.status == "done", done.error
            results[workers] = (elapsed, done.pages)
        results["worker_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return results
    finally:
        await close_database()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=45)
    parser.add_argument("--records", type=int, default=10, help=f"records per student (at most {len(FORMS)})")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="xindang-bench-print-"))
    os.environ.update({"XINDANG_DATA_DIR": str(data_dir), "XINDANG_SECRET_KEY": "bench-secret"})
    os.environ.pop("XINDANG_DATABASE_URL", None)
    r = asyncio.run(measure(args.students, min(args.records, len(FORMS))))
    cores = os.cpu_count() or 1
    print(f"\nBatch printing — {r['students']} students, {r['records']} records, {r['pages']} pages, {cores} core(s)")
    print(f"  building the HTML (server process)       {r['build']:7.2f} s")
    print(f"  raw WeasyPrint, one process               {r['raw']:7.2f} s  {r['pages'] / r['raw']:6.1f} pages/s")
    for workers in sorted(k for k in r if isinstance(k, int)):
        elapsed, pages = r[workers]
        print(f"  batch job, {workers} worker(s), one merged PDF  {elapsed:7.2f} s  {pages / elapsed:6.1f} pages/s")
    best = r[cores][0]
    ratio = best / (r["raw"] / cores)
    print(f"  speed-up 1 → {cores} workers: {r[1][0] / best:.2f}x;  all workers ÷ (raw ÷ cores) = {ratio:.2f}x "
          f"({'meets' if ratio <= 1.2 else 'misses'} the 1.2x target)")
    print(f"  peak memory of a worker: {r['worker_peak_mb']:.0f} MB ({'under' if r['worker_peak_mb'] < 400 else 'over'} 400 MB)")
    return {"ratio": ratio, "peak_mb": r["worker_peak_mb"]}


if __name__ == "__main__":
    main()
