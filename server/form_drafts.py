"""Drafts of the form editor: kept in the database, changed one operation at a time, never lost.

A save is a conditional UPDATE on the draft's revision. An edit addressed by position (move,
delete, add) on a draft someone else changed meanwhile is refused with the newest draft shown;
an edit addressed by field (title, options, bounds) is applied to the newest draft. Either way
nobody's edit is dropped silently.

Also here: a definition as files (export), a definition from files (import, same checks and the
same draft → publish path), and merging a changed shipped definition into the school's version.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from server.checks import MAX_DEFINITION_BYTES, Problem, check_publishable
from server.definitions import Definition
from server.form_editor import BY_FIELD, EditRefused, apply
from server.i18n import gettext as _
from server.form_versions import SHIPPED, DefinitionRejected
from server.models import FormDraft, FormVersion, User

MAX_IMPORT_BYTES = 2_000_000
MAX_ZIP_MEMBERS = 50


@dataclass
class Working:
    """What the editor shows: the draft, or the published version when there is no draft yet."""

    form_id: str
    schema: dict
    layout: dict
    revision: int  # 0: nothing saved yet
    based_on: int
    draft: FormDraft | None


class StaleDraft(Exception):
    """Someone else changed the draft since this editor was loaded."""

    def __init__(self, working: Working):
        super().__init__("stale draft")
        self.working = working


async def working_copy(school_id: int, form_id: str, current: Definition | None) -> Working | None:
    draft = await FormDraft.get_or_none(school_id=school_id, form_id=form_id).select_related("updated_by")
    if draft is not None:
        return Working(form_id, draft.schema, draft.layout, draft.revision, draft.based_on, draft)
    if current is None:
        return None
    return Working(form_id, copy.deepcopy(current.schema), copy.deepcopy(current.layout), 0, current.version, None)


class DraftExists(Exception):
    """A draft is being edited: a new one (an import, a rollback, a merge) would throw its edits away."""


async def start_draft(school_id: int, form_id: str, schema: dict, layout: dict, based_on: int, user: User, *,
                      origin: str = "edit", base_hash: str = "", note: str = "") -> FormDraft:
    """A new draft (a new form, a copy, an import, a rollback or a merge); never over someone's draft."""
    try:
        return await FormDraft.create(school_id=school_id, form_id=form_id, schema=schema, layout=layout, based_on=based_on,
                                      revision=1, updated_by=user, origin=origin, base_hash=base_hash, note=note[:200])
    except IntegrityError:
        raise DraftExists(_("This form already has a draft being edited. Publish or discard it first.")) from None


async def edit_draft(school_id: int, form_id: str, current: Definition | None, op: str, form: dict, seen_revision: int,
                     user: User) -> tuple[Working, Working]:
    """One operation saved: the working copy before and after it. StaleDraft for a positional edit of an
    outdated view, EditRefused when it cannot be made."""
    for _attempt in range(5):
        working = await working_copy(school_id, form_id, current)
        if working is None:
            raise EditRefused(_("There is no form with this id."))
        if working.revision != seen_revision and op not in BY_FIELD:
            raise StaleDraft(working)
        schema, layout = apply(op, working.schema, working.layout, form)
        if working.draft is None:
            try:
                draft = await FormDraft.create(school_id=school_id, form_id=form_id, schema=schema, layout=layout,
                                               based_on=working.based_on, revision=1, updated_by=user)
            except IntegrityError:
                continue  # another editor made the draft a moment ago: apply to theirs
        else:
            saved = await FormDraft.filter(id=working.draft.id, revision=working.revision).update(
                schema=schema, layout=layout, revision=working.revision + 1, updated_by_id=user.id)
            if not saved:
                continue  # saved by someone else between our read and write: read again
            draft = await FormDraft.get(id=working.draft.id).select_related("updated_by")
        return working, Working(form_id, draft.schema, draft.layout, draft.revision, draft.based_on, draft)
    raise StaleDraft(await working_copy(school_id, form_id, current))  # type: ignore[arg-type]


async def discard_draft(school_id: int, form_id: str) -> int:
    return await FormDraft.filter(school_id=school_id, form_id=form_id).delete()


# ---- export and import --------------------------------------------------------------------------

def export_json(form_id: str, version: int, schema: dict, layout: dict) -> bytes:
    return json.dumps({"format": "xindang-form-1", "form_id": form_id, "version": version, "schema": schema, "layout": layout},
                      ensure_ascii=False, indent=2).encode("utf-8")


