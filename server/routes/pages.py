"""HTML pages: catalog, list, entry, view, edit and print. Thin: ask the registry, storage
and renderers; no form is named here."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect

from renderers.forms import ENTRY, VIEW, render_layout, restricted_notice
from renderers.widgets import choices, form_value
from renderers.plan import field_positions
from renderers.pdf import html_to_pdf, print_html
from server.definitions import Definition, get_path
from server.i18n import gettext as _, to_local
from server.models import Record, RecordRevision, School, Student
from server.records import (ListQuery, VersionConflict, check_files_open, create_record, effective_sort, list_records, record_number, sortable_keys,
                            student_choices, students_of, update_record)
from server.validation import (apply_row_action, carry_unposted, field_title, form_text, parse_form, small_int,
                               validate_off_loop)
from server.tabular import export_rows, list_columns, row_cells, to_csv, to_xlsx, value_text
from server.context import GRADE_NAMES, subject_context
from server.record_upgrade import UpgradePlan, plan_upgrade
from server import audit
from server.access import Actor, actor_of, can, hidden_fields, keep_hidden, mask, record_reached, records_filter, role_names, students_filter
from server.disposal import IN_PROGRESS, keep_decided, panel_for
from server.web import definition_or_404, form_for, is_htmx, page, pdf_response, record_for, registry, school_of

MAX_STUDENT_CHOICES = 3000
MAX_ID = 2**31 - 1


class FormPages(Controller):
    @get("/")
    async def home(self) -> Redirect:
        return Redirect("/forms")

    @get("/forms")
    async def catalog(self, request: Request) -> Response:
        """The forms this user's roles may read or fill in, in the handbook's order."""
        actor = await actor_of(request.user)
        parts = [{"id": part.id, "title": part.title,
                  "forms": [{"definition": d, "read": can(actor, d, "read"), "create": can(actor, d, "create")}
                            for d in part.forms if can(actor, d, "read") or can(actor, d, "create")]}
                 for part in (await registry(request)).parts]
        return page(request, "pages/catalog.html", parts=[part for part in parts if part["forms"]],
                    is_admin=actor.is_admin)

    @get("/forms/{form_id:str}")
    async def list_view(self, request: Request, form_id: str) -> Response:
        params = request.query_params
        exporting = params.get("format") in EXPORT_TYPES
        definition, actor = await form_for(request, form_id, "export" if exporting else "read")
        school = await school_of(request.user)
        query = _list_query(params, request.app.state.settings.page_size)
        query.scope = await records_filter(actor, definition, "export" if exporting else "read")
        query.hidden = hidden_fields(actor, definition)
        await audit.append("export" if exporting else "list", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=_list_detail(definition, query, params.get("format", "")))
        if exporting:
            return await _export(request, definition, actor, school, params["format"], query)
        result = await list_records(definition, school, query)
        columns = list_columns(definition, query.hidden)
        keys = [c["key"] for c in columns]
        rows = [{"record": r, "cells": row_cells(definition, r, keys, school)} for r in result.records]
        kept = {k: v for k, v in params.items() if k == "q" or k.startswith(FILTER_PREFIXES)}
        sortable = sortable_keys(definition, query.hidden)
        current = effective_sort(definition, query.sort, query.hidden)
        for column in columns:
            column.update(sort_url="", sorted="")
            if column["key"] in sortable:
                ascending_now = current == column["key"]
                column["sort_url"] = "?" + urlencode({**kept, "sort": ("-" if ascending_now else "") + column["key"]})
                column["sorted"] = "asc" if ascending_now else "desc" if current == "-" + column["key"] else ""
        filter_specs = [{"spec": definition.fields[p], "value": query.filters.get(p, ""),
                         "from": query.date_from.get(p, ""), "to": query.date_to.get(p, ""), "older": []}
                        for p in definition.list_config.get("filters", []) if p not in query.hidden]
        await _add_older_options(request, definition, school, filter_specs)
        if current == query.sort:
            kept["sort"] = current
        return page(request, "pages/list.html", definition=definition, columns=columns, rows=rows, page=result,
                    filters=filter_specs, search=query.search, query_string=urlencode(kept))

    @get("/forms/{form_id:str}/new")
    async def new(self, request: Request, form_id: str) -> Response:
        definition, actor = await form_for(request, form_id, "create")
        school = await school_of(request.user)
        chosen = request.query_params.getall("student", [])[: 1 if definition.subject == "student" else 500]
        students = await students_of(school, chosen, students_filter(actor, definition, "create")) if chosen else []
        if students is None:
            raise NotFoundException(_("There is no such student."))
        check_files_open(definition, students)
        # the students chosen by the link stay chosen through every refresh of the form (the action keeps them)
        fixed = "?" + "&".join(f"student={s.id}" for s in students) if students else ""
        return await _entry_page(request, school, definition, {}, {}, students, action=f"/forms/{form_id}{fixed}")

    @post("/forms/{form_id:str}", status_code=200)
    async def create(self, request: Request, form_id: str) -> Response:
        definition, actor = await form_for(request, form_id, "create")
        school = await school_of(request.user)
        form = await entry_form(request)
        action = form_text(form, "_action") or "save"
        chosen = [v for v in form.getall("_student", []) if isinstance(v, str) and v]
        if definition.subject not in ("student", "students"):
            chosen = []  # a class's or the school's record links no student
        elif definition.subject == "student":
            chosen = chosen[:1]
        students = await students_of(school, chosen, students_filter(actor, definition, "create")) if chosen else []
        data = parse_form(definition, form, keep_empty_rows=action != "save")
        keep_hidden(actor, definition, {}, data)  # a field one may not read cannot be written either
        await keep_decided(definition, {}, data)  # nor what a decision's reviewers and approvers write
        if action != "save":
            apply_row_action(definition, data, action)
            return await _entry_page(request, school, definition, data, {}, students or [], action=_same_action(request))
        errors = {e.name: e.message for e in await validate_off_loop(definition, data)}
        if definition.subject == "student" and not students:
            errors["_student"] = _("Please choose the student this record is about.")
        elif definition.subject == "students" and not students:
            errors["_student"] = _("Please choose the students who took part.")
        if errors:
            return await _entry_page(request, school, definition, data, errors, students or [], action=_same_action(request),
                                     status_code=422)
        record = await create_record(definition, school, request.user, data, students or [], scope=request.scope)
        return _after_save(request, record)

    @get("/records/{record_id:int}")
    async def view(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, actor = await _load(request, record_id, "read")
        disposal = await panel_for(definition, record, actor)
        body = render_layout(definition, VIEW, record.data, context=subject_context(school, students, record),
                             hidden=hidden_fields(actor, definition))
        return page(request, "pages/record.html", definition=definition, record=record, body=body,
                    record_number=record_number(record), saved=request.query_params.get("saved") == "1",
                    may_edit=not record.sealed and await record_reached(actor, definition, record, "edit")
                    and not (disposal and disposal.disposal and disposal.disposal.state in IN_PROGRESS),
                    may_print=await record_reached(actor, definition, record, "print"), disposal=disposal, role_names=role_names())

    @get("/records/{record_id:int}/edit")
    async def edit(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, _actor = await _load(request, record_id, "edit")
        current = (await registry(request)).get(record.form_id)
        newer = current.version if current is not None and current.version != record.form_version else None
        return await _entry_page(request, school, definition, record.data, {}, students, action=f"/records/{record_id}",
                                 record=record, version=record.version, newer=newer)

    @get("/records/{record_id:int}/upgrade")
    async def upgrade_page(self, request: Request, record_id: int) -> Response:
        """The record in the current version of its form: what is carried, renamed, dropped or to fill, before saving."""
        school, record, made_with, students, actor = await _load(request, record_id, "edit")
        current, plan = await _upgrade_plan(request, record, made_with, actor)
        return await _entry_page(request, school, current, plan.carried, {}, students, action=f"/records/{record_id}/upgrade",
                                 record=record, version=record.version, upgrade=plan, made_with=made_with)

    @post("/records/{record_id:int}/upgrade", status_code=200)
    async def upgrade(self, request: Request, record_id: int) -> Response:
        """Save the record as the current version; answers the new version has no room for stay in its history."""
        school, record, made_with, students, actor = await _load(request, record_id, "edit")
        definition, plan = await _upgrade_plan(request, record, made_with, actor)
        form = await entry_form(request)
        action = form_text(form, "_action") or "save"
        data = parse_form(definition, form, keep_empty_rows=action != "save")
        keep_hidden(actor, definition, plan.carried, data)
        refusals = {}
        if plan.loses_hidden:
            refusals["_confirm_loss"] = _("Answers you may not read would leave the record: ask a colleague who may read them to carry it over.")
        elif plan.loses_answers and form_text(form, "_confirm_loss") != "yes":
            refusals["_confirm_loss"] = _("Tick the box to confirm that the answers listed above leave the record (its history keeps them).")
        return await _save_edit(request, school, record, definition, students, form, data, refusals, form_version=definition.version,
                                action=f"/records/{record_id}/upgrade", upgrade=plan, made_with=made_with)

    @post("/records/{record_id:int}", status_code=200)
    async def update(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, actor = await _load(request, record_id, "edit")
        form = await entry_form(request)
        action = form_text(form, "_action") or "save"
        data = carry_unposted(definition, record.data, parse_form(definition, form, keep_empty_rows=action != "save"))
        keep_hidden(actor, definition, record.data, data)
        await keep_decided(definition, record.data, data, record.id)
        return await _save_edit(request, school, record, definition, students, form, data, {}, action=f"/records/{record_id}")

    @get("/records/{record_id:int}/history")
    async def history(self, request: Request, record_id: int) -> Response:
        """Who changed what, when: every revision, field by field (fields the user may not read stay hidden)."""
        _school, record, definition, _students, actor = await _load(request, record_id, "read")
        revisions = list(await RecordRevision.filter(record_id=record.id).order_by("version").select_related("changed_by"))
        forms = await registry(request)
        items, made_with = [], None
        for revision in revisions:  # each side read with the version of the form it was made with, under today's access rules
            before = made_with or definition
            made_with = await forms.at(record.form_id, revision.form_version) or definition
            items.append({"revision": revision, "changes": revision_changes(actor, before, made_with, revision)})
        items.reverse()
        return page(request, "pages/history.html", definition=definition, record=record, items=items,
                    record_number=record_number(record))

    @get("/records/{record_id:int}/print.pdf")
    async def print_record(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, actor = await _load(request, record_id, "print")
        html = print_html(definition, record.data, context=subject_context(school, students, record),
                          hidden=hidden_fields(actor, definition))
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        return pdf_response(pdf, f"{definition.title}-{record_number(record)}.pdf", f"record-{record.id}.pdf")

    @get("/forms/{form_id:str}/blank.pdf")
    async def print_blank(self, request: Request, form_id: str) -> Response:
        definition = await definition_or_404(request, form_id)
        school = await school_of(request.user)
        html = print_html(definition, {}, context={"@school.name": school.name}, blank=True)
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        blank = _("blank form")
        return pdf_response(pdf, f"{definition.title}-{blank}.pdf", f"{definition.form_id}-blank.pdf")


def _exported_data(actor: Actor, definition: Definition, versions: dict, record: Record) -> dict:
    """The answers as the record's own version lets this user read them; with that version out of reach,
    only the fields the current version has (never an answer no rule is known for)."""
    if record.form_version in versions or record.form_version == definition.version:
        return mask(actor, versions.get(record.form_version, (definition,))[0], record.data)
    return {k: v for k, v in mask(actor, definition, record.data).items() if k in definition.schema.get("properties", {})}


def revision_changes(actor: Actor, before: Definition, after: Definition, revision: RecordRevision) -> list[dict[str, str]]:
    """Field by field, what one revision changed; a field either version hides from this user shows as restricted."""
    hidden = hidden_fields(actor, before) | hidden_fields(actor, after)
    old, new = revision.data_before or {}, revision.data_after
    changes = []
    for path in list(after.fields) + [p for p in before.fields if p not in after.fields]:
        if get_path(old, path) == get_path(new, path):
            continue
        shown = {side: restricted_notice() if path in hidden else value_text(spec, path, get_path(data, path)) if path in spec.fields else ""
                 for side, spec, data in (("before", before, old), ("after", after, new))}
        title = field_title(after if path in after.fields else before, tuple(path.split(".")))
        changes.append({"title": title, **shown})
    return changes


async def _save_edit(request: Request, school: School, record: Record, definition: Definition, students: list[Student], form: Any,
                     data: dict, refusals: dict[str, str], *, form_version: int | None = None, **page_args: Any) -> Response:
    """An edit of a record posted: a row added or removed (the page again), refused (the page with every problem),
    saved against the row version the page was loaded with (409 page when someone saved meanwhile)."""
    version = small_int(form_text(form, "_version")) or 0  # no version: never overwrite blindly
    common = dict(record=record, version=version, **page_args)
    if (form_text(form, "_action") or "save") != "save":
        apply_row_action(definition, data, form_text(form, "_action"))
        return await _entry_page(request, school, definition, data, {}, students, **common)
    errors = {e.name: e.message for e in await validate_off_loop(definition, data)} | refusals
    if errors:
        return await _entry_page(request, school, definition, data, errors, students, status_code=422, **common)
    try:
        record = await update_record(record, version, data, request.user, scope=request.scope, form_version=form_version)
    except VersionConflict as conflict:
        return await _conflict_page(request, school, definition, conflict.current, data, students)
    return _after_save(request, record)


async def _upgrade_plan(request: Request, record: Record, made_with: Definition, actor: Actor) -> tuple[Definition, UpgradePlan]:
    """The version in use (404 when the record already is in it) and what carrying the record over to it does, for this user."""
    current = (await registry(request)).get(record.form_id)
    if current is None or current.version == record.form_version:
        raise NotFoundException(_("This record is already in the current version of its form."))
    return current, plan_upgrade(made_with, current, record.data, hidden_fields(actor, made_with), restricted_notice())


async def _add_older_options(request: Request, definition: Definition, school: School, filter_specs: list[dict]) -> None:
    """A filter also offers the options older versions of the form had, when records made with them are stored:
    a record answered with an option since removed can still be found."""
    if not any(f["spec"].options for f in filter_specs):
        return
    numbers = await Record.filter(school_id=school.id, form_id=definition.form_id).exclude(form_version=definition.version) \
        .distinct().values_list("form_version", flat=True)
    forms = await registry(request)
    for number in sorted(set(numbers), reverse=True):
        older = await forms.at(definition.form_id, number)
        for found in filter_specs:
            spec = older.fields.get(found["spec"].path) if older else None
            known = {form_value(o.value) for o in choices(found["spec"])} | {form_value(o.value) for o in found["older"]}
            for option in (choices(spec) if spec is not None and spec.options else []):
                if form_value(option.value) not in known:
                    found["older"].append(option)
                    known.add(form_value(option.value))


def _same_action(request: Request) -> str:
    """The form posts back where it came from, students chosen by the link included."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def _load(request: Request, record_id: int, action: str) -> tuple[School, Record, Definition, list[Student], Actor]:
    record, definition, actor = await record_for(request, record_id, action)
    students = list(await record.students.all().select_related("klass"))
    return await school_of(request.user), record, definition, students, actor


