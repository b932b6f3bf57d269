"""The `xindang` command: init, serve, check-forms, print, import-scale-items, token create, and the roster's commands."""

from __future__ import annotations

import asyncio
import errno
import secrets
import os
import socket
import sys
from pathlib import Path

import click

from server.i18n import gettext as _
from server.settings import Settings, StartError


def _run(coro):
    return asyncio.run(coro)


async def school_or_exit(school_code: str | None):
    """The school with this code (the first school when none is given), or a message and exit 1."""
    from server.models import School

    school = await (School.get_or_none(code=school_code) if school_code else School.all().order_by("id").first())
    if school is None:
        click.echo(_("No such school: %(code)s", code=school_code or "-"), err=True)
        sys.exit(1)
    return school


async def school_forms(settings: Settings, school_id: int):
    """The school's forms at their published versions (the database must be open)."""
    from server.form_versions import FormLibrary
    from server.registry import Registry

    return await FormLibrary(Registry.load(settings.form_dirs, settings.school_forms_dir)).school_forms(school_id)


class _Commands(click.Group):
    """Every command: a start that fails (unsafe settings, an unreachable or unmigratable database, a port in use)
    ends with one sentence and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StartError as failure:
            click.echo(str(failure), err=True)
            ctx.exit(1)


@click.group(cls=_Commands)
def main() -> None:
    """心档 xindang: student mental-health files (一生一档)."""


@main.command()
@click.option("--demo", is_flag=True, help="Load the fictional demo school.")
@click.option("--admin-user", default=None, help="Administrator user name (default: admin).")
@click.option("--admin-password", default=None, help="Administrator password (generated when omitted).")
@click.option("--school-name", default=None, help="The school's name.")
@click.option("--students", "students", default=48, type=click.IntRange(4, 20000),
              help="With --demo: how many students (48 in four classes; e.g. 2000 for a school of real size).")
def init(demo: bool, admin_user: str | None, admin_password: str | None, school_name: str | None, students: int) -> None:
    """Create and migrate the database and the administrator; with --demo, load demo data."""
    _run(_init(Settings.from_env(), demo, admin_user, admin_password, school_name, students))


async def _init(settings: Settings, demo: bool, admin_user: str | None, admin_password: str | None, school_name: str | None,
                students: int = 48) -> None:
    from server.auth import hash_password
    from server.db import close_database, open_database
    from server.demo import DEMO_SCHOOL, ensure_demo_users, ensure_school, load_demo
    from server.models import User
    from server.registry import Registry

    await open_database(settings, migrate=True)
    try:
        username = admin_user or "admin"
        credentials = settings.data_dir / "initial-admin.txt"
        user = await User.get_or_none(username=username)
        if user is None:
            if demo:
                school = await ensure_school(DEMO_SCHOOL["name"], DEMO_SCHOOL["code"])
            else:
                school = await ensure_school(school_name)
            password = admin_password or secrets.token_urlsafe(12)
            user = await User.create(school=school, username=username, display_name="系统管理员",
                                     password_hash=hash_password(password), roles=["admin"],
                                     must_change_password=not admin_password)  # a generated password is only a start
            if not admin_password:
                credentials.write_text(f"{username}\n{password}\n", encoding="utf-8")
                credentials.chmod(0o600)
        elif admin_password:
            user.password_hash = hash_password(admin_password)
            await user.save(update_fields=["password_hash"])
        demo_users = []
        if demo:
            await load_demo(await school_forms(settings, user.school_id), user, students)
            demo_users = await ensure_demo_users(user, settings.data_dir / "demo-password.txt")
        click.echo(_("Database: %(url)s", url=settings.database_url.split('?')[0]))
        click.echo(_("Administrator account: %(username)s", username=username))
        if admin_password:
            click.echo(_("Administrator password: (set by --admin-password)"))
        elif credentials.exists():
            click.echo(_("Administrator password: %(password)s", password=credentials.read_text(encoding='utf-8').splitlines()[1]))
        if demo_users:
            click.echo(_("Demo users (password %(password)s):", password=(settings.data_dir / "demo-password.txt").read_text().strip()))
            for username, display, roles in demo_users:
                click.echo(f"  {username:<14} {display}（{roles}）")
    finally:
        await close_database()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web pages and the API (migrates the database first)."""
    import uvicorn

    settings = Settings.from_env()
    if workers > 1 and settings.is_sqlite:  # one SQLite connection per process (F9): workers would wait on each other's locks
        click.echo(_("Several workers need PostgreSQL (XINDANG_DATABASE_URL); with SQLite serve with one worker."), err=True)
        sys.exit(2)
    _check_port_free(host, port)
    _run(_migrate_only(settings))
    click.echo(_("Xindang is running at http://%(host)s:%(port)s/", host=host, port=port))
    if workers > 1 and not os.environ.get("XINDANG_PRINT_WORKERS"):  # the cores are shared by the workers' print pools
        os.environ["XINDANG_PRINT_WORKERS"] = str(max(1, (os.cpu_count() or 1) // workers))
    uvicorn.run("server.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=False, server_header=False)


def _check_port_free(host: str, port: int) -> None:
    """Bind the address as uvicorn will, before migrating, so a port in use is one sentence, not uvicorn's log."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StartError(_("Port %(port)s on %(host)s is already in use (is xindang already running?); stop the other "
                               "program or choose another port with --port.", host=host, port=port)) from error
        raise StartError(_("Cannot listen on %(host)s:%(port)s (%(error)s); choose another address with --host and --port.",
                           host=host, port=port, error=error.strerror or error)) from error


async def _migrate_only(settings: Settings) -> None:
    from server.db import close_database, open_database

    await open_database(settings, migrate=True)
    await close_database()


@main.command("check-forms")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def check_forms(directory: Path | None) -> None:
    """Check every definition; print each problem with file, JSON pointer and a sentence."""
    from server.checks import definition_warnings, load_form_dir
    from server.registry import form_dir_list

    settings = Settings.from_env()
    dirs = [directory] if directory else settings.form_dirs
    if directory and (directory / "schema.json").exists():
        form_dirs = [directory]
    else:
        form_dirs = form_dir_list(dirs)
    problems, warnings = [], []
    for form_dir in form_dirs:
        definition, found = load_form_dir(form_dir)
        problems += found
        if definition is not None:  # reminders do not fail the check; they say what is probably not meant
            warnings += definition_warnings(definition.form_id, definition.schema, definition.layout)
    for problem in problems:
        click.echo(str(problem))
    for warning in warnings:
        click.echo(_("Reminder: %(warning)s", warning=str(warning)))
    click.echo(_("Checked %(forms)s form definitions, found %(problems)s problems.", forms=len(form_dirs), problems=len(problems)))
    if warnings:
        click.echo(_("%(count)s reminders (they do not fail the check).", count=len(warnings)))
    sys.exit(1 if problems else 0)


@main.command("diff-form")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--school", "school_code", default=None,
              help="Compare with this school's version in use and its records (default: the shipped definition, every school's records).")
def diff_form(directory: Path, school_code: str | None) -> None:
    """Before replacing a form's definition: every change against the definition in use (the folder's
    name is the form id) and what it does to the stored records. Exit 3 when a change is critical."""
    _run(_diff_form(Settings.from_env(), directory, school_code))


async def _diff_form(settings: Settings, directory: Path, school_code: str | None) -> None:
    from server.checks import load_form_dir
    from server.db import close_database, open_database
    from server.definition_diff import compare
    from server.models import Record
    from server.registry import Registry

    new, problems = load_form_dir(directory)
    for problem in problems:
        click.echo(str(problem))
    if new is None:
        click.echo(_("The new definition has problems; nothing was compared."), err=True)
        sys.exit(1)
    await open_database(settings, migrate=True)
    try:
        if school_code:  # the school's version in use, and the records made with it
            school = await school_or_exit(school_code)
            old = (await school_forms(settings, school.id)).get(new.form_id)
            query = Record.filter(form_id=new.form_id, school_id=school.id, form_version=old.version if old else 0)
        else:  # the shipped definition, and every school's records
            old = Registry.load(settings.form_dirs, settings.school_forms_dir).get(new.form_id)
            query = Record.filter(form_id=new.form_id)
        records = list(await query.values_list("data", flat=True)) if old else []
    finally:
        await close_database()
    if old is None:
        click.echo(_("%(form)s is a new form: there is nothing to compare it with.", form=new.form_id))
        return
    changes = compare(old, new, records)
    for change in changes:
        click.echo(("【" + _("critical") + "】" if change.critical else "· ") + change.message)
    critical = sum(c.critical for c in changes)
    click.echo(_("%(changes)s changes against %(records)s stored records, %(critical)s critical.", changes=len(changes),
                 records=len(records), critical=critical))
    sys.exit(3 if critical else 0)


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Role code (repeatable): " + ", ".join(
    ["admin", "leader", "moral_education", "psych_teacher", "homeroom_teacher", "subject_teacher", "school_doctor"]))
@click.option("--class", "class_ids", multiple=True, type=int, help="Class id the user is bound to (repeatable).")
@click.option("--password", required=True, help="The initial password (the user changes it at first sign-in).")
@click.option("--final-password", is_flag=True, help="Do not ask the user to change the password (scripted or test accounts).")
@click.option("--name", "display_name", default=None, help="The name shown in the interface (default: USERNAME).")
@click.option("--school", "school_code", default=None, help="The school's code (default: the first school).")
def user_create(username: str, roles: tuple[str, ...], class_ids: tuple[int, ...], password: str, final_password: bool,
                display_name: str | None, school_code: str | None) -> None:
    """Create a staff account with roles and, for class-bound roles, classes."""
    _run(_user_create(Settings.from_env(), username, list(roles), list(class_ids), password, display_name, school_code,
                      not final_password))


async def _user_create(settings: Settings, username: str, roles: list[str], class_ids: list[int], password: str,
                       display_name: str | None, school_code: str | None, must_change: bool) -> None:
    from server.accounts import AccountChange, account_problems, create_account
    from server.db import close_database, open_database

    await open_database(settings, migrate=True)
    try:
        school = await school_or_exit(school_code)
        change = AccountChange(display_name=display_name or username, roles=roles, class_ids=class_ids)
        problems = await account_problems(school, change, username=username, password=password)
        for problem in problems.values():
            click.echo(problem, err=True)
        if problems:
            sys.exit(1)
        await create_account(school, username, change, password, must_change=must_change)
        click.echo(_("Created the user %(username)s.", username=username))
    finally:
        await close_database()


@user.command("reset")
@click.argument("username")
@click.option("--password", default=None, help="The new initial password (made up and printed when omitted).")
def user_reset(username: str, password: str | None) -> None:
    """Recovery at the console: a new initial password, no second factor, no wait, every session ended."""
    _run(_user_reset(Settings.from_env(), username, password))


async def _user_reset(settings: Settings, username: str, password: str | None) -> None:
    from server import audit
    from server.accounts import initial_password
    from server.auth import hash_password
    from server.db import close_database, open_database
    from server.models import ApiToken, User
    from server.passwords import password_problem
    from server.sessions import end_sessions

    password = password or initial_password()
    if problem := password_problem(password, username):
        click.echo(problem, err=True)
        sys.exit(1)
    await open_database(settings, migrate=True)
    try:
        account = await User.get_or_none(username=username)
        if account is None:
            click.echo(_("No such user: %(username)s", username=username), err=True)
            sys.exit(1)
        async with audit.transaction() as log:
            await User.filter(id=account.id).update(password_hash=hash_password(password), must_change_password=True, failed_logins=0,
                                                    locked_until=None, totp_secret=None, totp_last_step=None, totp_failures=0,
                                                    totp_locked_until=None, is_active=True)
            await end_sessions(account.id)
            await ApiToken.filter(user_id=account.id).delete()
            await log.append("permission", f"user:{account.id}", actor_name="cli", school_id=account.school_id, detail="console reset")
        click.echo(_("Reset %(username)s. Initial password: %(password)s (to be changed at the first sign-in).", username=username, password=password))
    finally:
        await close_database()


@main.command("open-accounts")
@click.option("--school", "school_code", default=None, help="The school's code (default: the first school).")
def open_accounts(school_code: str | None) -> None:
    """Recovery at the console: turn off the school's agreement and second-factor rules."""
    _run(_open_accounts(Settings.from_env(), school_code))


async def _open_accounts(settings: Settings, school_code: str | None) -> None:
    from server import audit
    from server.db import close_database, open_database
    from server.models import School

    await open_database(settings, migrate=True)
    try:
        school = await school_or_exit(school_code)
        async with audit.transaction() as log:
            await School.filter(id=school.id).update(require_agreement=False, totp_roles=[])
            await log.append("permission", f"school:{school.id}", actor_name="cli", school_id=school.id, detail="console: rules off")
        click.echo(_("The agreement and second-factor rules of %(school)s are off.", school=school.name))
    finally:
        await close_database()


@main.command("print")
@click.option("--handbook", is_flag=True, help="The blank handbook: cover, contents, the school's texts, every form.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write: a PDF, or for --class a .zip with a PDF per student.")
@click.option("--student", "student_id", default=None, type=int, help="One student's whole file (the student's id, see /api/students).")
@click.option("--class", "class_id", default=None, type=int, help="The files of a whole class (the class's id, see /api/classes).")
@click.option("--students", "student_list", default=None, help="With --class: only these students' ids, comma-separated.")
@click.option("--form", "form_id", default=None, help="With --class: one form only (its id), no covers.")
@click.option("--workers", default=None, type=int, help="With --class: worker processes (default: one per CPU core).")
@click.option("--school", "school_code", default=None, help="The school's code (default: the first school).")
def print_command(handbook: bool, student_id: int | None, class_id: int | None, student_list: str | None, form_id: str | None,
                  workers: int | None, output: Path, school_code: str | None) -> None:
    """Print to a file: the blank handbook (--handbook), one student's whole file (--student ID) or a
    class's files (--class ID), as one PDF or, when the output ends in .zip, a PDF per student."""
    if sum((handbook, student_id is not None, class_id is not None)) != 1:
        click.echo(_("Say what to print: --handbook, --student ID or --class ID."), err=True)
        sys.exit(2)
    if handbook:
        _run(_print_handbook(Settings.from_env(), output, school_code))
    elif student_id is not None:
        _run(_print_student(Settings.from_env(), output, student_id))
    else:
        try:
            chosen = [int(v) for v in student_list.split(",") if v.strip()] if student_list else None
        except ValueError:
            click.echo(_("--students takes student ids separated by commas, e.g. 12,15,17."), err=True)
            sys.exit(2)
        _run(_print_class(Settings.from_env(), output, class_id, chosen, form_id, workers))


async def _print_class(settings: Settings, output: Path, class_id: int, chosen: list[int] | None, form_id: str | None,
                       workers: int | None) -> None:
    """At the console, as the school's records keeper, on all cores; progress on stderr (audited as the console)."""
    import asyncio
    import shutil

    from server.access import ROLES, Actor
    from server.batch_print import PrintOrder, PrintRunner, result_path
    from server.db import close_database, open_database
    from server.models import PrintJob, SchoolClass, Student
    from server.registry import Registry

    await open_database(settings, migrate=True)
    try:
        klass = await SchoolClass.get_or_none(id=class_id) if 0 < class_id < 2**31 else None
        if klass is None:
            click.echo(_("There is no such class."), err=True)
            sys.exit(1)
        registry = await school_forms(settings, klass.school_id)
        if form_id and registry.get(form_id) is None:
            click.echo(_("No such form: %(form)s", form=form_id), err=True)
            sys.exit(1)
        in_class = await Student.filter(klass_id=klass.id).order_by("student_number").values_list("id", flat=True)
        student_ids = [i for i in in_class if chosen is None or i in chosen]
        if not student_ids:
            click.echo(_("No students in this class."), err=True)
            sys.exit(1)
        bundle = "zip" if output.suffix.lower() == ".zip" else "pdf"
        what = registry.get(form_id).title if form_id else _("whole files")
        job = await PrintJob.create(school_id=klass.school_id, owner=None, title=f"{klass.name} · {what}", form_id=form_id or "",
                                    student_ids=student_ids, bundle=bundle, total=len(student_ids))
        keeper = Actor(0, klass.school_id, frozenset(ROLES), frozenset())
        runner = PrintRunner(settings, registry.library, workers)
        task = asyncio.create_task(runner.run(job, keeper, actor_name="cli"))
        try:
            while not task.done():
                await asyncio.wait([task], timeout=1)
                now = await PrintJob.get(id=job.id)
                click.echo(_("%(done)s of %(total)s students, %(pages)s pages so far.", done=now.done, total=now.total, pages=now.pages),
                           err=True)
            finished = task.result()
        finally:
            await runner.close()
        if finished.status != "done":
            click.echo(finished.error, err=True)
            sys.exit(1)
        shutil.move(result_path(settings, finished), output)
        await PrintJob.filter(id=job.id).update(status="expired")  # handed over: the console keeps no copy
        click.echo(_("Wrote %(path)s: %(students)s students, %(pages)s pages, %(workers)s workers.", path=output,
                     students=finished.total - finished.skipped, pages=finished.pages, workers=runner.workers))
    finally:
        await close_database()


async def _print_student(settings: Settings, output: Path, student_id: int) -> None:
    """At the console, as the school's records keeper: every record, every field (audited as the console)."""
    import anyio

    from renderers.pdf import html_to_pdf
    from server import audit
    from server.access import ROLES, Actor
    from server.db import close_database, open_database
    from server.models import Student
    from server.registry import Registry
    from server.student_file import student_archive

    await open_database(settings, migrate=True)
    try:
        student = await Student.get_or_none(id=student_id).select_related("klass", "school") if 0 < student_id < 2**31 else None
        if student is None:
            click.echo(_("There is no such student."), err=True)
            sys.exit(1)
        registry = await school_forms(settings, student.school_id)
        keeper = Actor(0, student.school_id, frozenset(ROLES), frozenset())
        html, count = await student_archive(registry, keeper, student, student.school)
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        output.write_bytes(pdf)
        os.chmod(output, 0o600)  # a minor's mental-health file: readable by this account only
        await audit.append("print", f"student:{student.id}", actor_name="cli", school_id=student.school_id,
                           detail=f"archive {count} records")
        click.echo(_("Wrote %(path)s (%(size)s KB).", path=output, size=len(pdf) // 1024))
    finally:
        await close_database()


async def _print_handbook(settings: Settings, output: Path, school_code: str | None) -> None:
    import anyio

    from renderers.handbook import handbook_pdf
    from server.db import close_database, open_database
    from server.registry import Registry

    await open_database(settings, migrate=True)
    try:
        school = await school_or_exit(school_code)
        registry = await school_forms(settings, school.id)
        pdf = await anyio.to_thread.run_sync(lambda: handbook_pdf(
            registry, school_name=school.name, charter=school.handbook_charter, notes=school.handbook_notes,
            other_title=_("Other forms")))
    finally:
        await close_database()
    output.write_bytes(pdf)
    click.echo(_("Wrote %(path)s (%(size)s KB).", path=output, size=len(pdf) // 1024))


@main.command("import-scale-items")
@click.argument("form_id")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_scale_items(form_id: str, csv_file: Path) -> None:
    """Import a scale's licensed item texts from CSV_FILE (item number, text; UTF-8 or GBK)."""
    from server.registry import Registry
    from server.scale_items import read_item_texts, save_item_texts, scale_items, with_item_texts

    settings = Settings.from_env()
    definition = Registry.load(settings.form_dirs).get(form_id)  # the shipped definition, without older texts
    if definition is None:
        click.echo(_("No such form: %(form_id)s", form_id=form_id), err=True)
        sys.exit(1)
    items = scale_items(definition)
    if not items:
        click.echo(_("The form %(form_id)s has no scale items (matrix blocks).", form_id=form_id), err=True)
        sys.exit(1)
    texts, problems = read_item_texts(csv_file.read_bytes(), len(items))
    if not problems:
        _updated, problems = with_item_texts(definition, texts)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(_("Nothing was imported."), err=True)
        sys.exit(1)
    target = save_item_texts(form_id, texts, settings.school_forms_dir)
    click.echo(_("Imported %(count)s item texts into %(path)s; restart the server to use them.", count=len(texts), path=target))


@main.command("import-roster")
@click.argument("roster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", default=None, help="The school's code (default: the first school).")
@click.option("--year", "school_year", default=None, help="The school year of the classes, e.g. 2026-2027 (default: the current one).")
@click.option("--create-classes", is_flag=True, help="Create the classes the file names that do not exist yet.")
@click.option("--map", "mappings", multiple=True, help="A column the importer does not know: HEADER=FIELD (or HEADER=ignore).")
@click.option("--dry-run", is_flag=True, help="Only show what would be imported.")
def import_roster(roster_file: Path, school_code: str | None, school_year: str | None, create_classes: bool,
                  mappings: tuple[str, ...], dry_run: bool) -> None:
    """Students from an XLSX or CSV file (学籍号, 姓名, 性别, 出生日期, 年级, 班级, …): checked, then all or nothing."""
    mapping = dict(m.split("=", 1) for m in mappings if "=" in m)
    _run(_import_roster(Settings.from_env(), roster_file, school_code, school_year, create_classes, mapping, dry_run))


async def _import_roster(settings: Settings, path: Path, school_code: str | None, school_year: str | None,
                         create_classes: bool, mapping: dict[str, str], dry_run: bool) -> None:
    from server.db import close_database, open_database
    from server.i18n import local_today
    from server.roster import RosterFileError, apply_plan, plan_import, read_table, school_year_of

    await open_database(settings, migrate=True)
    try:
        school = await school_or_exit(school_code)
        year = school_year or school_year_of(local_today())
        try:
            plan = await plan_import(school, read_table(path.read_bytes(), path.name), school_year=year,
                                     create_classes=create_classes, mapping=mapping)
        except RosterFileError as error:
            click.echo(str(error), err=True)
            sys.exit(1)
        if plan.missing_columns:
            click.echo(_("Missing columns: %(columns)s. Columns the importer does not know: %(unknown)s (use --map HEADER=FIELD).",
                         columns="、".join(plan.missing_columns), unknown="、".join(plan.unmapped) or "-"), err=True)
            sys.exit(1)
        for problem in plan.problems:
            click.echo(_("Row %(row)s, %(column)s: %(message)s", row=problem.row, column=problem.column, message=problem.message), err=True)
        click.echo(_("%(create)s new, %(update)s changed, %(same)s unchanged; %(classes)s new classes; %(problems)s problems.",
                     create=plan.count("create"), update=plan.count("update"), same=plan.count("unchanged"),
                     classes=len(plan.new_classes), problems=len(plan.problems)))
        if plan.problems:
            click.echo(_("Nothing was imported."), err=True)
            sys.exit(1)
        if not dry_run:
            await apply_plan(school, plan, school_year=year, source=path.name)
            click.echo(_("Imported."))
    finally:
        await close_database()


@main.command("promote")
@click.option("--from", "from_year", required=True, help="The school year that ends, e.g. 2026-2027.")
@click.option("--graduating-grade", required=True, type=click.IntRange(1, 12), help="The top grade, which leaves school (毕业).")
@click.option("--left-on", required=True, help="The graduates' leaving date, e.g. 2027-07-01.")
@click.option("--school", "school_code", default=None, help="The school's code (default: the first school).")
@click.option("--dry-run", is_flag=True, help="Only show what would happen.")
def promote(from_year: str, graduating_grade: int, left_on: str, school_code: str | None, dry_run: bool) -> None:
    """A new school year: every class moves up a grade with its students; the top grade leaves (毕业)."""
    _run(_promote(Settings.from_env(), from_year, graduating_grade, left_on, school_code, dry_run))


async def _promote(settings: Settings, from_year: str, grade: int, left_on: str, school_code: str | None, dry_run: bool) -> None:
    from server.db import close_database, open_database
    from server.roster import apply_promotion, parse_date, plan_promotion

    day = parse_date(left_on)
    if day is None:
        click.echo(_("Not a date: %(value)s (write it as 2014-09-01).", value=left_on), err=True)
        sys.exit(1)
    await open_database(settings, migrate=True)
    try:
        school = await school_or_exit(school_code)
        promotion = await plan_promotion(school, from_year, grade, day)
        if not promotion.moves and not promotion.graduates:
            click.echo(_("There are no classes in %(year)s.", year=from_year), err=True)
            sys.exit(1)
        for klass, _grade, name, count in promotion.moves:
            click.echo(f"{klass.name} ({count}) → {name} {promotion.to_year}")
        for klass, count in promotion.graduates:
            click.echo(f"{klass.name} ({count}) → 毕业 {day.isoformat()}")
        if not dry_run:
            counts = await apply_promotion(school, promotion)
            click.echo(_("%(moved)s students moved up to %(year)s, %(graduated)s graduated; %(classes)s classes created.",
                         moved=counts["moved"], year=promotion.to_year, graduated=counts["graduated"], classes=counts["classes"]))
    finally:
        await close_database()


@main.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path) -> None:
    """Copy the database to TARGET while the server keeps running (SQLite backup API or pg_dump)."""
    _run(_backup_or_restore(Settings.from_env(), "backup", target))


@main.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
def restore_command(source: Path) -> None:
    """Restore a backup into an empty database (a new data folder, or a new PostgreSQL database)."""
    _run(_backup_or_restore(Settings.from_env(), "restore", source))


async def _backup_or_restore(settings: Settings, action: str, path: Path) -> None:
    import anyio

    from server import audit
    from server.backup import BackupError, backup, restore
    from server.db import close_database, open_database

    try:
        await anyio.to_thread.run_sync(backup if action == "backup" else restore, settings, path)
    except BackupError as problem:
        click.echo(str(problem), err=True)
        sys.exit(1)
    await open_database(settings, migrate=True)  # a restored older backup is brought up to date
    try:
        await audit.append(action, "database", actor_name="cli", detail=path.name[:100])
    finally:
        await close_database()
    click.echo(_("Backed up to %(path)s.", path=path) if action == "backup" else _("Restored from %(path)s.", path=path))


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; name the first entry whose link is broken."""
    _run(_audit_verify(Settings.from_env()))


async def _audit_verify(settings: Settings) -> None:
    from server.audit import verify
    from server.db import close_database, open_database

    await open_database(settings, migrate=True)
    try:
        checked, broken = await verify()
    finally:
        await close_database()
    if broken is not None:
        click.echo(_("The audit log was altered: entry %(id)s does not follow from the %(count)s before it.", id=broken, count=checked), err=True)
        sys.exit(1)
    click.echo(_("The audit log is intact (%(count)s entries).", count=checked))


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 366), help="Days until the token stops working.")
def token_create(username: str, days: int) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is stored)."""
    _run(_token_create(Settings.from_env(), username, days))


async def _token_create(settings: Settings, username: str, days: int) -> None:
    from server.auth import create_token
    from server.db import close_database, open_database
    from server.models import User

    await open_database(settings, migrate=True)
    try:
        user = await User.get_or_none(username=username, is_active=True)
        if user is None:
            click.echo(_("No such user: %(username)s", username=username), err=True)
            sys.exit(1)
        click.echo(await create_token(user, days))
    finally:
        await close_database()
