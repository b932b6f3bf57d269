"""The roster import: students from an XLSX or CSV file as schools export them from their 学籍 systems.

Reading is separate from writing: `read_table` turns a file into rows (refusing zip bombs, entity
tricks and files that are not what they claim), `plan_import` checks every row and says what would
be created or updated, and `apply_plan` writes the plan in one transaction. The preview page and
`xindang import-roster` show the plan before anything is written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from server import audit
from server.i18n import gettext as _
from server.models import School, SchoolClass, Student
from server.validation import CONTROL_CHARS

MAX_FILE_BYTES = 10_000_000
MAX_ROWS = 20_000
MAX_COLUMNS = 60
MAX_ZIP_ENTRIES = 200
MAX_UNCOMPRESSED = 80_000_000  # an honest workbook of 20,000 rows stays far below this
MAX_RATIO = 150  # uncompressed / compressed per entry: XML compresses well, but not this well

# header (as 学籍 systems write it) → the roster field it fills
HEADERS: dict[str, str] = {
    "学籍号": "student_number", "全国学籍号": "student_number", "学籍辅号": "student_number", "学号": "student_number",
    "姓名": "name", "学生姓名": "name",
    "性别": "gender",
    "出生日期": "birth_date", "出生年月": "birth_date",
    "年级": "grade",
    "班级": "class_name", "班级名称": "class_name", "班别": "class_name",
    "入学日期": "enrolled_on", "入学年月": "enrolled_on",
    "监护人": "guardian_name", "监护人姓名": "guardian_name", "家长姓名": "guardian_name",
    "联系电话": "guardian_phone", "监护人电话": "guardian_phone", "家长电话": "guardian_phone", "手机号码": "guardian_phone",
}
REQUIRED = ("student_number", "name", "gender", "grade", "class_name")
FIELDS = ("student_number", "name", "gender", "birth_date", "grade", "class_name", "enrolled_on", "guardian_name", "guardian_phone")


def field_names() -> dict[str, str]:
    return {"student_number": _("Student number (学籍号)"), "name": _("Name"), "gender": _("Gender"),
            "birth_date": _("Birth date"), "grade": _("Grade"), "class_name": _("Class"), "enrolled_on": _("Enrolment date"),
            "guardian_name": _("Guardian"), "guardian_phone": _("Guardian's phone")}


class RosterFileError(ValueError):
    """The file cannot be read as a roster (the message is for the person who chose it)."""


# --- reading -------------------------------------------------------------------------------

def read_table(content: bytes, filename: str = "") -> list[list[str]]:
    """The file's rows as text cells; XLSX by its magic bytes (never its name), CSV in UTF-8 or GBK."""
    if len(content) > MAX_FILE_BYTES:
        raise RosterFileError(_("The file is larger than %(mb)s MB.", mb=MAX_FILE_BYTES // 1_000_000))
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content)
    if filename.lower().endswith((".xlsx", ".xlsm")) or content.startswith((b"\xd0\xcf\x11\xe0", b"%PDF")):
        raise RosterFileError(_("The file is not a real Excel (.xlsx) or CSV file. Save it again as .xlsx or CSV."))
    return _read_csv(content)


def _read_csv(content: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # gb18030 reads every GBK file
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterFileError(_("The CSV file is neither UTF-8 nor GBK text."))
    if "\x00" in text:
        raise RosterFileError(_("The file is not a real Excel (.xlsx) or CSV file. Save it again as .xlsx or CSV."))
    rows = []
    for row in csv.reader(io.StringIO(text)):
        rows.append([cell.strip() for cell in row[:MAX_COLUMNS]])
        if len(rows) > MAX_ROWS + 1:
            raise RosterFileError(_("The file has more than %(count)s rows.", count=MAX_ROWS))
    return rows


def _read_xlsx(content: bytes) -> list[list[str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise RosterFileError(_("The Excel file is damaged.")) from error
    if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNCOMPRESSED or \
            any(e.file_size > MAX_RATIO * max(e.compress_size, 1) + 1_000_000 for e in entries):
        raise RosterFileError(_("The Excel file unpacks to far more data than a roster holds; it was refused."))
    from openpyxl import load_workbook  # uses defusedxml when installed: no entity expansion

    rows: list[list[str]] = []
    try:  # read-only workbooks parse lazily: a broken or hostile sheet fails while its rows are read
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)  # formulas are never evaluated
        try:
            for values in workbook.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS):
                rows.append([_cell_text(v) for v in values])
                if len(rows) > MAX_ROWS + 1:
                    raise RosterFileError(_("The file has more than %(count)s rows.", count=MAX_ROWS))
        finally:
            workbook.close()
    except RosterFileError:
        raise
    except Exception as error:  # openpyxl and defusedxml raise many kinds for a broken or hostile workbook
        raise RosterFileError(_("The Excel file is damaged.")) from error
    return rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 学籍号 typed as a number
    return str(value).strip()


# --- checking ------------------------------------------------------------------------------

@dataclass
class RowProblem:
    row: int  # as the spreadsheet numbers it (the header is row 1)
    column: str
    message: str


@dataclass
class PlannedRow:
    row: int
    values: dict[str, Any]
    action: str  # create | update | unchanged
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    student_id: int | None = None


@dataclass
class ImportPlan:
    columns: dict[int, str]  # file column → roster field
    headers: list[str]
    unmapped: list[str]  # headers the importer does not know (offered in the column-mapping step)
    rows: list[PlannedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    new_classes: list[tuple[int, str]] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.missing_columns

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


GRADE_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
               "十一": 11, "十二": 12, "初一": 7, "初二": 8, "初三": 9, "高一": 10, "高二": 11, "高三": 12}
GRADE_NAMES = {n: f"{w}年级" for w, n in GRADE_WORDS.items() if len(w) == 1 or w in ("十一", "十二")}


def parse_grade(text: str) -> int | None:
    text = text.strip().removesuffix("年级").strip()
    if text.isascii() and text.isdigit():
        number = int(text)
    else:
        number = GRADE_WORDS.get(text)
    return number if number and 1 <= number <= 12 else None


def class_label(grade: int, text: str) -> str:
    """A class as the school names it: 七年级(1)班, whether the file says 1, 1班, (1)班, 七年级1班 or 701."""
    text = text.strip().replace("（", "(").replace("）", ")")
    digits = re.fullmatch(r"\(?(\d{1,2})\)?班?", text)
    if digits is None and re.fullmatch(rf"{grade}\d{{2}}", text):  # 701 = grade 7, class 1
        digits = re.fullmatch(r"\d(\d{2})", text)
    if digits is None:
        spelled = re.fullmatch(r"(.+?年级)\(?(\d{1,2})\)?班?", text)
        if spelled and parse_grade(spelled.group(1)) == grade:
            return f"{GRADE_NAMES[grade]}({int(spelled.group(2))})班"
        return text
    return f"{GRADE_NAMES[grade]}({int(digits.group(1))})班"


def parse_date(text: str) -> dt.date | None:
    text = text.strip()
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?月?", text) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if not match:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3) or 1))
    except ValueError:
        return None


GENDERS = {"男": "男", "女": "女", "男性": "男", "女性": "女", "1": "男", "2": "女"}  # 1/2: the national code GB/T 2261.1


def school_year_of(day: dt.date) -> str:
    """A school year begins in September: 2026-09-01 … 2027-08-31 is 2026-2027."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{start + 1}"


def map_columns(headers: list[str], mapping: dict[str, str] | None = None) -> tuple[dict[int, str], list[str]]:
    """File columns → roster fields, from the known headers and the person's own choices for the others."""
    columns: dict[int, str] = {}
    unmapped = []
    for index, header in enumerate(headers):
        name = re.sub(r"\s+", "", header)
        target = (mapping or {}).get(header) or HEADERS.get(name)
        if target in FIELDS and target not in columns.values():
            columns[index] = target
        elif header and target != "ignore":
            unmapped.append(header)
    return columns, unmapped


async def plan_import(school: School, table: list[list[str]], *, school_year: str, create_classes: bool = False,
                      mapping: dict[str, str] | None = None) -> ImportPlan:
    """What the import would do, row by row, and every problem; nothing is written."""
    if not table or not any(table[0]):
        raise RosterFileError(_("The file is empty."))
    headers = [h.strip() for h in table[0]]
    columns, unmapped = map_columns(headers, mapping)
    plan = ImportPlan(columns=columns, headers=headers, unmapped=unmapped)
    names = field_names()
    plan.missing_columns = [names[f] for f in REQUIRED if f not in columns.values()]
    if plan.missing_columns:
        return plan
    classes = {(c.grade, c.name): c for c in await SchoolClass.filter(school=school, school_year=school_year)}
    existing = {s.student_number: s for s in await Student.filter(school=school).select_related("klass")}
    seen: dict[str, int] = {}
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        raw = {target: (cells[index] if index < len(cells) else "").strip() for index, target in columns.items()}
        values, problems = _check_row(number, raw, names)
        plan.problems += problems
        if problems:
            continue
        key = values["student_number"]
        if key in seen:
            plan.problems.append(RowProblem(number, names["student_number"],
                                            _("The student number %(number)s is also on row %(row)s.", number=key, row=seen[key])))
            continue
        seen[key] = number
        class_key = (values["grade"], values["class_name"])
        if class_key not in classes:
            if not create_classes:
                plan.problems.append(RowProblem(number, names["class_name"], _("There is no class %(name)s in %(year)s.",
                                                                              name=values["class_name"], year=school_year)))
                continue
            if class_key not in plan.new_classes:
                plan.new_classes.append(class_key)
        plan.rows.append(_planned(number, values, existing.get(key)))
    return plan


def _check_row(number: int, raw: dict[str, str], names: dict[str, str]) -> tuple[dict[str, Any], list[RowProblem]]:
    problems = []

    def problem(name: str, message: str) -> None:
        problems.append(RowProblem(number, names[name], message))

    for name, text in raw.items():
        if CONTROL_CHARS.search(text):
            problem(name, _("This cell contains invisible control characters."))
        elif len(text) > 100:
            problem(name, _("This cell is longer than %(count)s characters.", count=100))
    if problems:
        return {}, problems
    values: dict[str, Any] = {}
    for name in REQUIRED:
        if not raw.get(name):
            problem(name, _("This cell is empty."))
    number_text = raw.get("student_number", "")
    if number_text and not re.fullmatch(r"[A-Za-z0-9]{1,40}", number_text):
        problem("student_number", _("A student number has only letters and digits (now %(value)s).", value=number_text))
    values["student_number"] = number_text.upper()
    values["name"] = raw.get("name", "")
    gender = GENDERS.get(raw.get("gender", ""))
    if raw.get("gender") and gender is None:
        problem("gender", _("Gender must be 男 or 女 (now %(value)s).", value=raw["gender"]))
    values["gender"] = gender
    grade = parse_grade(raw.get("grade", ""))
    if raw.get("grade") and grade is None:
        problem("grade", _("Not a grade from 1 to 12: %(value)s", value=raw["grade"]))
    values["grade"] = grade
    values["class_name"] = class_label(grade, raw.get("class_name", "")) if grade else raw.get("class_name", "")
    for name in ("birth_date", "enrolled_on"):
        text = raw.get(name, "")
        day = parse_date(text) if text else None
        if text and day is None:
            problem(name, _("Not a date: %(value)s (write it as 2014-09-01).", value=text))
        values[name] = day
    phone = raw.get("guardian_phone", "")
    if phone and not re.fullmatch(r"[0-9+\- ]{5,20}", phone):
        problem("guardian_phone", _("Not a phone number: %(value)s", value=phone))
    values["guardian_name"], values["guardian_phone"] = raw.get("guardian_name", ""), phone
    return values, problems


STUDENT_FIELDS = ("name", "gender", "birth_date", "enrolled_on", "guardian_name", "guardian_phone")


def _planned(number: int, values: dict[str, Any], student: Student | None) -> PlannedRow:
    if student is None:
        return PlannedRow(number, values, "create")
    changes = {name: (getattr(student, name), values[name]) for name in STUDENT_FIELDS
               if values[name] not in (None, "") and getattr(student, name) != values[name]}
    current_class = (student.klass.grade, student.klass.name) if student.klass else None
    if current_class != (values["grade"], values["class_name"]):
        changes["class_name"] = (current_class[1] if current_class else "", values["class_name"])
    return PlannedRow(number, values, "update" if changes else "unchanged", changes, student.id)


# --- writing -------------------------------------------------------------------------------

def _file_kind(file_name: str) -> str:
    """What the audit keeps of an imported file: its kind, never its name (a name may be a student's)."""
    suffix = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return suffix if suffix in ("xlsx", "xlsm", "csv", "txt") else "file"


async def apply_plan(school: School, plan: ImportPlan, *, school_year: str, user: Any = None, scope: dict | None = None,
                     source: str = "") -> dict[str, int]:
    """Write a checked plan in one transaction: all of it or nothing."""
    if not plan.ok:
        raise RosterFileError(_("The file has problems; nothing was imported."))
    async with audit.transaction() as log:
        classes = {(c.grade, c.name): c for c in await SchoolClass.filter(school=school, school_year=school_year)}
        for grade, name in plan.new_classes:
            if (grade, name) not in classes:
                classes[(grade, name)] = await SchoolClass.create(school=school, grade=grade, name=name, school_year=school_year)
        new = [Student(school=school, klass=classes[(r.values["grade"], r.values["class_name"])],
                       student_number=r.values["student_number"], **{f: r.values[f] or _blank(f) for f in STUDENT_FIELDS})
               for r in plan.rows if r.action == "create"]
        await Student.bulk_create(new, batch_size=500)
        updated = [r for r in plan.rows if r.action == "update"]
        students = {s.id: s for s in await Student.filter(id__in=[r.student_id for r in updated])}
        for row in updated:
            student = students[row.student_id]
            for name in STUDENT_FIELDS:
                if row.values[name] not in (None, ""):
                    setattr(student, name, row.values[name])
            student.klass = classes[(row.values["grade"], row.values["class_name"])]
        if students:
            await Student.bulk_update(list(students.values()), fields=[*STUDENT_FIELDS, "klass_id"], batch_size=500)
        counts = {"created": len(new), "updated": len(updated), "unchanged": plan.count("unchanged"), "classes": len(plan.new_classes)}
        await log.append("import", "roster", user=user, actor_name="" if user else "cli", school_id=school.id, scope=scope,
                         detail=f"{_file_kind(source)} created={counts['created']} updated={counts['updated']} classes={counts['classes']}")
    return counts


def _blank(name: str) -> Any:
    return None if name in ("birth_date", "enrolled_on") else ""


# --- a new school year: every class moves up a grade, the top grade leaves ----------------------

@dataclass
class Promotion:
    from_year: str
    to_year: str
    graduating_grade: int
    left_on: dt.date
    moves: list[tuple[SchoolClass, int, str, int]] = field(default_factory=list)  # (class, new grade, new name, students)
    graduates: list[tuple[SchoolClass, int]] = field(default_factory=list)  # (class, students who leave 毕业)


def next_year(year: str) -> str:
    start = int(year[:4]) + 1
    return f"{start}-{start + 1}"


def promoted_name(klass: SchoolClass) -> str:
    """七年级(1)班 → 八年级(1)班; a name without a class number keeps its name in the new year."""
    number = re.search(r"[(（](\d{1,2})[)）]", klass.name)
    if number is None or klass.grade + 1 not in GRADE_NAMES:
        return klass.name
    return f"{GRADE_NAMES[klass.grade + 1]}({int(number.group(1))})班"


async def plan_promotion(school: School, from_year: str, graduating_grade: int, left_on: dt.date) -> Promotion:
    """What moving up a year would do: nothing is written."""
    promotion = Promotion(from_year, next_year(from_year), graduating_grade, left_on)
    for klass in await SchoolClass.filter(school=school, school_year=from_year).order_by("grade", "name"):
        count = await Student.filter(klass=klass, left_on__isnull=True).count()
        if klass.grade >= graduating_grade:
            promotion.graduates.append((klass, count))
        else:
            promotion.moves.append((klass, klass.grade + 1, promoted_name(klass), count))
    return promotion


async def apply_promotion(school: School, promotion: Promotion, *, user: Any = None, scope: dict | None = None) -> dict[str, int]:
    """Classes of the new year (an existing one is reused), students moved, the top grade marked 毕业; one transaction."""
    moved = graduated = created = 0
    async with audit.transaction() as log:
        for klass, grade, name, _count in promotion.moves:
            target, made = await SchoolClass.get_or_create(school=school, school_year=promotion.to_year, name=name,
                                                          defaults={"grade": grade})
            created += made
            moved += await Student.filter(klass=klass, left_on__isnull=True).update(klass_id=target.id)
        for klass, _count in promotion.graduates:
            graduated += await Student.filter(klass=klass, left_on__isnull=True).update(left_on=promotion.left_on, left_reason="毕业")
        await log.append("roster", "promotion", user=user, actor_name="" if user else "cli", school_id=school.id, scope=scope,
                         detail=f"{promotion.from_year}->{promotion.to_year} moved={moved} graduated={graduated} classes={created}")
    return {"moved": moved, "graduated": graduated, "classes": created}