async def _entry_page(request: Request, school: School, definition: Definition, data: dict, errors: dict[str, str], students: list[Student],
                      *, action: str, status_code: int = 200, record: Record | None = None, version: int | None = None,
                      conflict: dict | None = None, newer: int | None = None, upgrade: UpgradePlan | None = None,
                      made_with: Definition | None = None) -> Response:
    actor = await actor_of(request.user)
    body = render_layout(definition, ENTRY, data, errors=errors, context=subject_context(school, students, record), refresh_url=action,
                         hidden=hidden_fields(actor, definition))
    choices = None
    picks_students = definition.subject in ("student", "students")
    if picks_students and record is None and not (students and "_student" not in errors and request.query_params.get("student")):
        choices = await student_choices(school, MAX_STUDENT_CHOICES, definition.grades, [s.id for s in students],
                                        students_filter(actor, definition, "create"), with_left=bool(definition.schema.get("x-disposal")))
    template = "pages/record_form.html" if is_htmx(request) else "pages/entry.html"
    # after a refused save, htmx shows the top of the form, where the summary lists every problem
    headers = {"HX-Reswap": "outerHTML show:top"} if errors or conflict else None
    return page(request, template, status_code=status_code, headers=headers, definition=definition, body=body, action=action,
                errors=errors, error_items=_error_items(definition, errors), version=version, student_choices=choices,
                chosen_students=[s.id for s in students], many_students=definition.subject == "students",
                chosen_names=[f"{s.name}（{s.student_number}）" for s in students],
                grades_note=_grades_note(definition),
                cancel_url=f"/records/{record.id}" if record else f"/forms/{definition.form_id}", conflict=conflict,
                newer=newer, upgrade=upgrade, made_with=made_with, made_version=record.form_version if record else None)


