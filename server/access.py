"""Who may do what: the one place that decides, for every page, fragment, PDF, export and API call.

A user holds roles (a 班主任 may also be a 心理教师). A form's definition says which roles may
create, read, edit, print and export its records (`x-access` at the schema's root); a field may be
readable by fewer roles (`x-access` on the field: counselling notes for the 心理教师 only). Each
role reaches a set of students: the whole school, or only the classes the user is bound to. A
record is reachable when one of the user's roles has the right for its form and reaches it.

Nothing here is per form: the rules are data in the definitions, with the handbook's default
(docs/HANDBOOK.md §4) when a definition says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import PermissionDeniedException
from tortoise.expressions import Q

from server.definitions import Definition, delete_path, get_path, set_path
from server.paths import without_paths
from server.i18n import gettext as _
from server.models import Record, SchoolClass, Student, User

class AccessRefused(PermissionDeniedException):
    """403 with a message for the user (other 403s are failed security checks such as CSRF)."""


ACTIONS = ("create", "read", "edit", "print", "export")

# role code → whom it reaches: the whole school, or the students of the user's classes
ROLES: dict[str, str] = {
    "admin": "school",
    "leader": "school",
    "moral_education": "school",
    "psych_teacher": "school",
    "homeroom_teacher": "classes",
    "subject_teacher": "classes",
    "school_doctor": "school",
}
OWN_RECORDS_ONLY = frozenset({"subject_teacher"})  # writes about a class's students, reads back only what it wrote

# A definition that says nothing: the 心理教师 only (the handbook's safest reading of §4).
DEFAULT_FORM_ACCESS = {action: ["psych_teacher"] for action in ACTIONS}


def role_names() -> dict[str, str]:
    return {
        "admin": _("System administrator"),
        "leader": _("School leader"),
        "moral_education": _("Moral education office"),
        "psych_teacher": _("Psychology teacher"),
        "homeroom_teacher": _("Homeroom teacher"),
        "subject_teacher": _("Subject teacher"),
        "school_doctor": _("School doctor"),
    }


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the rules see them: id, school, roles and bound classes."""

    user_id: int
    school_id: int
    roles: frozenset[str]
    class_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def form_roles(definition: Definition, action: str) -> frozenset[str]:
    rules = definition.schema.get("x-access") or {}
    return frozenset(rules.get(action, DEFAULT_FORM_ACCESS[action]))


def roles_for(actor: Actor, definition: Definition, action: str) -> frozenset[str]:
    """The user's roles that carry `action` on this form."""
    return actor.roles & form_roles(definition, action)


def can(actor: Actor, definition: Definition, action: str) -> bool:
    return bool(roles_for(actor, definition, action))


@dataclass(frozen=True)
class Reach:
    """Which records of a form an action reaches: all of the school's, or those about students of
    some classes (and, for a class-bound role, the records the user made)."""

    whole_school: bool
    class_ids: frozenset[int]
    own_records: bool

    @property
    def nothing(self) -> bool:
        return not self.whole_school and not self.class_ids and not self.own_records


def reach(actor: Actor, definition: Definition, action: str) -> Reach:
    roles = roles_for(actor, definition, action)
    if any(ROLES.get(role) == "school" for role in roles):
        return Reach(True, frozenset(), False)
    by_class = any(ROLES.get(role) == "classes" and (action == "create" or role not in OWN_RECORDS_ONLY) for role in roles)
    own = any(role in OWN_RECORDS_ONLY for role in roles)  # a 班主任 moved off a class no longer reaches its records
    return Reach(False, actor.class_ids if by_class else frozenset(), own)


def hidden_fields(actor: Actor, definition: Definition) -> frozenset[str]:
    """Fields this user may not read (nor change): an `x-access.read` on the field, or on a group of
    fields it belongs to (`medical` hides `medical.status`), names other roles."""
    key = ("hidden", actor.roles)
    found = definition.cache.get(key)
    if found is None:
        found = frozenset(path for path in definition.fields
                          if any(not actor.roles & set(rule.get("read", [])) for rule in read_rules(definition.schema, path)))
        definition.cache[key] = found
    return found


def hidden_on_create(actor: Actor, definition: Definition) -> frozenset[str]:
    """Fields this user may not read but may fill in when creating a record (`x-access: {"create": [roles]}` on
    the field): a 班主任's in-school referral states its reason, which the 班主任 does not read back afterwards."""
    return frozenset(path for path in hidden_fields(actor, definition)
                     if not any(actor.roles & set(rule.get("create", [])) for rule in read_rules(definition.schema, path)))


def keep_hidden_on_create(actor: Actor, definition: Definition, posted: dict) -> dict:
    """A new record keeps nothing of fields its author may neither read nor fill in."""
    for path in hidden_on_create(actor, definition):
        delete_path(posted, path)
    return posted


def read_rules(schema: dict, path: str) -> list[dict]:
    """The `x-access` rules on a field and on each group of fields above it."""
    rules, node = [], schema
    for part in path.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        if isinstance(node.get("x-access"), dict):
            rules.append(node["x-access"])
    return rules


