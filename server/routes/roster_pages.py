"""The roster (德育处 and 系统管理员): classes by school year, their students, a student's enrolment
details and leaving, and the import of a 学籍 export with a row-by-row preview before anything is written."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from server import audit
from server.i18n import gettext as _, local_today
from server.models import SchoolClass, Student
from server.roster import (FIELDS, GRADE_NAMES, MAX_FILE_BYTES, RosterFileError, apply_plan, apply_promotion, class_label, field_names,
                           parse_date, plan_import, plan_promotion, read_table, school_year_of)
from server.web import AccessRefused, page, school_of

LEAVING_REASONS = ("毕业", "转出", "退学", "其他")
UPLOAD_LIFETIME = 3600  # an upload waiting for its confirmation is kept this long


async def roster_keepers(connection: Any, _handler: Any) -> None:
    """Guard: the roster is kept by the 德育处 and the 系统管理员."""
    user = connection.scope.get("user")
    if user is None or not {"admin", "moral_education"} & set(user.roles or []):
        await audit.append("open", connection.scope.get("path", "")[:100], user=user, result="denied", scope=connection.scope)
        raise AccessRefused(_("Only the moral education office or an administrator may manage the roster."))


def uploads_dir(request: Request) -> Path:
    folder = request.app.state.settings.data_dir / "imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    for old in folder.glob("*.upload"):  # uploads nobody confirmed: never kept long (they hold students' data)
        if time.time() - old.stat().st_mtime > UPLOAD_LIFETIME:
            old.unlink(missing_ok=True)
    return folder


async def school_years(school) -> list[str]:
    """The school years the school has classes in, newest first."""
    return sorted(set(await SchoolClass.filter(school=school).values_list("school_year", flat=True)), reverse=True)


def class_problem(year: str, name: str) -> str:
    """What is wrong with a class's school year and name, in a sentence ("" when nothing)."""
    if not re.fullmatch(r"(\d{4})-(\d{4})", year) or int(year[5:]) != int(year[:4]) + 1:
        return _("The school year is written like 2026-2027.")
    if not name or len(name) > 100:
        return _("Give the class a name (for a new class: the grade and the class number).")
    return ""


def column_mapping(form: Any) -> dict[str, str]:
    """The person's column choices of the preview page: `map:<header>` → roster field."""
    return {str(k)[4:]: str(v) for k, v in form.items() if str(k).startswith("map:") and str(v)}