def _list_detail(definition: Definition, query: ListQuery, kind: str) -> str:
    """What shaped a list, without the words searched for (they may be a student's name) and naming
    only the form's own filters (a made-up key could carry a name too)."""
    parts = [kind] if kind else []
    if query.search.strip():
        parts.append("search")
    allowed = set(definition.list_config.get("filters", [])) - query.hidden
    parts += [f"filter:{path}" for path, value in sorted(query.filters.items()) if value and path in allowed]
    return " ".join(parts)


def _grades_note(definition: Definition) -> str:
    if not definition.grades:
        return ""
    names = "、".join(GRADE_NAMES.get(g, str(g)) for g in sorted(definition.grades))
    return _("This form is meant for %(grades)s: the list shows their students.", grades=names)


MAX_FORM_FIELDS = 20_000  # an entry page of 500 rows of 40 cells; parsing more would hold up every other request


async def entry_form(request: Request) -> Any:
    """The posted entry page, refused unread when it holds more fields than any form has (counted on the raw
    body, in C): parsing 100,000 fields took half a second on the event loop."""
    if request.content_type[0] == "application/x-www-form-urlencoded":  # a multipart post has Litestar's part limit
        if (await request.body()).count(b"&") >= MAX_FORM_FIELDS:
            raise HTTPException(status_code=413)  # answered by the app's page for a request that is too large
    return await request.form()


