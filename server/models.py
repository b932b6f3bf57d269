"""Storage: schools, classes, students, users, records and their revisions.

Records keep the JSON `data` of a form and the definition version they were made
with; `version` is the row version for optimistic locking (F9: no row locks on SQLite).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class School(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    code = fields.CharField(max_length=50, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # the school's own front matter of the printed handbook, entered by an administrator as plain text
    handbook_charter = fields.TextField(default="", db_default="")
    handbook_notes = fields.TextField(default="", db_default="")
    # security settings an administrator chooses (server.routes.admin_pages)
    totp_roles = fields.JSONField(default=list, db_default="[]")  # roles whose holders must sign in with a second factor
    require_agreement = fields.BooleanField(default=False, db_default=False)  # accounts open only with a recorded 7.1 agreement
    risk_levels = fields.JSONField(default=list, db_default="[]")  # [{"label", "colour"}] per ordinal 0–3; [] = the definitions' labels

    class Meta:
        table = "school"


class SchoolClass(Model):
    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="classes", on_delete=fields.RESTRICT)
    grade = fields.SmallIntField()
    name = fields.CharField(max_length=100)
    school_year = fields.CharField(max_length=20)

    class Meta:
        table = "school_class"
        unique_together = (("school", "school_year", "name"),)


class Student(Model):
    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="students", on_delete=fields.RESTRICT)
    klass = fields.ForeignKeyField("models.SchoolClass", related_name="students", null=True, on_delete=fields.SET_NULL)
    student_number = fields.CharField(max_length=40)
    name = fields.CharField(max_length=100)
    gender = fields.CharField(max_length=10)
    birth_date = fields.DateField(null=True)
    enrolled_on = fields.DateField(null=True)
    left_on = fields.DateField(null=True)
    left_reason = fields.CharField(max_length=20, default="", db_default="")  # 毕业 / 转出 / 退学 / 其他
    guardian_name = fields.CharField(max_length=100, default="", db_default="")
    guardian_phone = fields.CharField(max_length=20, default="", db_default="")
    file_state = fields.CharField(max_length=12, default="open", db_default="open")  # open | sealed | transferred | destroyed (7.2)
    sealed_until = fields.DateField(null=True)  # a sealed file's expiry: listed for a new decision when due

    class Meta:
        table = "student"
        unique_together = (("school", "student_number"),)


class User(Model):
    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="users", on_delete=fields.RESTRICT)
    username = fields.CharField(max_length=80, unique=True)
    display_name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True, db_default=True)
    is_admin = fields.BooleanField(default=False, db_default=False)  # superseded by the admin role; not read
    must_change_password = fields.BooleanField(default=False, db_default=False)  # an initial password someone else set
    failed_logins = fields.IntField(default=0, db_default=0)  # wrong passwords in a row (login back-off, F3)
    locked_until = fields.DatetimeField(null=True)
    totp_secret = fields.CharField(max_length=64, null=True)  # base32; set once the user has confirmed a code
    totp_last_step = fields.BigIntField(null=True)  # the last accepted 30-second step: a code works only once
    totp_failures = fields.IntField(default=0, db_default=0)  # wrong second-factor codes (a counter of its own)
    totp_locked_until = fields.DatetimeField(null=True)
    roles = fields.JSONField(default=list, db_default="[]")  # role codes of server.access.ROLES; a user may hold several
    classes = fields.ManyToManyField("models.SchoolClass", related_name="staff", through="user_class")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class ApiToken(Model):
    """A bearer token for the JSON API (only its SHA-256 is stored)."""

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="tokens", on_delete=fields.CASCADE)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)  # tokens made before expiry existed have none

    class Meta:
        table = "api_token"


class SessionEntry(Model):
    """Server-side session data (the session store), so several workers share sessions."""

    key = fields.CharField(max_length=128, primary_key=True)
    data = fields.BinaryField()
    expires_at = fields.DatetimeField(null=True, db_index=True)
    user_id = fields.IntField(null=True, db_index=True)  # whose session: all of a user's sessions can be ended

    class Meta:
        table = "session_entry"


class UnsavedPost(Model):
    """A save posted after its session had ended, kept for the user who opened the form (AES-GCM encrypted,
    server.unsaved_work) until they sign in again and get the form back filled, or until it expires."""

    key = fields.CharField(max_length=64, primary_key=True)
    user_id = fields.IntField(db_index=True)  # whose it is: only they see it again
    school_id = fields.IntField()
    target = fields.CharField(max_length=300)  # where it was posted (path and query)
    data = fields.BinaryField()  # nonce + ciphertext of the posted fields
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "unsaved_post"


class Record(Model):
    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="records", on_delete=fields.RESTRICT)
    form_id = fields.CharField(max_length=64, db_index=True)
    form_version = fields.IntField(default=1)
    data = fields.JSONField()
    status = fields.CharField(max_length=16, default="done")
    version = fields.IntField(default=1)
    sealed = fields.BooleanField(default=False, db_default=False)  # about a sealed file: read-only, read with a reason
    students = fields.ManyToManyField("models.Student", related_name="records", through="record_student")
    # the class a record about a class (x-subject: class) is about; none for other records and for class records
    # made before the link existed (they stay readable by the whole-school roles, as they were)
    klass = fields.ForeignKeyField("models.SchoolClass", related_name="records", null=True, on_delete=fields.RESTRICT)
    created_by = fields.ForeignKeyField("models.User", related_name="records_created", on_delete=fields.RESTRICT)
    updated_by = fields.ForeignKeyField("models.User", related_name="records_updated", on_delete=fields.RESTRICT)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "record"


class RecordRevision(Model):
    """One change of a record: before, after and the field diff. Never edited or deleted by a route."""

    id = fields.IntField(primary_key=True)
    record = fields.ForeignKeyField("models.Record", related_name="revisions", on_delete=fields.CASCADE)
    version = fields.IntField()
    action = fields.CharField(max_length=16)
    form_version = fields.IntField(default=1, db_default=1)  # the form's version `data_after` was made with
    data_before = fields.JSONField(null=True)
    data_after = fields.JSONField()
    diff = fields.JSONField()
    changed_by = fields.ForeignKeyField("models.User", related_name="revisions", on_delete=fields.RESTRICT)
    changed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "record_revision"
        unique_together = (("record", "version"),)


class AuditEntry(Model):
    """One audited action (server.audit), appended and never changed, chained by hashes, with no foreign keys."""

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    request_id = fields.CharField(max_length=32, default="")
    school_id = fields.IntField(null=True, db_index=True)
    actor_id = fields.IntField(null=True)
    actor = fields.CharField(max_length=80, default="")
    roles = fields.CharField(max_length=200, default="")
    action = fields.CharField(max_length=32, db_index=True)
    target = fields.CharField(max_length=100, default="", db_index=True)
    result = fields.CharField(max_length=16, default="ok")
    detail = fields.CharField(max_length=200, default="")
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_log"


class PrintJob(Model):
    """A batch print (a class's files, chosen students, or one form for a class) made in the background.
    The result belongs to the user who asked for it and is deleted when it expires."""

    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="print_jobs", on_delete=fields.RESTRICT)
    owner = fields.ForeignKeyField("models.User", related_name="print_jobs", null=True, on_delete=fields.RESTRICT)  # none: the console
    title = fields.CharField(max_length=200)
    form_id = fields.CharField(max_length=64, default="")  # one form only; "" = the whole files
    student_ids = fields.JSONField(default=list)
    bundle = fields.CharField(max_length=8, default="pdf")  # pdf (one file) | zip (a PDF per student)
    status = fields.CharField(max_length=16, default="queued")  # queued | running | done | failed | expired | withdrawn
    total = fields.IntField(default=0)
    done = fields.IntField(default=0)
    pages = fields.IntField(default=0)
    skipped = fields.IntField(default=0)  # students with nothing this user may print
    skipped_students = fields.JSONField(null=True)  # [{"id": student id, "why": sealed | transferred | destroyed | nothing | gone}]
    error = fields.CharField(max_length=200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    finished_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "print_job"


class Disposal(Model):
    """The decision of a 7.2 record (seal, destroy, transfer) on its way: applied, reviewed, approved
    (and carried out), returned or refused. The record holds the paper; this row holds who did each step."""

    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="disposals", on_delete=fields.RESTRICT)
    record = fields.OneToOneField("models.Record", related_name="disposal", on_delete=fields.RESTRICT)
    action = fields.CharField(max_length=12)  # seal | destroy | transfer
    state = fields.CharField(max_length=12, default="applied")  # applied | reviewed | returned | approved | refused
    applied_by = fields.ForeignKeyField("models.User", related_name="disposals_applied", on_delete=fields.RESTRICT)
    applied_at = fields.DatetimeField()
    reviewed_by = fields.ForeignKeyField("models.User", related_name="disposals_reviewed", null=True, on_delete=fields.RESTRICT)
    reviewed_at = fields.DatetimeField(null=True)
    approved_by = fields.ForeignKeyField("models.User", related_name="disposals_approved", null=True, on_delete=fields.RESTRICT)
    approved_at = fields.DatetimeField(null=True)
    outcome = fields.CharField(max_length=200, default="")  # what carrying it out did, in a sentence

    class Meta:
        table = "disposal"


class FileTombstone(Model):
    """What remains of a destroyed file: who decided, when, on what basis, and which kinds of records
    (counts by form) were erased. Never any content."""

    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="tombstones", on_delete=fields.RESTRICT)
    student = fields.ForeignKeyField("models.Student", related_name="tombstones", on_delete=fields.RESTRICT)
    disposal = fields.ForeignKeyField("models.Disposal", related_name="tombstones", on_delete=fields.RESTRICT)
    destroyed_at = fields.DatetimeField()
    destroyed_by = fields.ForeignKeyField("models.User", related_name="tombstones", on_delete=fields.RESTRICT)
    basis = fields.CharField(max_length=1000, default="")
    categories = fields.JSONField(default=list)  # [{"form_id", "title", "count"}]

    class Meta:
        table = "file_tombstone"


class FormVersion(Model):
    """One published definition of a form for a school: immutable once written. Records name the
    version they were made with, so an old record keeps rendering and printing as it was entered.

    `origin` tells where it came from: base (the definition shipped in form_defs/, as first served),
    upstream (a later shipped definition, taken over while the school had not changed the form),
    edit (the editor), import (a shared definition), api (a script), rollback (an old version again).
    `base_hash` names the shipped definition this version descends from, so an upgrade of
    xindang that changes it is noticed and never overwrites the school's own version."""

    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="form_versions", on_delete=fields.RESTRICT)
    form_id = fields.CharField(max_length=64)
    version = fields.IntField()
    schema = fields.JSONField()
    layout = fields.JSONField()
    origin = fields.CharField(max_length=16)
    base_hash = fields.CharField(max_length=64)
    note = fields.CharField(max_length=200, default="")
    critical = fields.IntField(default=0)  # critical changes confirmed when it was published
    published_by = fields.ForeignKeyField("models.User", related_name="form_versions", null=True, on_delete=fields.RESTRICT)
    published_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "form_version"
        unique_together = (("school", "form_id", "version"),)


class FormDraft(Model):
    """The editor's working copy of a form (one per school and form). `revision` is bumped on each
    save by a conditional UPDATE, so two admins editing at once never overwrite each other unseen."""

    id = fields.IntField(primary_key=True)
    school = fields.ForeignKeyField("models.School", related_name="form_drafts", on_delete=fields.RESTRICT)
    form_id = fields.CharField(max_length=64)
    schema = fields.JSONField()
    layout = fields.JSONField()
    based_on = fields.IntField(default=0)  # the published version it started from; 0 for a new form
    origin = fields.CharField(max_length=16, default="edit")  # what publishing it will be: edit | import | rollback | merge
    base_hash = fields.CharField(max_length=64, default="")  # a merge: the shipped definition it takes in ("" = as before)
    note = fields.CharField(max_length=200, default="")  # offered as the version's note (a rollback says which version)
    revision = fields.IntField(default=1)
    updated_by = fields.ForeignKeyField("models.User", related_name="form_drafts", null=True, on_delete=fields.RESTRICT)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "form_draft"
        unique_together = (("school", "form_id"),)