class RosterPages(Controller):
    path = "/roster"
    guards = [roster_keepers]

    @get("/")
    async def classes(self, request: Request, year: str = "") -> Response:
        school = await school_of(request.user)
        years = await school_years(school)
        year = year if year in years else (school_year_of(local_today()) if school_year_of(local_today()) in years else (years[0] if years else ""))
        classes = await SchoolClass.filter(school=school, school_year=year).order_by("grade", "name")
        counts = {c.id: await Student.filter(klass=c, left_on__isnull=True).count() for c in classes}
        return page(request, "pages/roster.html", classes=classes, counts=counts, years=years, year=year, grades=GRADE_NAMES,
                    new_year=year or school_year_of(local_today()),
                    unplaced=await Student.filter(school=school, klass=None, left_on__isnull=True).count())

    @get("/classes/{class_id:int}")
    async def class_page(self, request: Request, class_id: int) -> Response:
        school = await school_of(request.user)
        klass = await SchoolClass.get_or_none(id=class_id, school=school) if 0 < class_id < 2**31 else None
        if klass is None:
            raise NotFoundException(_("There is no such class."))
        students = await Student.filter(klass=klass).order_by("left_on", "student_number")
        await audit.append("list", f"class:{klass.id}", user=request.user, detail="roster", scope=request.scope)
        return page(request, "pages/roster_class.html", klass=klass, students=students, grades=GRADE_NAMES, name=klass.name, error="",
                    saved=request.query_params.get("saved") == "1")

    @post("/classes", status_code=200)
    async def create_class(self, request: Request) -> Response:
        """A class the roster import has not brought (a new class in the middle of a year)."""
        school = await school_of(request.user)
        form: Any = await request.form()
        year, grade, number = (str(form.get(k) or "").strip()[:20] for k in ("year", "grade", "number"))
        name = class_label(int(grade), number) if grade.isdigit() and int(grade) in GRADE_NAMES and re.fullmatch(r"\d{1,2}", number) else ""
        problem = class_problem(year, name) or (
            _("A class named %(name)s exists in %(year)s already.", name=name, year=year)
            if await SchoolClass.filter(school=school, school_year=year, name=name).exists() else "")
        if problem:
            return page(request, "pages/message.html", status_code=422, heading=_("The class was not created"), message=problem)
        klass = await SchoolClass.create(school=school, grade=int(grade), name=name, school_year=year)
        await audit.append("roster", f"class:{klass.id}", user=request.user, detail="class created", scope=request.scope)
        return Redirect(f"/roster/classes/{klass.id}", status_code=303)

    @post("/classes/{class_id:int}", status_code=200)
    async def rename_class(self, request: Request, class_id: int) -> Response:
        """A class's name and grade, e.g. a name the import guessed wrong."""
        school = await school_of(request.user)
        klass = await SchoolClass.get_or_none(id=class_id, school=school) if 0 < class_id < 2**31 else None
        if klass is None:
            raise NotFoundException(_("There is no such class."))
        form: Any = await request.form()
        name, grade = " ".join(str(form.get("name") or "").split())[:100], str(form.get("grade") or "").strip()
        problem = class_problem(klass.school_year, name) or ("" if grade.isdigit() and int(grade) in GRADE_NAMES else _("Choose the grade."))
        if not problem and await SchoolClass.filter(school=school, school_year=klass.school_year, name=name).exclude(id=klass.id).exists():
            problem = _("A class named %(name)s exists in %(year)s already.", name=name, year=klass.school_year)
        if problem:
            students = await Student.filter(klass=klass).order_by("left_on", "student_number")
            return page(request, "pages/roster_class.html", status_code=422, klass=klass, students=students, error=problem, saved=False,
                        grades=GRADE_NAMES, name=name)
        before = f"{klass.grade} {klass.name}"
        klass.name, klass.grade = name, int(grade)
        await klass.save()
        await audit.append("roster", f"class:{klass.id}", user=request.user, detail=f"class renamed from {before}"[:200], scope=request.scope)
        return Redirect(f"/roster/classes/{klass.id}?saved=1", status_code=303)

    @get("/students/{student_id:int}")
    async def student_page(self, request: Request, student_id: int) -> Response:
        school = await school_of(request.user)
        student = await self._student(school, student_id)
        await audit.append("read", f"student:{student.id}", user=request.user, detail="roster", scope=request.scope)
        return await self._student_form(request, school, student, {}, saved=request.query_params.get("saved") == "1")

    @post("/students/{student_id:int}", status_code=200)
    async def save_student(self, request: Request, student_id: int) -> Response:
        """Enrolment details, the class (a move), and leaving (date and reason)."""
        school = await school_of(request.user)
        student = await self._student(school, student_id)
        form = await request.form()
        text = {name: str(form.get(name, "")).strip()[:200] for name in
                ("name", "gender", "birth_date", "enrolled_on", "guardian_name", "guardian_phone", "klass", "left_on", "left_reason")}
        errors: dict[str, str] = {}
        if not text["name"] or len(text["name"]) > 100:
            errors["name"] = _("Enter the student's name (at most %(count)s characters).", count=100)
        if text["gender"] not in ("男", "女"):
            errors["gender"] = _("Gender must be 男 or 女 (now %(value)s).", value=text["gender"])
        days = {}
        for name in ("birth_date", "enrolled_on", "left_on"):
            days[name] = parse_date(text[name]) if text[name] else None
            if text[name] and days[name] is None:
                errors[name] = _("Not a date: %(value)s (write it as 2014-09-01).", value=text[name])
        if days["left_on"] and text["left_reason"] not in LEAVING_REASONS:
            errors["left_reason"] = _("Choose why the student left.")
        if text["left_reason"] and not days["left_on"] and "left_on" not in errors:
            errors["left_on"] = _("Enter the date the student left.")
        klass = None
        if text["klass"]:
            klass = await SchoolClass.get_or_none(id=int(text["klass"]), school=school) if text["klass"].isdigit() and len(text["klass"]) < 10 else None
            if klass is None:
                errors["klass"] = _("There is no such class.")
        if len(text["guardian_name"]) > 100 or len(text["guardian_phone"]) > 20:
            errors["guardian_name"] = _("This cell is longer than %(count)s characters.", count=100)
        if errors:
            return await self._student_form(request, school, student, errors, text=text, status_code=422)
        before = (student.klass_id, student.left_on)
        student.name, student.gender, student.guardian_name, student.guardian_phone = (
            text["name"], text["gender"], text["guardian_name"], text["guardian_phone"])
        student.birth_date, student.enrolled_on, student.left_on = days["birth_date"], days["enrolled_on"], days["left_on"]
        student.left_reason = text["left_reason"] if days["left_on"] else ""
        student.klass = klass
        await student.save()
        moved = "moved " if before[0] != student.klass_id else ""
        left = "left " if before[1] != student.left_on else ""
        await audit.append("roster", f"student:{student.id}", user=request.user, detail=f"{moved}{left}edit".strip(), scope=request.scope)
        return Redirect(f"/roster/students/{student.id}?saved=1", status_code=303)

    async def _student(self, school, student_id: int) -> Student:
        student = await Student.get_or_none(id=student_id, school=school).select_related("klass") if 0 < student_id < 2**31 else None
        if student is None:
            raise NotFoundException(_("There is no such student."))
        return student

    async def _student_form(self, request: Request, school, student: Student, errors: dict[str, str],
                            text: dict[str, str] | None = None, saved: bool = False, status_code: int = 200) -> Response:
        values = text or {"name": student.name, "gender": student.gender, "birth_date": str(student.birth_date or ""),
                          "enrolled_on": str(student.enrolled_on or ""), "guardian_name": student.guardian_name,
                          "guardian_phone": student.guardian_phone, "klass": str(student.klass_id or ""),
                          "left_on": str(student.left_on or ""), "left_reason": student.left_reason}
        classes = await SchoolClass.filter(school=school).order_by("-school_year", "grade", "name")
        return page(request, "pages/roster_student.html", status_code=status_code, student=student, values=values,
                    errors=errors, classes=classes, reasons=LEAVING_REASONS, saved=saved)

    # --- a new school year -------------------------------------------------------------------

    @get("/promote")
    async def promote_page(self, request: Request, year: str = "") -> Response:
        school = await school_of(request.user)
        years = await school_years(school)
        year = year if year in years else (years[0] if years else "")
        top = max([c.grade for c in await SchoolClass.filter(school=school, school_year=year)] or [9])
        left_on = dt.date(int(year[5:]), 7, 1) if year else None  # the graduates leave at the end of the year
        return page(request, "pages/roster_promote.html", years=years, year=year, top=top, promotion=None, error="",
                    left_on=left_on, preview=False)

    @post("/promote", status_code=200)
    async def promote(self, request: Request) -> Response:
        """Preview (the default) or carry out (`confirm`) the move to the next school year."""
        school = await school_of(request.user)
        form = await request.form()
        year = str(form.get("year", "")).strip()[:20]
        grade_text = str(form.get("graduating_grade", "")).strip()
        left_on = parse_date(str(form.get("left_on", "")).strip()[:20])
        years = await school_years(school)
        grade = int(grade_text) if grade_text.isdigit() and 1 <= int(grade_text) <= 12 else None
        if year not in years or grade is None or left_on is None:
            return page(request, "pages/roster_promote.html", status_code=422, years=years, year=year, top=grade or 9,
                        promotion=None, error=_("Choose the school year, the graduating grade and the leaving date."),
                        left_on=left_on, preview=False)
        promotion = await plan_promotion(school, year, grade, left_on)
        if form.get("confirm") != "true":
            return page(request, "pages/roster_promote.html", years=years, year=year, top=grade, promotion=promotion, error="",
                        left_on=left_on, preview=True)
        counts = await apply_promotion(school, promotion, user=request.user, scope=request.scope)
        return page(request, "pages/roster_promoted.html", counts=counts, promotion=promotion)

    # --- import ----------------------------------------------------------------------------

    @get("/import")
    async def import_page(self, request: Request) -> Response:
        return page(request, "pages/roster_import.html", year=school_year_of(local_today()), error="", max_mb=MAX_FILE_BYTES // 1_000_000)

    @post("/import", status_code=200, request_max_body_size=MAX_FILE_BYTES + 200_000)
    async def preview(self, request: Request) -> Response:
        """Read the file, check every row, and show what would happen; the file waits for the confirmation."""
        form = await request.form()
        upload = form.get("file")
        year = str(form.get("year", "")).strip()[:20]
        if not isinstance(upload, UploadFile):
            return self._import_error(request, year, _("Choose a file to import."))
        content = await upload.read()
        token = secrets.token_hex(16)
        (uploads_dir(request) / f"{token}.upload").write_bytes(content)
        os.chmod(uploads_dir(request) / f"{token}.upload", 0o600)
        request.session["roster_import"] = {"token": token, "name": str(upload.filename or "")[:100]}
        return await self._preview(request, form, year)

    @post("/import/preview", status_code=200)
    async def remap(self, request: Request) -> Response:
        """The same file again, with the person's column choices or options changed."""
        form = await request.form()
        return await self._preview(request, form, str(form.get("year", "")).strip()[:20])

    async def _preview(self, request: Request, form: Any, year: str) -> Response:
        school = await school_of(request.user)
        if not _valid_year(year):
            return self._import_error(request, year, _("Write the school year as 2026-2027."))
        waiting = self._waiting_file(request)
        if waiting is None:
            return self._import_error(request, year, _("The file is no longer here; choose it again."))
        mapping = column_mapping(form)
        create = form.get("create_classes") == "true"
        try:
            plan = await plan_import(school, read_table(waiting.read_bytes(), request.session["roster_import"]["name"]),
                                     school_year=year, create_classes=create, mapping=mapping)
        except RosterFileError as error:
            return self._import_error(request, year, str(error))
        return page(request, "pages/roster_preview.html", status_code=200 if plan.ok else 422, plan=plan, year=year,
                    create_classes=create, mapping=mapping, fields=field_names(), field_keys=FIELDS,
                    filename=request.session["roster_import"]["name"])

    @post("/import/confirm", status_code=200)
    async def confirm(self, request: Request) -> Response:
        school = await school_of(request.user)
        form = await request.form()
        year = str(form.get("year", "")).strip()[:20]
        waiting = self._waiting_file(request)
        if waiting is None or not _valid_year(year):
            return self._import_error(request, year, _("The file is no longer here; choose it again."))
        mapping = column_mapping(form)
        name = request.session["roster_import"]["name"]
        try:
            plan = await plan_import(school, read_table(waiting.read_bytes(), name), school_year=year,
                                     create_classes=form.get("create_classes") == "true", mapping=mapping)
            counts = await apply_plan(school, plan, school_year=year, user=request.user, scope=request.scope, source=name)
        except RosterFileError as error:
            return self._import_error(request, year, str(error))
        waiting.unlink(missing_ok=True)
        request.session.pop("roster_import", None)
        return page(request, "pages/roster_done.html", counts=counts, year=year)

    def _waiting_file(self, request: Request) -> Path | None:
        waiting = request.session.get("roster_import") or {}
        token = waiting.get("token", "")
        path = uploads_dir(request) / f"{token}.upload"
        return path if isinstance(token, str) and token.isalnum() and path.is_file() else None

    def _import_error(self, request: Request, year: str, message: str) -> Response:
        return page(request, "pages/roster_import.html", status_code=422, year=year or school_year_of(local_today()),
                    error=message, max_mb=MAX_FILE_BYTES // 1_000_000)


def _valid_year(year: str) -> bool:
    parts = year.split("-")
    return len(parts) == 2 and all(p.isdigit() and len(p) == 4 for p in parts) and int(parts[1]) == int(parts[0]) + 1 \
        and 2000 <= int(parts[0]) <= dt.date.today().year + 1