def _error_items(definition: Definition, errors: dict[str, str]) -> list[dict[str, str]]:
    """The summary above the form, in the page's order: each problem named by its field's title and
    linking to its message; a run of a matrix's questions with the same message is one line."""
    positions = field_positions(definition)

    def place(name: str) -> tuple[int, int, int]:
        if name == "_student":
            return (-1, -1, 0)  # the student picker heads the page
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            found = positions.get(".".join(parts[:cut]))
            if found:
                row = int(parts[cut]) if cut < len(parts) and parts[cut].isdigit() else 0
                return (found[0], found[1], row)
        return (len(positions), -1, 0)

    items: list[dict] = []
    for name in sorted(errors, key=place):
        message, (_position, matrix, _row) = errors[name], place(name)
        path = tuple(int(p) if p.isdigit() else p for p in name.split("."))
        title = _("Student") if name == "_student" else _("Confirmation") if name.startswith("_") else field_title(definition, path)
        last = items[-1] if items else None
        if last and matrix != -1 and last["matrix"] == matrix and last["message"] == message:
            last["count"] += 1
            last["title"] = _("%(first)s to %(last)s (%(count)s items)", first=last["first"], last=title, count=last["count"])
            continue
        if not name:  # "N more problems": about the whole form, nowhere to link to
            items.append({"anchor": "", "title": "", "first": "", "message": message, "matrix": -1, "count": 1})
            continue
        items.append({"anchor": "err-" + name.replace(".", "-"), "title": title, "first": title, "message": message,
                      "matrix": matrix, "count": 1})
    return items


