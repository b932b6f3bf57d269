"""The form editor (/admin/forms/): edit a draft cell by cell or as JSON, preview it, review what
publishing changes for the stored records, publish, and go back to any version.

Thin handlers: the edits are server.form_editor, drafts server.form_drafts, versions and the
critical-change review server.form_versions. 系统管理员 and 德育处 edit; only a 系统管理员
confirms a change that touches stored data.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote

import anyio
from tortoise.functions import Count
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect

from renderers.forms import ENTRY, render_layout
from renderers.pdf import html_to_pdf, page_count, print_html
from server import audit
from server.access import ACTIONS, role_names
from server.checks import Problem, check_publishable, definition_warnings
from server.definition_diff import action_names, compare
from server.definitions import Definition
from server.form_drafts import (DraftExists, StaleDraft, Working, discard_draft, edit_draft, export_json, export_zip, merged, read_definition,
                                shipped_version, start_draft, working_copy)
from server.form_editor import (BLOCK_KINDS, KINDS, EditRefused, condition_choices, field_places, field_schema, form_values, parse_json,
                                place_label, problem_places, schema_problem_place, select, selected_after)
from server.form_versions import (CriticalChanges, DefinitionRejected, DraftOutdated, VersionRace, audit_publish, definition_hash, history,
                                  may_confirm_critical, stored_answers, version_label)
from server.i18n import gettext as _
from server.models import FormDraft, FormVersion, Record
from server.registry import Registry
from server.tabular import context_labels
from server.validation import small_int
from server.web import form_editors, is_htmx, page, registry, school_of

MAX_FORM_BYTES = 2_500_000
LIST_CONTEXTS = ("@student.name", "@student.class", "@student.number", "@record.created_on")  # what a list may show besides fields
PAGE_COUNTS: dict[int, dict[tuple[str, str], dict[str, int]]] = {}  # school → (form, definition hash) → pages, blank and filled


def compiled(form_id: str, schema: dict, layout: dict) -> tuple[Definition | None, list[Problem]]:
    """The draft as a definition when it passes the publishing checks; its problems otherwise."""
    problems = check_publishable(form_id, schema, layout)
    return (None if problems else Definition(form_id=form_id, schema=schema, layout=layout)), problems


def example_data(draft: Definition, current: Definition | None) -> dict:
    """An example the draft accepts (the shipped examples, with fields it no longer has dropped), for the previews."""
    for example in (current.examples.values() if current else []):
        data = {k: v for k, v in example.items() if k in draft.schema.get("properties", {})}
        if draft.validator.is_valid(data):
            return data
    return {}


class FormEditorPages(Controller):
    path = "/admin/forms"
    guards = [form_editors]

    @get("/")
    async def forms_list(self, request: Request) -> Response:
        return await self._forms_page(request)

    @post("/new", status_code=200)
    async def new_form(self, request: Request) -> Response:
        """A new form: blank, or a copy of one the school has (its current version)."""
        form = await request.form()
        forms = await registry(request)
        form_id, title, source = str(form.get("form_id", "")).strip()[:80], str(form.get("title", "")).strip()[:100], str(form.get("copy_of", ""))
        original = forms.get(source) if source else None
        if original is not None:
            schema, layout = copy.deepcopy(original.schema), copy.deepcopy(original.layout)
        else:
            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "x-subject": "student",
                      "additionalProperties": False, "properties": {"notes": {"title": _("Notes"), "type": "string", "maxLength": 2000}}}
            layout = {"blocks": [{"type": "grid", "columns": 4, "rows": [[{"label": _("Notes")}, {"field": "notes", "span": 3}]]}]}
        schema["title"] = layout["title"] = title
        problems = [p for p in check_publishable(form_id, schema, layout) if not p.file]  # the id; the rest is the editor's
        if forms.get(form_id) is not None:
            problems.append(Problem("", "", _("There is already a form with the id %(form)s.", form=form_id)))
        if not title:
            problems.append(Problem("", "", _("The new form needs a title.")))
        if not problems:
            try:
                await start_draft(forms.school_id, form_id, schema, layout, 0, request.user)
            except DraftExists:
                problems.append(Problem("", "", _("There is already a form with the id %(form)s.", form=form_id)))
        if problems:
            return await self._forms_page(request, problems, form_id=form_id, title=title)
        await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=f"new copy of {source}" if original else "new")
        return Redirect(f"/admin/forms/{form_id}", status_code=303)

    @post("/import", status_code=200, request_max_body_size=MAX_FORM_BYTES)
    async def import_form(self, request: Request) -> Response:
        """A shared definition (the editor's JSON export or a ZIP of a form folder) into a draft: same checks, same publishing."""
        form = await request.form()
        upload = form.get("file")
        forms = await registry(request)
        if not isinstance(upload, UploadFile):
            return await self._forms_page(request, [Problem("", "", _("Choose a file to import."))])
        try:
            form_id, schema, layout = read_definition(await upload.read(), str(form.get("form_id", "")).strip())
            current = forms.get(form_id)
            await start_draft(forms.school_id, form_id, schema, layout, current.version if current else 0, request.user, origin="import")
        except DefinitionRejected as refused:
            await audit.append("import", "form:", user=request.user, result="denied", scope=request.scope, detail="refused")
            return await self._forms_page(request, refused.problems)
        except DraftExists as exists:
            return await self._forms_page(request, [Problem("", "", str(exists))])
        await audit.append("import", f"form:{form_id}", user=request.user, scope=request.scope)
        return Redirect(f"/admin/forms/{form_id}", status_code=303)

    @get("/{form_id:str}")
    async def editor(self, request: Request, form_id: str) -> Response:
        forms, working = await self._working(request, form_id)
        view = request.query_params.get("view", "")
        return await self._editor_page(request, forms, working, request.query_params.get("select", ""), json_view=view == "json")

    @get("/{form_id:str}/condition-value")
    async def condition_value(self, request: Request, form_id: str) -> Response:
        """The condition picker's value control for the field just chosen: its options, or a text box (htmx)."""
        _forms, working = await self._working(request, form_id)
        field = request.query_params.get("when_field", "")
        options = next((options for path, _title, options in condition_choices(working.schema) if path == field), [])
        return page(request, "pages/form_condition_value.html", standalone=True, options=options,
                    value=request.query_params.get("when_value", "")[:100])

    @post("/{form_id:str}/edit", status_code=200)
    async def edit(self, request: Request, form_id: str) -> Response:
        """One edit of the draft; the editor comes back with it applied, or with the reason it was not."""
        forms = await registry(request)
        posted = await request.form()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        for key in ("list_columns", "list_filters", "readers") + tuple(f"access_{action}" for action in ACTIONS):
            if key in posted:  # ticked boxes: one value each
                form[key] = ",".join(v for v in posted.getall(key, []) if isinstance(v, str))
        typed = dict(form)  # what the admin typed, shown again if the edit is refused
        form = changed_only(form)
        op = form.get("op", "")
        seen = small_int(form.get("revision"))
        seen = -1 if seen is None else seen  # no revision: never applied by position
        try:
            before, working = await edit_draft(forms.school_id, form_id, forms.get(form_id), op, form, seen, request.user)
        except StaleDraft as stale:
            message = _("Someone else changed this draft a moment ago, so your change was not saved. What you typed is still below; "
                        "their version is under “The draft as saved now”. Saving again keeps yours.") if op == "json" else \
                _("Someone else changed this draft a moment ago, so your change was not saved. Their version is shown; make your change again.")
            return await self._editor_page(request, forms, stale.working, typed.get("select", ""), status_code=409, json_view=op == "json",
                                           message=message, typed=typed)
        except EditRefused as refused:
            _forms, unchanged = await self._working(request, form_id)  # (a form that does not exist: 404 here)
            return await self._editor_page(request, forms, unchanged, typed.get("select", ""), status_code=422, message=str(refused),
                                           json_view=op == "json", typed=typed)
        await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope, detail=f"{op} revision:{working.revision}")
        selected = selected_after(op, form, (before.schema, before.layout), (working.schema, working.layout))
        return await self._editor_page(request, forms, working, selected, json_view=op == "json", saved=True)

    @post("/{form_id:str}/check", status_code=200)
    async def check(self, request: Request, form_id: str) -> Response:
        """The advanced view's live check: the problems of the JSON as typed, nothing saved."""
        form = await request.form()
        try:
            schema, layout = parse_json(str(form.get("schema_json", "")), "schema.json"), parse_json(str(form.get("layout_json", "")), "layout.json")
            problems = check_publishable(form_id, schema, layout)
            reminders = [] if problems else definition_warnings(form_id, schema, layout)
        except EditRefused as refused:
            problems, reminders = [Problem("", "", str(refused))], []
        return page(request, "pages/form_problems.html", problems=problems, links={}, form_id=form_id, reminders=reminders,
                    problem_intro=_("What you typed has these problems (not saved yet):") if problems else "")

    @post("/{form_id:str}/discard", status_code=200)
    async def discard(self, request: Request, form_id: str) -> Response:
        forms = await registry(request)
        if await discard_draft(forms.school_id, form_id):
            await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope, detail="discarded")
        target = f"/admin/forms/{form_id}" if forms.get(form_id) else "/admin/forms/"
        if is_htmx(request):  # asked with htmx (after its confirmation): the whole page goes there
            return Response("", status_code=200, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)

    @get("/{form_id:str}/preview.pdf")
    async def preview_pdf(self, request: Request, form_id: str) -> Response:
        """The draft's paper page, blank or filled with an example."""
        forms, working = await self._working(request, form_id)
        draft, problems = compiled(form_id, working.schema, working.layout)
        if draft is None:
            raise NotFoundException(_("The draft has problems; correct them to see its PDF."))
        blank = request.query_params.get("filled") != "1"
        school = await school_of(request.user)
        html = print_html(draft, {} if blank else example_data(draft, forms.get(form_id)), context={"@school.name": school.name},
                          blank=blank)
        pdf = await anyio.to_thread.run_sync(html_to_pdf, html)
        name = f"{draft.title}-{_('preview')}.pdf"
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f"inline; filename=\"{form_id}-preview.pdf\"; filename*=UTF-8''{quote(name)}"})

    @get("/{form_id:str}/pages")
    async def page_counts(self, request: Request, form_id: str) -> Response:
        """How many paper pages the draft takes, blank and with an example (loaded after the editor, it takes a moment)."""
        forms, working = await self._working(request, form_id)
        known = PAGE_COUNTS.setdefault(forms.school_id, {})
        key = (form_id, definition_hash(working.schema, working.layout))  # an edit that leaves the paper alone costs nothing
        counts = known.get(key)
        if counts is None:
            draft, _problems = compiled(form_id, working.schema, working.layout)
            counts = {}
            if draft is not None:
                for kind, data, blank in (("blank", {}, True), ("filled", example_data(draft, forms.get(form_id)), False)):
                    counts[kind] = await anyio.to_thread.run_sync(page_count, print_html(draft, data, blank=blank))
            if len(known) > 200:
                known.clear()
            known[key] = counts
        return page(request, "pages/form_pages.html", counts=counts, form_id=form_id)

    @get("/{form_id:str}/review")
    async def review(self, request: Request, form_id: str) -> Response:
        """What publishing the draft changes, each change with the stored records it touches."""
        forms, working = await self._working(request, form_id)
        return await self._review_page(request, forms, working)

    @post("/{form_id:str}/publish", status_code=200)
    async def publish(self, request: Request, form_id: str) -> Response:
        forms, working = await self._working(request, form_id)
        form = await request.form()
        if working.draft is None:
            return Redirect(f"/admin/forms/{form_id}", status_code=303)
        if str(form.get("revision", "")) != str(working.revision):
            return await self._review_page(request, forms, working, status_code=409,
                                           message=_("The draft changed while you were reviewing it. Review it again."))
        confirm = form.get("confirm_critical") == "yes"
        if confirm and not may_confirm_critical(request.user):
            return await self._review_page(request, forms, working, status_code=403,
                                           message=_("Only a 系统管理员 may confirm changes that touch stored records."))
        try:
            published = await request.app.state.forms.publish(
                forms.school_id, form_id, working.schema, working.layout, request.user, origin=working.draft.origin,
                confirm_critical=confirm, note=str(form.get("note", ""))[:200], base_hash=working.draft.base_hash or None,
                based_on=working.based_on)
        except DraftOutdated:
            return await self._review_page(request, forms, working, status_code=409)
        except DefinitionRejected:
            return await self._review_page(request, forms, working, status_code=422)
        except CriticalChanges:
            return await self._review_page(request, forms, working, status_code=409,
                                           message=_("Some changes touch stored records: a 系统管理员 must confirm them."))
        except VersionRace as race:
            return await self._review_page(request, forms, working, status_code=409, message=str(race))
        await discard_draft(forms.school_id, form_id)
        await audit_publish(request.user, request.scope, form_id, published)
        return Redirect(f"/admin/forms/{form_id}?published={published.version.version}", status_code=303)

    @post("/{form_id:str}/rebase", status_code=200)
    async def rebase(self, request: Request, form_id: str) -> Response:
        """A draft started from a version that has since been replaced: the newer version's changes merged in
        (what both changed keeps the draft's, and is listed), so publishing it undoes nothing."""
        forms, working = await self._working(request, form_id)
        current = forms.get(form_id)
        if working.draft is None or current is None or working.based_on == current.version:
            return Redirect(f"/admin/forms/{form_id}", status_code=303)
        started = await forms.library.version(forms.school_id, form_id, working.based_on, strict=False) if working.based_on else None
        schema, layout, conflicts = merged(started, current, working)
        saved = await FormDraft.filter(id=working.draft.id, revision=working.revision).update(
            schema=schema, layout=layout, based_on=current.version, revision=working.revision + 1, updated_by_id=request.user.id)
        if not saved:
            return await self._review_page(request, forms, working, status_code=409,
                                           message=_("The draft changed while you were reviewing it. Review it again."))
        request.session["merge_conflicts"] = conflicts
        await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=f"merged version {current.version} into the draft, {len(conflicts)} conflicts")
        return Redirect(f"/admin/forms/{form_id}", status_code=303)

    @get("/{form_id:str}/versions")
    async def versions(self, request: Request, form_id: str) -> Response:
        """Who published what and when; the difference between any two versions."""
        forms = await registry(request)
        rows = await history(forms.school_id, form_id)
        if not rows:
            raise NotFoundException(_("There is no form with this id."))
        counts = dict(await _records_per_version(forms.school_id, form_id))
        older, newer = small_int(request.query_params.get("a")), small_int(request.query_params.get("b"))
        if newer is None and len(rows) > 1:  # at first: what the version in use changed
            older, newer = rows[1].version, rows[0].version
        changes = None
        if older and newer:
            a, b = await forms.library.version(forms.school_id, form_id, older), await forms.library.version(forms.school_id, form_id, newer)
            if a is None or b is None:
                raise NotFoundException(_("This form has no such version."))
            changes = compare(a, b, await stored_answers(forms.school_id, form_id))
        current = forms.get(form_id)
        await audit.append("read", f"form:{form_id}", user=request.user, detail="versions", scope=request.scope)
        return page(request, "pages/form_versions.html", rows=rows, counts=counts, form_id=form_id, title=current.title if current else form_id,
                    current=current.version if current else None, changes=changes, older=older, newer=newer, label=version_label)

    @post("/{form_id:str}/versions/{version:int}/restore", status_code=200)
    async def restore(self, request: Request, form_id: str, version: int) -> Response:
        """Roll back: the old version becomes the draft, to be reviewed and published as a new version."""
        forms = await registry(request)
        row = await FormVersion.get_or_none(school_id=forms.school_id, form_id=form_id, version=version) if 0 < version < 2**31 else None
        if row is None:
            raise NotFoundException(_("This form has no such version."))
        current = forms.get(form_id)
        try:
            await start_draft(forms.school_id, form_id, row.schema, row.layout, current.version if current else 0, request.user,
                              origin="rollback", base_hash=row.base_hash,  # a shipped update rolled back is offered again
                              note=_("Back to version %(n)s", n=version))
        except DraftExists as exists:
            return await self._draft_in_the_way(request, forms, form_id, exists)
        await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope, detail=f"rollback to {version}")
        return Redirect(f"/admin/forms/{form_id}/review", status_code=303)

    @post("/{form_id:str}/merge", status_code=200)
    async def merge(self, request: Request, form_id: str) -> Response:
        """A changed shipped definition, merged into the school's version as a draft (conflicts keep the school's)."""
        forms = await registry(request)
        current, shipped = forms.get(form_id), forms.library.base.get(form_id)
        head = await FormVersion.filter(school_id=forms.school_id, form_id=form_id).order_by("-version").first()
        old = await shipped_version(forms.school_id, form_id, head.base_hash) if head else None
        if current is None or shipped is None or old is None or form_id not in forms.upstream:
            raise NotFoundException(_("There is no shipped update of this form to merge."))
        schema, layout, conflicts = merged(old, shipped, current)
        try:
            await start_draft(forms.school_id, form_id, schema, layout, current.version, request.user, origin="merge",
                              base_hash=forms.library.base_hashes[form_id])
        except DraftExists as exists:
            return await self._draft_in_the_way(request, forms, form_id, exists)
        request.session["merge_conflicts"] = conflicts
        await audit.append("draft", f"form:{form_id}", user=request.user, scope=request.scope,
                           detail=f"merge shipped update, {len(conflicts)} conflicts")
        return Redirect(f"/admin/forms/{form_id}", status_code=303)

    @get("/{form_id:str}/export")
    async def export(self, request: Request, form_id: str, format: str = "json", draft: bool = False,
                     version: int | None = Parameter(query="version", default=None, gt=0, lt=2**31)) -> Response:
        """The definition as files to share: JSON (both documents) or a ZIP of the form's folder; a published version
        (the one in use, or `?version=N`) or, `?draft=1`, the draft."""
        forms = await registry(request)
        if draft:
            _forms, working = await self._working(request, form_id)
            number, schema, layout, name = 0, working.schema, working.layout, f"{form_id}-draft"
        else:
            definition = forms.get(form_id) if version is None else await forms.library.version(forms.school_id, form_id, version)
            if definition is None:
                raise NotFoundException(_("This form has no such version."))
            number, schema, layout, name = definition.version, definition.schema, definition.layout, f"{form_id}-v{definition.version}"
        await audit.append("export", f"form:{form_id}", user=request.user, scope=request.scope, detail=f"definition {name}")
        if format == "zip":
            return Response(export_zip(form_id, schema, layout), media_type="application/zip",
                            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'})
        return Response(export_json(form_id, number, schema, layout), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}.json"'})

    # ---- helpers --------------------------------------------------------------------------------

    async def _forms_page(self, request: Request, problems: list[Problem] | None = None, *, form_id: str = "", title: str = "") -> Response:
        forms = await registry(request)
        drafts = {d.form_id: d.schema.get("title") or d.form_id for d in await FormDraft.filter(school_id=forms.school_id).order_by("form_id")}
        rows = [(d, d.form_id in forms.upstream, d.form_id in drafts) for part in forms.parts for d in part.forms]
        new_drafts = [(form_id, title) for form_id, title in drafts.items() if form_id not in forms.forms]
        return page(request, "pages/form_admin.html", status_code=422 if problems else 200, rows=rows, new_drafts=new_drafts,
                    problems=problems or [], links={}, form_id=form_id, title=title,
                    problem_intro=_("The form could not be created or imported:") if problems else "")

    async def _draft_in_the_way(self, request: Request, forms: Registry, form_id: str, exists: DraftExists) -> Response:
        """A rollback or merge would replace the draft being edited: the editor, with why it was not done."""
        return await self._editor_page(request, forms, (await self._working(request, form_id))[1], "", status_code=409, message=str(exists))

    async def _working(self, request: Request, form_id: str) -> tuple[Registry, Working]:
        forms = await registry(request)
        working = await working_copy(forms.school_id, form_id, forms.get(form_id))
        if working is None:
            raise NotFoundException(_("There is no form with this id."))
        return forms, working

    async def _editor_page(self, request: Request, forms: Registry, working: Working, selected: str, *, status_code: int = 200,
                           json_view: bool = False, message: str = "", saved: bool = False, typed: dict | None = None) -> Response:
        form_id = working.form_id
        draft, problems = compiled(form_id, working.schema, working.layout)
        current = forms.get(form_id)
        preview = render_layout(draft, ENTRY, example_data(draft, current)) if draft is not None else None
        places = problem_places([p.pointer if p.file.endswith("layout.json") else "" for p in problems])
        links = {index: place for place, indices in sorted(places.items(), key=lambda item: len(item[0])) for index in indices}
        cells = field_places(working.layout)
        for index, problem in enumerate(problems):  # a field's problem is shown at its cell
            if problem.file.endswith("schema.json") and (place := schema_problem_place(problem.pointer, cells)):
                links[index] = place
                places.setdefault(place, []).append(index)
        published = small_int(request.query_params.get("published"))
        conflicts = request.session.pop("merge_conflicts", None) if working.draft is not None else None
        selection = select(working.schema, working.layout, selected)
        choices = condition_choices(working.schema)
        context = dict(
            form_id=form_id, working=working, schema=working.schema, layout=working.layout, current=current, draft=draft,
            problems=problems, places=places, links=links, selection=selection, preview=preview,
            reminders=definition_warnings(form_id, working.schema, working.layout) if draft is not None and not problems else [],
            choices=choices, condition_options={path: options for path, _title, options in choices}, kinds=KINDS, block_kinds=BLOCK_KINDS, json_view=json_view, message=message,
            saved=saved, published=published, upstream=form_id in forms.upstream, conflicts=conflicts or [],
            schema_json=typed["schema_json"] if typed and "schema_json" in typed else json.dumps(working.schema, ensure_ascii=False, indent=2),
            layout_json=typed["layout_json"] if typed and "layout_json" in typed else json.dumps(working.layout, ensure_ascii=False, indent=2),
            saved_json=json.dumps({"schema": working.schema, "layout": working.layout}, ensure_ascii=False, indent=2) if typed else "",
            list_fields=(fields := [(path, spec.title) for path, spec in (draft.fields.items() if draft else []) if not spec.item_fields]),
            list_choices=[(key, context_labels()[key]) for key in LIST_CONTEXTS] + fields, block_names=block_names(), kind_names=kind_names(),
            title_of=lambda path, scope: field_title(working.schema, path, scope), place_label=place_label, context_names=context_labels(),
            focus=is_htmx(request) and request.method == "GET", role_names=role_names(), actions=action_names(),
            form_values=shown_again(form_values(working.schema, working.layout), typed, "form"),
            form_was=shown_before(form_values(working.schema, working.layout), typed, "form"),
            field_was=shown_before(selection.values, typed, "field"),
            new_field_typed=typed if typed and typed.get("op") in ("add_field", "add_column") else {},
            cell_typed=typed if typed and typed.get("op") == "cell" else {},
        )
        if typed and selection.values:
            selection.values = shown_again(selection.values, typed, "field")
        if typed and typed.get("op") in ("cell", "block") and selection.condition and not selection.condition.get("custom"):
            selection.condition = {"field": typed.get("when_field", ""), "op": typed.get("when_op", ""), "value": typed.get("when_value", ""),
                                   "custom": False}
        template = "pages/form_editor_body.html" if is_htmx(request) else "pages/form_editor.html"
        return page(request, template, status_code=status_code, **context)

    async def _review_page(self, request: Request, forms: Registry, working: Working, *, status_code: int = 200,
                           message: str = "") -> Response:
        form_id = working.form_id
        draft, problems = compiled(form_id, working.schema, working.layout)
        current = forms.get(form_id)
        answers = await stored_answers(forms.school_id, form_id)
        changes = compare(current, draft, answers) if draft is not None and current is not None else []
        outdated = working.draft is not None and working.based_on != (current.version if current else 0)
        return page(request, "pages/form_review.html", status_code=status_code, form_id=form_id, working=working, current=current,
                    problems=problems, links={}, changes=changes, critical=[c for c in changes if c.critical], records=len(answers),
                    may_confirm=may_confirm_critical(request.user), message=message, title=draft.title if draft else form_id,
                    note=working.draft.note if working.draft else "",
                    outdated=outdated)


def shown_again(values: dict[str, str], typed: dict | None, op: str) -> dict[str, str]:
    """A panel's values with what the admin typed in it, when that edit was refused: nothing typed is lost."""
    if not typed or typed.get("op") != op:
        return values
    return {key: typed.get(key, value) if key in typed or f"was_{key}" not in typed else "" for key, value in values.items()}


def shown_before(values: dict[str, str], typed: dict | None, op: str) -> dict[str, str]:
    """The `was_…` values a panel posts again after a refused edit: still what the page first showed, so fixing
    one input and saving again saves everything the admin changed."""
    if not typed or typed.get("op") != op:
        return values
    return {key: typed.get(f"was_{key}", value) for key, value in values.items()}


def changed_only(form: dict[str, str]) -> dict[str, str]:
    """The panel posts every setting with the value it showed (`was_<name>`): keep only what the admin changed,
    so an edit made on an outdated page never puts back what someone else changed meanwhile. A box shown
    ticked and posted unticked is not in the form at all: it changed to empty."""
    def same(text: str) -> str:  # browsers post a textarea's line breaks as CRLF
        return text.replace("\r\n", "\n").replace("\r", "\n").strip()

    shown = {key[4:]: value for key, value in form.items() if key.startswith("was_")}
    kept = {key: value for key, value in form.items() if not key.startswith("was_")}
    for key, before in shown.items():
        if same(kept.get(key, "")) == same(before):
            kept.pop(key, None)
        else:
            kept[key] = kept.get(key, "")
    return kept


def block_names() -> dict[str, str]:
    return {"grid": _("Grid"), "section": _("Section"), "text": _("Text"), "signature": _("Signature"), "table": _("Table of rows"),
            "repeat": _("Repeated group"), "matrix": _("Scale items"), "ledger_row": _("Ledger row"), "page_break": _("Page break"),
            "cut_line": _("Cut line")}


def kind_names() -> dict[str, str]:
    return {"short_text": _("Short text"), "long_text": _("Long text"), "integer": _("Whole number"), "number": _("Number"),
            "date": _("Date"), "choice": _("Single choice"), "multi_choice": _("Multiple choice"), "boolean": _("Yes / no")}


def field_title(schema: dict, path: str, scope: str | None) -> str:
    try:
        return str(field_schema(schema, path, scope).get("title") or path)
    except EditRefused:
        return path


async def _records_per_version(school_id: int, form_id: str) -> list[tuple[int, int]]:
    rows = await Record.filter(school_id=school_id, form_id=form_id).annotate(n=Count("id")).group_by("form_version").values_list("form_version", "n")
    return [(int(v), int(n)) for v, n in rows]
