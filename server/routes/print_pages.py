"""Batch printing pages (/prints/): start a job for a class or chosen students, follow its progress,
download the result. A job and its file are its owner's alone: to anyone else it does not exist."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import File, Redirect

from server import audit
from server.access import actor_of, roster_filter
from server.batch_print import BUNDLES, LIVE, MAX_STUDENTS, PrintOrder, PrintRunner, download_name, result_path, sweep
from server.i18n import gettext as _, ngettext
from server.models import PrintJob, Student
from server.routes.student_pages import printable_forms, reachable_classes
from server.web import is_htmx, page, registry

LIVE_JOBS_PER_USER = 3


def status_names() -> dict[str, str]:
    return {"queued": _("Waiting to start"), "running": _("Printing…"), "done": _("Ready"), "failed": _("Failed"),
            "expired": _("Deleted (expired)"), "withdrawn": _("Withdrawn")}


SKIP_REASONS = {"sealed": lambda: _("the file is sealed (opened one at a time, with a reason)"),
                "transferred": lambda: _("the file was transferred"), "destroyed": lambda: _("the file was destroyed"),
                "gone": lambda: _("no longer in this school"), "nothing": lambda: _("no record here that you may print")}


async def skipped_students(job: PrintJob) -> list[dict]:
    """Who a batch print left out and why, named as the class list names them."""
    notes = job.skipped_students or []
    found = {s.id: s for s in await Student.filter(id__in=[n["id"] for n in notes], school_id=job.school_id).select_related("klass")}
    rows = []
    for note in notes:
        student = found.get(note["id"])
        who = f"{student.name}（{' '.join(filter(None, (student.klass.name if student.klass else '', student.student_number)))}）" \
            if student else _("student %(id)s", id=note["id"])
        rows.append({"who": who, "why": SKIP_REASONS.get(note["why"], SKIP_REASONS["nothing"])()})
    return rows


def runner(request: Request) -> PrintRunner:
    return request.app.state.print_runner


async def own_job(request: Request, job_id: int) -> PrintJob:
    """The user's own job; anyone else's, like one that does not exist, is a 404."""
    job = await PrintJob.get_or_none(id=job_id, owner_id=request.user.id) if 0 < job_id < 2**31 else None
    if job is None:
        await audit.append("read", f"print-job:{job_id}", user=request.user, result="denied", scope=request.scope)
        raise NotFoundException(_("There is no such print job."))
    return job


def refused(request: Request, message: str) -> Response:
    return page(request, "pages/message.html", status_code=422, heading=_("Nothing was printed"), message=message)


class PrintPages(Controller):
    path = "/prints"

    @get("/")
    async def jobs(self, request: Request) -> Response:
        await sweep(request.app.state.settings)
        jobs = await PrintJob.filter(owner_id=request.user.id).order_by("-id").limit(50)
        return page(request, "pages/prints.html", jobs=jobs, status_names=status_names())

    @post("/", status_code=200)
    async def start(self, request: Request) -> Response:
        """From a class's list of students: the whole class or the ticked students, whole files or one form."""
        form: Any = await request.form()
        actor = await actor_of(request.user)
        class_id = str(form.get("class") or "")
        klass = next((c for c in await reachable_classes(actor) if str(c.id) == class_id), None)
        if klass is None:
            raise NotFoundException(_("There is no such class."))
        bundle = str(form.get("bundle") or "pdf")
        form_id = str(form.get("form") or "")
        definition = (await registry(request)).get(form_id) if form_id else None
        if bundle not in BUNDLES:
            return refused(request, _("Choose one PDF or a ZIP."))
        if form_id and definition not in await printable_forms(request, actor):
            return refused(request, _("You may not print this form."))
        query = Student.filter(school_id=actor.school_id, klass_id=klass.id)
        if (visible := roster_filter(actor)) is not None:
            query = query.filter(visible)
        in_class = await query.order_by("student_number").values_list("id", flat=True)
        if form.get("scope") == "chosen":
            picked = {str(v) for v in form.getall("students", [])}
            student_ids = [i for i in in_class if str(i) in picked]
            if not student_ids:
                return refused(request, _("Tick the students to print first."))
            who = ngettext("%(num)d chosen student", "%(num)d chosen students", len(student_ids))
        else:
            student_ids = list(in_class)
            who = _("whole class")
        if not student_ids:
            return refused(request, _("No students in this class."))
        if len(student_ids) > MAX_STUDENTS:
            return refused(request, _("At most %(num)s students in one print.", num=MAX_STUDENTS))
        if await PrintJob.filter(owner_id=request.user.id, status__in=LIVE).count() >= LIVE_JOBS_PER_USER:
            return refused(request, _("You have %(num)s prints running. Wait for one of them to finish.", num=LIVE_JOBS_PER_USER))
        what = definition.title if definition else _("whole files")
        order = PrintOrder(f"{klass.name} · {who} · {what}", student_ids, form_id, bundle)
        job = await runner(request).submit(order, actor, request.user)
        await audit.append("print", f"print-job:{job.id}", user=request.user, scope=request.scope,
                           detail=f"class:{klass.id} {len(student_ids)} students {form_id or 'archive'} {bundle}")
        return Redirect(f"/prints/{job.id}", status_code=303)

    @get("/{job_id:int}")
    async def job(self, request: Request, job_id: int) -> Response:
        job = await own_job(request, job_id)
        template = "pages/print_progress.html" if is_htmx(request) else "pages/print_job.html"
        return page(request, template, job=job, status_names=status_names(),
                    skipped=await skipped_students(job) if job.status == "done" else [])  # listed once done, not at every poll

    @get("/{job_id:int}/download")
    async def download(self, request: Request, job_id: int) -> Response:
        job = await own_job(request, job_id)
        path = result_path(request.app.state.settings, job)
        if job.status != "done" or not path.exists():
            raise NotFoundException(_("This print is not ready or was deleted."))
        await audit.append("download", f"print-job:{job.id}", user=request.user, scope=request.scope, detail=f"{job.form_id or 'archive'} {job.bundle}")  # the title names a class or a student: never in the log
        return File(path, filename=download_name(job), content_disposition_type="attachment",
                    media_type="application/pdf" if job.bundle == "pdf" else "application/zip")

    @post("/{job_id:int}/delete", status_code=200)
    async def delete(self, request: Request, job_id: int) -> Response:
        job = await own_job(request, job_id)
        if job.status in LIVE:
            return refused(request, _("The print is still running."))
        result_path(request.app.state.settings, job).unlink(missing_ok=True)
        await PrintJob.filter(id=job.id).update(status="expired")
        await audit.append("delete", f"print-job:{job.id}", user=request.user, scope=request.scope)
        return Redirect("/prints/", status_code=303)