def mask(actor: Actor, definition: Definition, data: dict) -> dict:
    """A copy of the record's data without the fields this user may not read."""
    return without_paths(data, hidden_fields(actor, definition))


def keep_hidden(actor: Actor, definition: Definition, stored: dict, posted: dict) -> dict:
    """What a user cannot read they cannot change either: a save keeps the stored values."""
    for path in hidden_fields(actor, definition):
        delete_path(posted, path)
        if (value := get_path(stored, path)) is not None:
            set_path(posted, path, value)
    return posted


# --- the database side: who the user is, and which rows they reach ---------------------

async def actor_of(user: User) -> Actor:
    """The rules' view of the signed-in user (kept on the request's user object)."""
    found = getattr(user, "_actor", None)
    if found is None:
        class_ids = await user.classes.all().values_list("id", flat=True)
        roles = frozenset(role for role in (user.roles or []) if role in ROLES)
        found = Actor(user.id, user.school_id, roles, frozenset(class_ids))
        user._actor = found
    return found


async def record_reached(actor: Actor, definition: Definition, record: Record, action: str) -> bool:
    """Whether this action on this record is allowed (same school is checked by the caller's query).
    Editing, printing and exporting show the record, so they need reading it as well."""
    actions = (action,) if action == "read" else ("read", action)
    for each in actions:
        found = reach(actor, definition, each)
        if found.whole_school or (found.own_records and record.created_by_id == actor.user_id):
            continue
        classes = await subject_classes(record) if found.class_ids else set()
        if not (classes and classes <= found.class_ids):
            return False
    return True


async def subject_classes(record: Record) -> set[int | None]:
    """The classes a record is about: its class (a record about a class) or its students' classes."""
    if record.klass_id is not None:
        return {record.klass_id}
    return await student_classes(record)


async def student_classes(record: Record) -> set[int | None]:
    """The classes of the record's students, asked once per record object (a page asks several rights)."""
    found = getattr(record, "_student_classes", None)
    if found is None:
        found = record._student_classes = set(await Student.filter(records__id=record.id).values_list("klass_id", flat=True))
    return found


async def records_filter(actor: Actor, definition: Definition, action: str) -> Q | None:
    """A filter on the school's records of this form: None when the action reaches them all."""
    found = reach(actor, definition, action)
    if found.whole_school:
        return None
    condition = Q(created_by_id=actor.user_id) if found.own_records else Q(id=-1)
    if found.class_ids:
        mine = Record.filter(school_id=actor.school_id, form_id=definition.form_id)
        inside = set(await mine.filter(students__klass_id__in=list(found.class_ids)).values_list("id", flat=True))
        outside = set(await mine.filter(Q(students__klass_id__not_in=list(found.class_ids)) | Q(students__klass_id__isnull=True),
                                        students__id__isnull=False).values_list("id", flat=True))
        if inside - outside:
            condition |= Q(id__in=list(inside - outside))
        condition |= Q(klass_id__in=list(found.class_ids))  # a record about one of the user's classes
    return condition


def classes_to_choose(actor: Actor, definition: Definition, action: str = "create") -> Q | None:
    """Which of the school's classes a new record about a class may be about: None for all of them."""
    found = reach(actor, definition, action)
    if found.whole_school:
        return None
    return Q(id__in=list(found.class_ids) or [-1])


def choosable_classes(actor: Actor, definition: Definition):
    """The classes a new record about a class may be about: the user's (or the school's) within the form's grades."""
    query = SchoolClass.filter(school_id=actor.school_id)
    if (allowed := classes_to_choose(actor, definition)) is not None:
        query = query.filter(allowed)
    if definition.grades:
        query = query.filter(grade__in=definition.grades)
    return query


async def choosable_class(actor: Actor, definition: Definition, class_id: int | None) -> SchoolClass | None:
    """The class a new record about a class is about, when it is one this user may choose (pages and API)."""
    if definition.subject != "class" or not class_id or not 0 < class_id < 2**31:
        return None
    return await choosable_classes(actor, definition).filter(id=class_id).first()


def students_filter(actor: Actor, definition: Definition, action: str) -> Q | None:
    """Which of the school's students a new record may be about: None for all of them."""
    found = reach(actor, definition, action)
    if found.whole_school:
        return None
    return Q(klass_id__in=list(found.class_ids)) if found.class_ids else Q(id=-1)


def roster_filter(actor: Actor) -> Q | None:
    """The students a user may look up at all: None for the whole school (any school-wide role),
    else those of the user's classes."""
    if any(ROLES[role] == "school" for role in actor.roles):
        return None
    return Q(klass_id__in=list(actor.class_ids)) if actor.class_ids else Q(id=-1)


def classes_filter(actor: Actor) -> Q | None:
    """The classes a user may look up: None for the whole school, else the user's own classes."""
    if roster_filter(actor) is None:
        return None
    return Q(id__in=list(actor.class_ids) or [-1])