def export_zip(form_id: str, schema: dict, layout: dict) -> bytes:
    """The folder form_defs/ uses: `<form_id>/schema.json` and `<form_id>/layout.json`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{form_id}/schema.json", json.dumps(schema, ensure_ascii=False, indent=2))
        archive.writestr(f"{form_id}/layout.json", json.dumps(layout, ensure_ascii=False, indent=2))
    return buffer.getvalue()


def read_definition(raw: bytes, form_id: str = "") -> tuple[str, dict, dict]:
    """(form id, schema, layout) from an exported JSON file or a ZIP of a form folder, checked as for
    publishing; DefinitionRejected with every problem otherwise. `form_id`, when given, overrides the file's."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise DefinitionRejected([Problem("", "", _("The file is larger than 2 MB."))])
    if raw[:4] == b"PK\x03\x04":
        found_id, schema, layout = _from_zip(raw)
    else:
        try:
            body = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise DefinitionRejected([Problem("", "", _("The file is neither a ZIP nor valid JSON: %(error)s", error=str(exc)[:200]))]) from None
        if not isinstance(body, dict) or not isinstance(body.get("schema"), dict) or not isinstance(body.get("layout"), dict):
            raise DefinitionRejected([Problem("", "", _("The JSON file must hold \"schema\" and \"layout\" objects (as the editor exports them)."))])
        found_id, schema, layout = str(body.get("form_id", ""))[:80], body["schema"], body["layout"]
    form_id = form_id or found_id
    problems = check_publishable(form_id, schema, layout)
    if problems:
        raise DefinitionRejected(problems)
    return form_id, schema, layout


def _from_zip(raw: bytes) -> tuple[str, dict, dict]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise DefinitionRejected([Problem("", "", _("The ZIP file is damaged."))]) from None
    if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > 2 * MAX_DEFINITION_BYTES:
        raise DefinitionRejected([Problem("", "", _("The ZIP file holds too much; it should hold one form's schema.json and layout.json."))])
    found: dict[str, Any] = {}
    form_id = ""
    for member in members:
        parts = member.filename.strip("/").split("/")
        if parts[-1] in ("schema.json", "layout.json") and len(parts) <= 2:
            form_id = parts[0] if len(parts) == 2 else form_id
            try:
                found[parts[-1]] = json.loads(archive.read(member).decode("utf-8-sig"))
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error) as exc:  # damaged, encrypted, odd
                raise DefinitionRejected([Problem(member.filename, "", _("The ZIP file is damaged: %(error)s", error=str(exc)[:200]))]) from None
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise DefinitionRejected([Problem(member.filename, "", _("The file is not valid JSON: %(error)s", error=str(exc)[:200]))]) from None
    if not isinstance(found.get("schema.json"), dict) or not isinstance(found.get("layout.json"), dict):
        raise DefinitionRejected([Problem("", "", _("The ZIP file must hold schema.json and layout.json (in a folder named after the form)."))])
    return form_id, found["schema.json"], found["layout.json"]


# ---- a changed shipped definition ---------------------------------------------------------------

MISSING = object()


def three_way(old: Any, new: Any, mine: Any, path: str = "") -> tuple[Any, list[str]]:
    """Merge the change from `old` to `new` (the shipped definition) into `mine` (the school's version).

    Objects merge key by key; anything else (a list of blocks, a row, an option list) is one value:
    taken from upstream when the school left it as shipped, kept when only the school changed it,
    and reported as a conflict (the school's kept) when both changed it differently."""
    if new == old or mine == new:
        return mine, []
    if mine == old:
        return new, []
    if isinstance(old, dict) and isinstance(new, dict) and isinstance(mine, dict):
        merged, conflicts = {}, []
        for key in list(mine) + [k for k in new if k not in mine]:
            value, found = three_way(old.get(key, MISSING), new.get(key, MISSING), mine.get(key, MISSING), f"{path}/{key}")
            conflicts += found
            if value is not MISSING:
                merged[key] = value
        return merged, conflicts
    return mine, [path or "/"]


def merged(old: Definition | FormVersion | None, new: Definition, mine: Definition | Working) -> tuple[dict, dict, list[str]]:
    """The change from `old` to `new` merged into `mine`, both files (schema and layout); the conflicts as `file/pointer`."""
    schema, schema_conflicts = three_way(old.schema if old else {}, new.schema, mine.schema)
    layout, layout_conflicts = three_way(old.layout if old else {}, new.layout, mine.layout)
    return schema, layout, [f"schema.json{p}" for p in schema_conflicts] + [f"layout.json{p}" for p in layout_conflicts]


async def shipped_version(school_id: int, form_id: str, base_hash: str) -> FormVersion | None:
    """The shipped definition the school's version descends from (its old base)."""
    return await FormVersion.filter(school_id=school_id, form_id=form_id, base_hash=base_hash,
                                    origin__in=list(SHIPPED)).order_by("-version").first()