async def _conflict_page(request: Request, school: School, definition: Definition, current: Record, mine: dict,
                         students: list[Student]) -> Response:
    """The second of two concurrent saves: what differs, your version in the form, the saved one below."""
    hidden = hidden_fields(await actor_of(request.user), definition)
    changes = [{"title": field_title(definition, tuple(path.split("."))), "theirs": value_text(definition, path, get_path(current.data, path)),
                "mine": value_text(definition, path, get_path(mine, path))}
               for path in definition.fields if path not in hidden and get_path(current.data, path) != get_path(mine, path)]
    theirs = render_layout(definition, VIEW, current.data, context=subject_context(school, students, current), hidden=hidden)
    conflict = {"changes": changes, "theirs": theirs}
    return await _entry_page(request, school, definition, mine, {}, students, action=f"/records/{current.id}", status_code=409,
                             record=current, version=current.version, conflict=conflict)


def _after_save(request: Request, record: Record) -> Response:
    target = f"/records/{record.id}?saved=1"
    if is_htmx(request):
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


EXPORT_TYPES = {
    "json": ("application/json", None),
    "csv": ("text/csv", lambda rows, title: to_csv(rows)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", to_xlsx),
}


FILTER_PREFIXES = ("f.", "from.", "to.")


def _list_query(params, page_size: int) -> ListQuery:
    """Filters (`f.<field>=option`, `from.<field>` / `to.<field>` for dates), search `q`, `page`."""
    def prefixed(prefix: str) -> dict[str, str]:
        return {key[len(prefix):]: value[:100] for key, value in params.items() if key.startswith(prefix)}

    return ListQuery(filters=prefixed("f."), date_from=prefixed("from."), date_to=prefixed("to."),
                     search=params.get("q", "")[:100], sort=params.get("sort", "")[:100],
                     page=small_int(params.get("page", "1")) or 1, page_size=page_size)


async def _export(request: Request, definition: Definition, actor: Actor, school: School, kind: str, query: ListQuery) -> Response:
    """CSV, XLSX or JSON of every record the user may export, whichever version of the form each was made with."""
    media_type, write = EXPORT_TYPES[kind]
    query.page, query.page_size = 1, 100_000
    result = await list_records(definition, school, query)
    forms = await registry(request)
    versions = {}
    for number in {r.form_version for r in result.records} - {definition.version}:
        if (old := await forms.at(definition.form_id, number)) is not None:
            versions[number] = (old, hidden_fields(actor, old))
    if kind == "json":
        body = orjson.dumps([{"number": record_number(r), "form_version": r.form_version, "version": r.version, "status": r.status,
                              "students": [{"name": s.name, "student_number": s.student_number} for s in r.students],
                              "created_at": to_local(r.created_at).isoformat(timespec="seconds"),
                              "data": _exported_data(actor, definition, versions, r)} for r in result.records],
                            option=orjson.OPT_INDENT_2)
    else:
        body = write(export_rows(definition, result.records, school, query.hidden, versions=versions), definition.form_id)
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{definition.form_id}.{kind}"'})
