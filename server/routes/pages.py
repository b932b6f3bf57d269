"""HTML pages: catalog, list, entry, view, edit and print. Thin: ask the registry, storage
and renderers; no form is named here."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect

from renderers.forms import ENTRY, VIEW, LedgerRow, render_layout, restricted_notice
from renderers.widgets import choices, form_value
from renderers.plan import field_positions
from renderers.pdf import html_to_pdf, ledger_print_html, print_html
from server.definitions import Definition, get_path
from server.i18n import gettext as _, ngettext, to_local
from server.models import Record, RecordRevision, School, SchoolClass, Student
from server.records import (DONE, DRAFT, ListQuery, VersionConflict, check_files_open, checked_save, class_students, create_record,
                            effective_sort, list_records, once_only_records, pickable, record_number, search_students, sortable_keys,
                            students_of, students_refusal, update_record)
from server.validation import apply_row_action, carry_unposted, create_limit_errors, field_title, form_text, parse_form, row_index_errors, small_int
from server.tabular import codebook, export_rows, list_columns, row_cells, to_csv, to_xlsx, value_text
from server.context import GRADE_NAMES, subject_context
from server.record_upgrade import UpgradePlan, plan_upgrade
from server import audit, unsaved_work
from server.access import (Actor, actor_of, can, choosable_class, choosable_classes, classes_filter, hidden_fields, hidden_on_create, keep_hidden,
                           keep_hidden_on_create, mask, record_reached, records_filter, role_names, roles_for, students_filter)
from server.disposal import (IN_PROGRESS, closed_answers, hidden_names, hide_closed_in, hide_closed_students, keep_decided, panel_for,
                             shown_here)
from server.linked_students import add_rows, drop_untouched_row, linked_list
from server.web import definition_or_404, form_for, is_htmx, page, pdf_response, record_for, registry, school_of

MAX_CHOSEN_STUDENTS = 500  # a group record's students (a whole grade at most)
PICKER_ACTIONS = ("pick-student:", "unpick-student:", "pick-class:", "find-students")
MAX_LEDGER_ROWS = 1000  # about 100 pages, a minute or two of rendering; more: filter first
SAVE_ACTIONS = {"save": DONE, "draft": DRAFT}  # the entry page's two save buttons and the status each asks for
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
                    is_admin=actor.is_admin, kept=await _kept_list(request))

    @get("/forms/{form_id:str}")
    async def list_view(self, request: Request, form_id: str) -> Response:
        params = request.query_params
        exporting = params.get("format") in EXPORT_TYPES
        definition, actor = await form_for(request, form_id, "export" if exporting else "read")
        school = await school_of(request.user)
        query = _list_query(params, request.app.state.settings.page_size)
        query.scope = await records_filter(actor, definition, "export" if exporting else "read")
        query.hidden = hidden_fields(actor, definition)
        class_options = await _list_classes(school, definition, actor)
        query.class_id = query.class_id if query.class_id in {c["id"] for c in class_options} else None
        await audit.append("export" if exporting else "list", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=_list_detail(definition, query, params.get("format", "")))
        if exporting:
            return await _export(request, definition, actor, school, params["format"], query)
        result = await list_records(definition, school, query)
        await hide_closed_in(await registry(request), result.records, request.session)
        columns = list_columns(definition, query.hidden)
        keys = [c["key"] for c in columns]
        rows = [{"record": r, "cells": row_cells(definition, r, keys, school)} for r in result.records]
        kept = {k: v for k, v in params.items() if k == "q" or k.startswith(FILTER_PREFIXES)}
        if query.class_id:
            kept["class"] = str(query.class_id)
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
                    filters=filter_specs, search=query.search, query_string=urlencode(kept),
                    class_options=class_options, class_id=query.class_id,
                    may_create=can(actor, definition, "create"), may_export=can(actor, definition, "export"),
                    ledger_url=f"/forms/{form_id}/ledger.pdf" + (f"?{urlencode(kept)}" if kept else "")
                    if definition.ledger_block and can(actor, definition, "print") else "")

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
        kept, restored = await _kept_work(request, f"/forms/{form_id}")
        data: dict = {}
        if kept is not None:  # the save that came after the session ended, back in the form
            data = parse_form(definition, kept, keep_empty_rows=True)
            keep_hidden_on_create(actor, definition, data)  # as the save would: fields one fills in but does not read stay
            if not students and definition.subject in ("student", "students"):
                picked = [v for v in kept.getall("_student", []) if v][: 1 if definition.subject == "student" else MAX_CHOSEN_STUDENTS]
                students = await students_of(school, picked, students_filter(actor, definition, "create")) or []
        return await _entry_page(request, school, definition, data, {}, students, action=f"/forms/{form_id}{fixed}", restored=restored)

    @post("/forms/{form_id:str}", status_code=200)
    async def create(self, request: Request, form_id: str) -> Response:
        definition, actor = await form_for(request, form_id, "create")
        school = await school_of(request.user)
        form = await entry_form(request)
        if (refused := await _opened_by_another_account(request, form)) is not None:
            return refused
        action = form_text(form, "_action") or "save"
        saving = action in SAVE_ACTIONS
        chosen = [v for v in form.getall("_student", []) if isinstance(v, str) and v]
        if definition.subject not in ("student", "students"):
            chosen = []  # a class's or the school's record links no student
        elif definition.subject == "student":
            chosen = chosen[:1]
        chosen = list(dict.fromkeys(chosen))[:MAX_CHOSEN_STUDENTS]
        students = await students_of(school, chosen, students_filter(actor, definition, "create")) if chosen else []
        klass = await choosable_class(actor, definition, small_int(form_text(form, "_class")))
        if students:
            students.sort(key=lambda s: chosen.index(str(s.id)) if str(s.id) in chosen else len(chosen))  # as chosen
        data = parse_form(definition, form, keep_empty_rows=not saving)
        keep_hidden_on_create(actor, definition, data)  # a field one may not read cannot be written either, unless
        await keep_decided(definition, {}, data, students=students or [])  # the field lets them fill it in; nor what a decision's reviewers write
        if not saving:
            query, note = form_text(form, "_student_q") or "", ""
            if action.startswith(PICKER_ACTIONS):
                before = students or []
                students, note = await _pick(school, definition, actor, action, before)
                for gone in [s for s in before if s.id not in {k.id for k in students}]:
                    drop_untouched_row(definition, data, gone, students)
                if {s.id for s in students} - {s.id for s in before}:
                    add_rows(definition, data, students)  # the form's row per student
                query = query if action == "find-students" else ""  # a pick closes the suggestions
            else:
                apply_row_action(definition, data, action)
            return await _entry_page(request, school, definition, data, {}, students or [], action=_same_action(request),
                                     student_query=query, picker_note=note, klass=klass, picker_focus=action.startswith(PICKER_ACTIONS))
        status, problems = await checked_save(definition, data, SAVE_ACTIONS[action], None, ("_status",))
        errors = {e.name: e.message for e in row_index_errors(definition, form) + problems
                  + create_limit_errors(definition, roles_for(actor, definition, "create"), data)}
        if definition.subject == "student" and not students:
            errors["_student"] = _("Please choose the student this record is about.")
        elif definition.subject == "students" and not students:
            errors["_student"] = _("Please choose the students who took part.")
        elif definition.subject == "class" and klass is None:
            errors["_class"] = _("Please choose the class this record is about.")
        elif students and (refused := students_refusal(definition, students)):
            errors["_student"] = refused
        if await once_only_records(definition, students or []) and form_text(form, "_confirm_duplicate") != "yes":
            errors["_confirm_duplicate"] = _("This form is kept once per student and one already exists: open it to update it, "
                                             "or tick the box to create a second record anyway.")
        if errors:
            return await _entry_page(request, school, definition, data, errors, students or [], action=_same_action(request),
                                     status_code=422, student_query=form_text(form, "_student_q") or "", klass=klass)
        record = await create_record(definition, school, request.user, data, students or [], status, scope=request.scope, klass=klass)
        return _after_save(request, record)

    @get("/forms/{form_id:str}/students")
    async def student_search(self, request: Request, form_id: str) -> Response:
        """Suggestions for the student picker (an htmx fragment): only students this user may make this
        form's record about (classes, the form's grades, files open or, for a decision, left school).
        Audited as a search, never with the words typed."""
        definition, actor = await form_for(request, form_id, "create")
        if definition.subject not in ("student", "students"):
            raise NotFoundException(_("This form is not about students."))
        school = await school_of(request.user)
        params = request.query_params
        text = (params.get("q") or params.get("_student_q") or "")[:50]
        chosen = {small_int(v) for v in params.getall("_student", [])[:MAX_CHOSEN_STUDENTS]}
        found = await _search(school, definition, actor, text)
        if text.strip():
            await audit.append("search", f"form:{form_id}", user=request.user, scope=request.scope, detail="students")
        return page(request, "pages/student_suggestions.html", picker=_picker(definition, text, found, "", chosen))

    @get("/records/{record_id:int}")
    async def view(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, actor = await _load(request, record_id, "read")
        disposal = await panel_for(definition, record, actor)
        body = render_layout(definition, VIEW, record.data, context=subject_context(school, students, record),
                             hidden=hidden_fields(actor, definition))
        return page(request, "pages/record.html", definition=definition, record=record, body=body, linked=_linked(definition, record, students),
                    record_number=record_number(record), saved=request.query_params.get("saved") == "1",
                    may_edit=not record.sealed and await record_reached(actor, definition, record, "edit")
                    and not (disposal and disposal.disposal and disposal.disposal.state in IN_PROGRESS),
                    may_print=await record_reached(actor, definition, record, "print"), disposal=disposal, role_names=role_names())

    @get("/records/{record_id:int}/edit")
    async def edit(self, request: Request, record_id: int) -> Response:
        school, record, definition, students, actor = await _load(request, record_id, "edit")
        current = (await registry(request)).get(record.form_id)
        newer = current.version if current is not None and current.version != record.form_version else None
        data, version = record.data, record.version
        kept, restored = await _kept_work(request, f"/records/{record_id}")
        if kept is not None:  # the edit posted after the session ended; saved against the version it began from
            data = carry_unposted(definition, record.data, parse_form(definition, kept, keep_empty_rows=True))
            keep_hidden(actor, definition, record.data, data)
            version = small_int(form_text(kept, "_version")) or 0
        return await _entry_page(request, school, definition, data, {}, students, action=f"/records/{record_id}",
                                 record=record, version=version, newer=newer, restored=restored)

    @get("/records/{record_id:int}/upgrade")
    async def upgrade_page(self, request: Request, record_id: int) -> Response:
        """The record in the current version of its form: what is carried, renamed, dropped or to fill, before saving."""
        school, record, made_with, students, actor = await _load(request, record_id, "edit")
        current, plan = await _upgrade_plan(request, record, made_with, actor)
        data, version = plan.carried, record.version
        kept, restored = await _kept_work(request, f"/records/{record_id}/upgrade")
        if kept is not None:
            data = parse_form(current, kept, keep_empty_rows=True)
            keep_hidden(actor, current, plan.carried, data)
            version = small_int(form_text(kept, "_version")) or 0
        return await _entry_page(request, school, current, data, {}, students, action=f"/records/{record_id}/upgrade",
                                 record=record, version=version, upgrade=plan, made_with=made_with, restored=restored)

    @post("/records/{record_id:int}/upgrade", status_code=200)
    async def upgrade(self, request: Request, record_id: int) -> Response:
        """Save the record as the current version; answers the new version has no room for stay in its history."""
        school, record, made_with, students, actor = await _load(request, record_id, "edit")
        definition, plan = await _upgrade_plan(request, record, made_with, actor)
        form = await entry_form(request)
        if (refused := await _opened_by_another_account(request, form)) is not None:
            return refused
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
        if (refused := await _opened_by_another_account(request, form)) is not None:
            return refused
        action = form_text(form, "_action") or "save"
        data = carry_unposted(definition, record.data, parse_form(definition, form, keep_empty_rows=action not in SAVE_ACTIONS))
        keep_hidden(actor, definition, record.data, data)
        await keep_decided(definition, record.data, data, record.id, students=students)
        return await _save_edit(request, school, record, definition, students, form, data, {}, action=f"/records/{record_id}")

    @get("/records/{record_id:int}/history")
    async def history(self, request: Request, record_id: int) -> Response:
        """Who changed what, when: every revision, field by field (fields the user may not read stay hidden)."""
        _school, record, definition, _students, actor = await _load(request, record_id, "read")
        revisions = list(await RecordRevision.filter(record_id=record.id).order_by("version").select_related("changed_by"))
        linked = list(await record.students.all())
        # what a sealed student's part of a group record was stays closed in its history too
        if closed := hidden_names(definition, linked, shown_here(request.session, linked)):
            for revision in revisions:
                revision.data_before = closed_answers(definition, revision.data_before, closed) if revision.data_before else None
                revision.data_after = closed_answers(definition, revision.data_after, closed)
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
                          hidden=hidden_fields(actor, definition), linked=_linked(definition, record, students))
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        return pdf_response(pdf, f"{definition.title}-{record_number(record)}.pdf", f"record-{record.id}.pdf")

    @get("/forms/{form_id:str}/ledger.pdf")
    async def print_ledger(self, request: Request, form_id: str) -> Response:
        """A ledger form's records as one ledger (台账), filtered, searched and sorted as the list is; oldest first
        by the day each record is about unless the list was sorted otherwise."""
        definition, actor = await form_for(request, form_id, "print")
        if definition.ledger_block is None:
            raise NotFoundException(_("This form is not a ledger."))
        school = await school_of(request.user)
        params = request.query_params
        query = _list_query(params, MAX_LEDGER_ROWS)
        query.page = 1
        query.scope = await records_filter(actor, definition, "print")
        query.hidden = hidden_fields(actor, definition)
        if not query.sort and definition.record_date_field:
            query.sort = definition.record_date_field
        await audit.append("print", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=_list_detail(definition, query, "ledger"))
        result = await list_records(definition, school, query)
        if result.total > MAX_LEDGER_ROWS:
            return page(request, "pages/message.html", status_code=422, heading=_("Nothing was printed"),
                        message=_("The ledger would hold %(count)s records, more than %(limit)s: filter the list first.",
                                  count=result.total, limit=MAX_LEDGER_ROWS))
        forms = await registry(request)
        await hide_closed_in(forms, result.records, request.session)  # a sealed student stays masked on paper too
        made_with: dict[int, tuple[Definition, frozenset[str]]] = {definition.version: (definition, query.hidden)}
        rows = []
        for record in result.records:
            if record.form_version not in made_with:
                old = await forms.at(definition.form_id, record.form_version) or definition
                made_with[record.form_version] = (old, hidden_fields(actor, old))
            own, hidden = made_with[record.form_version]
            rows.append(LedgerRow(own, record.data, subject_context(school, list(record.students), record), hidden))
        note = _ledger_note(definition, query, result.total)
        # thousands of rows: the page is rendered, like its PDF, in a worker thread
        pdf = await anyio.to_thread.run_sync(
            lambda: html_to_pdf(ledger_print_html(definition, rows, context={"@school.name": school.name}, note=note)))
        ledger = _("ledger")
        return pdf_response(pdf, f"{definition.title}-{ledger}.pdf", f"{definition.form_id}-ledger.pdf")

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
    action = form_text(form, "_action") or "save"
    if action not in SAVE_ACTIONS:
        apply_row_action(definition, data, action)
        return await _entry_page(request, school, definition, data, {}, students, **common)
    status, problems = await checked_save(definition, data, SAVE_ACTIONS[action], record.status, ("_status",))
    errors = {e.name: e.message for e in row_index_errors(definition, form) + problems} | refusals
    if errors:
        return await _entry_page(request, school, definition, data, errors, students, status_code=422, **common)
    try:
        record = await update_record(record, version, data, request.user, scope=request.scope, form_version=form_version, status=status)
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
    if record.klass_id is not None:
        await record.fetch_related("klass")  # the class a record about a class is about (@class.name)
    hide_closed_students(definition, record, students, shown_here(request.session, students))
    return await school_of(request.user), record, definition, students, actor


async def _kept_list(request: Request) -> list[dict]:
    """The user's kept work (saves that came after a session ended), named by the form's title and whether it
    is a new record or an edit; nothing of what was typed is shown before it is back in its form."""
    kept = await unsaved_work.waiting_for(request.user)
    if not kept:
        return []
    forms = await registry(request)
    record_ids = [int(k["subject"].split(":")[1]) for k in kept if k["subject"].startswith("record:")]
    record_forms = dict(await Record.filter(id__in=record_ids, school_id=request.user.school_id).values_list("id", "form_id")) if record_ids else {}
    listed = []
    for item in kept:
        kind, _sep, ident = item["subject"].partition(":")
        form_id = ident if kind == "form" else record_forms.get(int(ident))
        definition = forms.get(form_id) if form_id else None
        if definition is not None:
            listed.append({**item, "title": definition.title, "new": kind == "form"})
    return listed


async def _opened_by_another_account(request: Request, form: Any) -> Response | None:
    """A form opened by one account and posted while another is signed in on the browser (the first signed
    out, the second signed in, the first's tab still open): nothing is saved under the wrong name, and what
    was typed is kept for the account that opened the form, as when a session has ended."""
    secret = request.app.state.settings.secret_key
    token = form_text(form, unsaved_work.OWNER_FIELD)
    owner = unsaved_work.owner_of(secret, token, request.url.path) if token else None
    if owner is None or owner == request.user.id:
        return None
    kept = await unsaved_work.keep(secret, owner, request.url.path, request.url.query or "", unsaved_work.posted_pairs(form),
                                   scope=request.scope)
    heading = _("Not saved")
    message = _("This form was opened by another account, which has since signed out of this browser. Nothing was saved. "
                "What was typed is kept for that account: it comes back filled when its owner signs in again.") if kept else \
        _("This form was opened by another account, which has since signed out of this browser. Nothing was saved.")
    template = "pages/not_saved.html" if is_htmx(request) else "pages/message.html"
    return page(request, template, status_code=409, heading=heading, message=message)


async def _kept_work(request: Request, post_path: str) -> tuple[FormMultiDict | None, str]:
    """What was posted to `post_path` after the session had ended (`?restore=KEY`), handed back once and only to
    the user it was kept for: (the posted fields, "restored"), or (None, "missing") when there is none any more."""
    key = request.query_params.get(unsaved_work.RESTORE_PARAM)
    if not key:
        return None, ""
    found = await unsaved_work.take(request.app.state.settings.secret_key, request.user, key, post_path, scope=request.scope)
    return (FormMultiDict(found[0]), "restored") if found else (None, "missing")


async def _entry_page(request: Request, school: School, definition: Definition, data: dict, errors: dict[str, str], students: list[Student],
                      *, action: str, status_code: int = 200, record: Record | None = None, version: int | None = None,
                      conflict: dict | None = None, newer: int | None = None, upgrade: UpgradePlan | None = None,
                      made_with: Definition | None = None, restored: str = "", student_query: str = "", picker_note: str = "",
                      klass: SchoolClass | None = None, picker_focus: bool = False) -> Response:
    actor = await actor_of(request.user)
    klass = klass or (getattr(record, "_klass", None) if record is not None else None)
    hidden, hidden_now = hidden_fields(actor, definition), hidden_on_create(actor, definition) if record is None else None
    body = render_layout(definition, ENTRY, data, errors=errors, context=subject_context(school, students, record, klass), refresh_url=action,
                         hidden=hidden if hidden_now is None else hidden_now)
    picker = None
    picks_students = definition.subject in ("student", "students")
    if picks_students and record is None and not (students and "_student" not in errors and request.query_params.get("student")):
        found = await _search(school, definition, actor, student_query) if student_query.strip() else None
        picker = _picker(definition, student_query, found, picker_note, {s.id for s in students})
        picker["focus"] = picker_focus  # after a pick, the search box again (keyboard users go on typing)
    class_choices = None
    if definition.subject == "class" and record is None:
        class_choices = await _class_choices(definition, actor)
    # a form kept once per student: the records the chosen student already has, linked when the user may read them
    duplicates = [{"number": record_number(r), "url": f"/records/{r.id}" if await record_reached(actor, definition, r, "read") else ""}
                  for r in (await once_only_records(definition, students) if record is None else [])]
    # fields this user fills in now but will not read back (x-access "create" on the field): said before typing
    write_only = [definition.fields[p].title for p in definition.fields if p in hidden - hidden_now] if record is None else []
    template = "pages/record_form.html" if is_htmx(request) else "pages/entry.html"
    # after a refused save, htmx shows the top of the form, where the summary lists every problem
    headers = {"HX-Reswap": "outerHTML show:top"} if errors or conflict else None
    return page(request, template, status_code=status_code, headers=headers, definition=definition, body=body, action=action,
                errors=errors, error_items=_error_items(definition, errors), version=version, picker=picker, class_choices=class_choices, klass=klass,
                chosen=students, chosen_students=[s.id for s in students], many_students=definition.subject == "students",
                students_label=definition.students_rule.get("label") or "",
                chosen_names=[f"{s.name}（{s.student_number}）" for s in students],
                grades_note=_grades_note(definition),
                cancel_url=f"/records/{record.id}" if record else f"/forms/{definition.form_id}", conflict=conflict,
                newer=newer, upgrade=upgrade, made_with=made_with, made_version=record.form_version if record else None,
                duplicates=duplicates, write_only=write_only,
                owner_token=unsaved_work.owner_token(request.app.state.settings.secret_key, request.user.id, action.split("?", 1)[0]),
                restored=restored, changed_meanwhile=bool(restored == "restored" and record and version != record.version),
                is_draft=bool(record and record.status == DRAFT), may_draft=record is None or record.status == DRAFT)


def _linked(definition: Definition, record: Record, students: list[Student]) -> dict | None:
    """The students a group record is linked to, for its page and paper (a decision on files shows them in its own panel)."""
    if definition.subject != "students" or definition.schema.get("x-disposal") or not students:
        return None
    return linked_list(definition, record.data, students)


async def _list_classes(school: School, definition: Definition, actor: Actor) -> list[dict]:
    """The classes a list of records about students (or classes) can be filtered by: those the user reaches."""
    if definition.subject not in ("student", "students", "class"):
        return []
    query = SchoolClass.filter(school_id=school.id)
    if (visible := classes_filter(actor)) is not None:
        query = query.filter(visible)
    rows = await query.order_by("-school_year", "grade", "name").values("id", "name", "school_year")
    years = {r["school_year"] for r in rows}
    return [{"id": r["id"], "label": r["name"] if len(years) == 1 else f'{r["name"]}（{r["school_year"]}）'} for r in rows]


async def _class_choices(definition: Definition, actor: Actor) -> list[dict]:
    """The classes a new record about a class may be about, newest school year first."""
    rows = await choosable_classes(actor, definition).order_by("-school_year", "grade", "name").values("id", "name", "school_year")
    return [{"id": r["id"], "label": f'{r["name"]}（{r["school_year"]}）'} for r in rows]


async def _search(school: School, definition: Definition, actor: Actor, text: str):
    return await search_students(school, text, students_filter(actor, definition, "create"), definition.grades,
                                 with_left=bool(definition.schema.get("x-disposal")), with_classes=definition.subject == "students",
                                 only_left=bool(definition.students_rule.get("left_school")))


def _picker(definition: Definition, query: str, found: Any, note: str, chosen: set) -> dict:
    """What the student picker shows: the words typed, the suggestions (chosen ones marked), a note."""
    return {"form_id": definition.form_id, "query": query, "found": found, "note": note, "chosen": chosen,
            "many": definition.subject == "students", "grades_note": _grades_note(definition)}


async def _pick(school: School, definition: Definition, actor: Actor, action: str, students: list[Student]) -> tuple[list[Student], str]:
    """A picker button pressed (with or without JavaScript): a student added or removed, or a whole class added.
    Every student added passes the same rule as the suggestions; a single-student form keeps the last one chosen."""
    verb, _sep, value = action.partition(":")
    number = small_int(value) or 0
    reachable = students_filter(actor, definition, "create")
    with_left = bool(definition.schema.get("x-disposal"))
    only_left = bool(definition.students_rule.get("left_school"))
    if verb == "unpick-student":
        return [s for s in students if s.id != number], ""
    if verb == "pick-student":
        found = await pickable(school, [number], reachable, definition.grades, with_left, only_left)
        if not found:
            return students, _("This student cannot be chosen for this form.")
        if definition.subject == "student":
            return found, ""
        return students + [s for s in found if s.id not in {c.id for c in students}], ""
    if verb == "pick-class" and definition.subject == "students":
        added = [s for s in await class_students(school, number, reachable, definition.grades, with_left, only_left)
                 if s.id not in {c.id for c in students}]
        if not added and not any(s.klass_id == number for s in students):
            return students, _("This class has no students who can be chosen for this form.")
        kept = (students + added)[:MAX_CHOSEN_STUDENTS]
        return kept, _("%(count)s students of %(klass)s added.", count=len(kept) - len(students),
                       klass=added[0].klass.name if added and added[0].klass else "") if added else ""
    return students, ""


def _list_detail(definition: Definition, query: ListQuery, kind: str) -> str:
    """What shaped a list, in known values only: the export kind, whether there was a search (never its
    words: they may be a student's name) and the form's own filters (a made-up key or kind could carry a
    name too)."""
    parts = [kind] if kind in EXPORT_TYPES or kind == "ledger" else []
    if query.search.strip():
        parts.append("search")
    if query.class_id:
        parts.append(f"class:{query.class_id}")
    allowed = set(definition.list_config.get("filters", [])) - query.hidden
    parts += [f"filter:{path}" for path, value in sorted(query.filters.items()) if value and path in allowed]
    return " ".join(parts)


def _ledger_note(definition: Definition, query: ListQuery, total: int) -> str:
    """Which records a printed ledger holds: the list's filters and search, and how many."""
    parts = []
    allowed = set(definition.list_config.get("filters", [])) - query.hidden
    for path in definition.list_config.get("filters", []):
        spec = definition.fields.get(path)
        if spec is None or path not in allowed:
            continue
        if (value := query.filters.get(path)):
            label = next((o.label for o in choices(spec) if form_value(o.value) == value), value)
            parts.append(f"{spec.title}：{label}")
        low, high = query.date_from.get(path, ""), query.date_to.get(path, "")
        if low or high:
            parts.append(f"{spec.title}：{low or '…'}～{high or '…'}")
    if query.search.strip():
        parts.append(_("search “%(words)s”", words=query.search.strip()))
    counted = ngettext("%(num)d record", "%(num)d records", total)
    return " · ".join([*parts, counted]) if parts else _("All records · %(count)s", count=counted)


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
        if name in ("_student", "_class"):
            return (-1, -1, 0)  # the student (or class) picker heads the page
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
        title = _("Student") if name == "_student" else _("Class") if name == "_class" else _("Confirmation") if name.startswith("_") else field_title(definition, path)
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
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


FILTER_PREFIXES = ("f.", "from.", "to.")


def _list_query(params, page_size: int) -> ListQuery:
    """Filters (`f.<field>=option`, `from.<field>` / `to.<field>` for dates), search `q`, `page`."""
    def prefixed(prefix: str) -> dict[str, str]:
        return {key[len(prefix):]: value[:100] for key, value in params.items() if key.startswith(prefix)}

    return ListQuery(filters=prefixed("f."), date_from=prefixed("from."), date_to=prefixed("to."),
                     search=params.get("q", "")[:100], sort=params.get("sort", "")[:100], class_id=small_int(params.get("class", "")),
                     page=small_int(params.get("page", "1")) or 1, page_size=page_size)


async def _export(request: Request, definition: Definition, actor: Actor, school: School, kind: str, query: ListQuery) -> Response:
    """CSV, XLSX or JSON of every record the user may export, whichever version of the form each was made with."""
    media_type = EXPORT_TYPES[kind]
    query.page, query.page_size = 1, 100_000
    result = await list_records(definition, school, query)
    forms = await registry(request)
    await hide_closed_in(forms, result.records, request.session)
    versions = {}
    for number in {r.form_version for r in result.records} - {definition.version}:
        if (old := await forms.at(definition.form_id, number)) is not None:
            versions[number] = (old, hidden_fields(actor, old))
    records, hidden = result.records, query.hidden

    def write() -> bytes:  # in a worker thread: a big export must not hold up other requests
        if kind == "csv":
            return to_csv(export_rows(definition, records, school, hidden, versions=versions))
        if kind == "xlsx":
            return to_xlsx(export_rows(definition, records, school, hidden, versions=versions, typed=True), definition.title,
                           codebook(definition, hidden, versions=versions))
        return orjson.dumps([{"number": record_number(r), "form_version": r.form_version, "version": r.version, "status": r.status,
                              "students": [{"name": s.name, "student_number": s.student_number} for s in r.students],
                              "created_at": to_local(r.created_at).isoformat(timespec="seconds"),
                              "data": _exported_data(actor, definition, versions, r)} for r in records],
                            option=orjson.OPT_INDENT_2)

    body = await anyio.to_thread.run_sync(write)
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{definition.form_id}.{kind}"'})
