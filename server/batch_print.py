"""Batch printing: the files of a whole class, of chosen students, or one form for a class, as one PDF
or a ZIP of a PDF per student.

A job runs in the server, not in the browser: the person may leave the page and come back to its
progress. The server process builds each student's HTML (it holds the database and decides what the
user may print) and a pool of worker processes turns them into PDFs, one student at a time per core:
WeasyPrint is CPU-bound, so threads would share one core. The result belongs to the user who asked
for it and is deleted when it expires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing
import os
import re
import shutil
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from tortoise.expressions import F

from renderers.pdf import merge_pdf_files, write_pdf_file
from server import audit
from server.access import Actor
from server.i18n import gettext as _
from server.models import PrintJob, School, Student
from server.form_versions import FormLibrary
from server.settings import Settings
from server.student_file import student_archive

log = logging.getLogger("xindang.print")
MAX_STUDENTS = 500  # one job; a whole grade is a few classes
SWEEP_SECONDS = 60
HEARTBEAT_SECONDS = 30  # a running job says it is alive this often...
STALE_AFTER = dt.timedelta(minutes=3)  # ...and one silent this long died with its server process
BUNDLES = ("pdf", "zip")
LIVE = ("queued", "running")


@dataclass(frozen=True)
class PrintOrder:
    """What to print: these students (in this order), the whole file or one form, bound how."""

    title: str
    student_ids: list[int]
    form_id: str = ""
    bundle: str = "pdf"


def prints_dir(settings: Settings) -> Path:
    folder = settings.data_dir / "prints"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def result_path(settings: Settings, job: PrintJob) -> Path:
    return prints_dir(settings) / f"job-{job.id}.{job.bundle}"


def safe_file_name(name: str) -> str:
    """A name for a file in a download or a ZIP: no separators, no dots to climb with, no control characters."""
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .")
    return cleaned[:120] or "_"


def download_name(job: PrintJob) -> str:
    return safe_file_name(job.title) + f".{job.bundle}"


class PrintRunner:
    """The worker pool and the jobs running in this server process."""

    def __init__(self, settings: Settings, forms: FormLibrary, workers: int | None = None):
        self.settings = settings
        self.forms = forms
        self.workers = max(1, workers or settings.print_workers)
        self._pool: ProcessPoolExecutor | None = None
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None
        self._running = 0

    @property
    def pool(self) -> ProcessPoolExecutor:
        """Started on first use and closed when no job needs it, so memory held by fonts and layouts never
        piles up; spawned, not forked, so no worker inherits the server's database connections."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _release_pool(self, force: bool = False) -> None:
        if self._pool is not None and (force or self._running == 0):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def open(self) -> None:
        """Jobs whose server process died are marked as interrupted; expired results go. Jobs of other
        server processes (serve --workers N) are alive as long as they keep their heartbeat."""
        await sweep(self.settings)
        self._sweeper = asyncio.create_task(self._sweep_now_and_then())

    async def close(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def submit(self, order: PrintOrder, actor: Actor, user) -> PrintJob:
        """Record the job and start it in the background; the caller answers at once."""
        job = await PrintJob.create(school_id=actor.school_id, owner_id=user.id, title=order.title[:200], form_id=order.form_id,
                                    student_ids=order.student_ids, bundle=order.bundle, total=len(order.student_ids))
        task = asyncio.create_task(self.run(job, actor, user))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def run(self, job: PrintJob, actor: Actor, user=None, actor_name: str = "") -> PrintJob:
        """Make the job's file; on any failure the job says so and nothing half-made is left behind."""
        await PrintJob.filter(id=job.id).update(status="running")
        self._running += 1
        heartbeat = asyncio.create_task(_heartbeat(job.id))
        try:
            pages = await self._produce(job, actor, user, actor_name)
        except asyncio.CancelledError:
            await fail(self.settings, job.id, _("The server stopped while this job was running. Please start it again."))
            raise
        except Withdrawn:
            pass  # withdraw() has ended it already
        except NothingToPrint:
            await fail(self.settings, job.id, _("None of these students has a record you may print (sealed files are never printed in a batch)."))
        except Exception as error:
            log.exception("print job %s failed", job.id)
            if isinstance(error, BrokenProcessPool):  # a worker died: the next job starts a fresh pool
                self._release_pool(force=True)
            await fail(self.settings, job.id, _("The files could not be printed. Please try again or ask the administrator."))
        else:
            now = dt.datetime.now(dt.timezone.utc)
            finished = await PrintJob.filter(id=job.id, status="running").update(
                status="done", pages=pages, finished_at=now, expires_at=now + dt.timedelta(hours=self.settings.print_keep_hours))
            if not finished:  # cancelled meanwhile (a file in it was sealed or destroyed): its result must not stay
                result_path(self.settings, job).unlink(missing_ok=True)
        finally:
            heartbeat.cancel()
            self._running -= 1
            self._release_pool()
        return await PrintJob.get(id=job.id)

    async def _produce(self, job: PrintJob, actor: Actor, user, actor_name: str) -> int:
        folder = prints_dir(self.settings) / f"job-{job.id}"
        folder.mkdir(mode=0o700, exist_ok=True)
        try:
            school = await School.get(id=job.school_id)
            forms = await self.forms.school_forms(school.id)
            found = {s.id: s for s in await Student.filter(id__in=job.student_ids, school_id=job.school_id).select_related("klass")}
            loop = asyncio.get_running_loop()
            slots = asyncio.Semaphore(self.workers * 2)  # a few pages ahead of the workers, never the whole class in memory
            pending: list[asyncio.Future] = []
            parts: list[tuple[str, str, str]] = []  # (file, outline title, name in the ZIP)
            if await PrintJob.filter(id=job.id, status="running").count() == 0:
                raise Withdrawn()
            left_out: list[dict] = []
            for index, student_id in enumerate(job.student_ids):
                student = found.get(student_id)
                # a sealed file is opened one at a time, with a reason: never in a batch
                html, count = await student_archive(forms, actor, student, school, job.form_id or None) \
                    if student is not None and student.file_state == "open" else ("", 0)
                if not count:  # nothing this user may print: no empty cover either; the job says who and why
                    why = "gone" if student is None else student.file_state if student.file_state != "open" else "nothing"
                    left_out.append({"id": student_id, "why": why})
                    await PrintJob.filter(id=job.id).update(skipped=F("skipped") + 1, done=F("done") + 1)
                    continue
                await slots.acquire()
                path = str(folder / f"{index:04d}.pdf")
                rendering = loop.run_in_executor(self.pool, write_pdf_file, html, path)
                rendering.add_done_callback(lambda _done: slots.release())
                pending.append(asyncio.ensure_future(self._one_done(job, student, count, rendering, user, actor_name)))
                parts.append((path, f"{student.name}（{student.student_number}）", f"{student.student_number}-{student.name}.pdf"))
            if left_out:  # shown once the job is done: written once, not again with every student left out
                await PrintJob.filter(id=job.id).update(skipped_students=left_out)
            try:
                await asyncio.gather(*pending)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            if not parts:
                raise NothingToPrint()
            target = result_path(self.settings, job)
            if job.bundle == "zip":
                await asyncio.to_thread(_zip_files, [(path, name) for path, _title, name in parts], str(target))
                return (await PrintJob.get(id=job.id)).pages
            return await loop.run_in_executor(self.pool, merge_pdf_files, [(path, title) for path, title, _name in parts], str(target))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def _one_done(self, job: PrintJob, student: Student, count: int, rendering: asyncio.Future, user, actor_name: str) -> None:
        pages = await rendering
        await PrintJob.filter(id=job.id).update(done=F("done") + 1, pages=F("pages") + pages)
        await audit.append("print", f"student:{student.id}", user=user, actor_name=actor_name, school_id=job.school_id,
                           detail=f"batch {job.id}: {job.form_id or 'archive'} {count} records")

    async def _sweep_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await sweep(self.settings)
            except Exception:  # a sweep that fails is tried again; it must not stop the server
                log.exception("sweeping expired print results failed")


class NothingToPrint(Exception):
    pass


class Withdrawn(Exception):
    """The job was ended from outside (a file in it was sealed, transferred or destroyed)."""


async def _heartbeat(job_id: int) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await PrintJob.filter(id=job_id, status__in=LIVE).update(updated_at=dt.datetime.now(dt.timezone.utc))


async def fail(settings: Settings, job_id: int, message: str, status: str = "failed") -> None:
    """End a job as failed (or withdrawn) and delete whatever it made."""
    await PrintJob.filter(id=job_id, status__in=LIVE).update(status=status, error=message[:200],
                                                             finished_at=dt.datetime.now(dt.timezone.utc))
    shutil.rmtree(prints_dir(settings) / f"job-{job_id}", ignore_errors=True)
    for bundle in BUNDLES:
        (prints_dir(settings) / f"job-{job_id}.{bundle}").unlink(missing_ok=True)


async def withdraw(settings: Settings, student_ids: set[int], message: str) -> int:
    """A file was sealed, transferred or destroyed: every printed copy that holds it goes now, and jobs
    still running with it are stopped; each says so ("withdrawn", with `message`: why)."""
    withdrawn = 0
    for job in await PrintJob.filter(status__in=(*LIVE, "done")):
        if student_ids & set(job.student_ids or []):
            if job.status == "done":
                result_path(settings, job).unlink(missing_ok=True)
                await PrintJob.filter(id=job.id, status="done").update(status="withdrawn", error=message[:200],
                                                                       expires_at=dt.datetime.now(dt.timezone.utc))
            else:
                await fail(settings, job.id, message, status="withdrawn")
            withdrawn += 1
    return withdrawn


def _zip_files(files: list[tuple[str, str]], path: str) -> None:
    """PDFs are compressed already: stored as they are. Names are UTF-8 (zipfile flags them)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
        used: set[str] = set()
        for file, name in files:
            name = safe_file_name(name)
            while name in used:
                name = "_" + name
            used.add(name)
            bundle.write(file, name)


async def sweep(settings: Settings) -> int:
    """Fail jobs whose server process stopped (no heartbeat), delete expired results, and any file in the
    folder that no live or finished job owns."""
    now = dt.datetime.now(dt.timezone.utc)
    for job_id in await PrintJob.filter(status__in=LIVE, updated_at__lt=now - STALE_AFTER).values_list("id", flat=True):
        await fail(settings, job_id, _("The server restarted while this job was running. Please start it again."))
    expired = await PrintJob.filter(status="done", expires_at__lt=now)
    for job in expired:
        result_path(settings, job).unlink(missing_ok=True)
    if expired:
        await PrintJob.filter(id__in=[job.id for job in expired]).update(status="expired")
    kept = {f"job-{job_id}" for job_id in await PrintJob.filter(status__in=(*LIVE, "done")).values_list("id", flat=True)}
    for path in prints_dir(settings).iterdir():
        if path.name.split(".")[0] not in kept:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return len(expired)
