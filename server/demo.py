"""The fictional demo school: classes, students and a few records made from the forms' examples.

Every name here is invented. Loading twice changes nothing.
"""

from __future__ import annotations

import copy
import secrets
import datetime as dt
import random

from server.context import GRADE_NAMES
from server.definitions import Definition
from server.i18n import local_today
from server.models import Record, School, SchoolClass, Student, User
from server.records import create_record
from server.registry import Registry
from server.validation import validate

DEMO_SCHOOL = {"code": "demo", "name": "示例市第一实验学校（九年一贯制）"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["子涵", "欣怡", "梓轩", "雨桐", "浩然", "一诺", "思远", "佳琪", "宇航", "诗涵", "俊熙", "若曦", "明哲", "可馨", "嘉怡", "天佑"]
DEMO_CLASSES = [(3, "三年级(1)班"), (5, "五年级(2)班"), (7, "七年级(1)班"), (8, "八年级(3)班")]
CLASS_SIZE = 45  # a school of real size: classes of up to 45 students in grades 1 to 9
GIVEN_FIRST = "子欣梓雨浩一思佳宇诗俊若明可嘉天晨语沐书奕铭雅博"
GIVEN_SECOND = "涵怡轩桐然诺远琪航熙曦哲馨佑阳萱辰瑶泽琳宁杰彤"


def school_classes(students: int) -> list[tuple[int, str, int]]:
    """(grade, name, size) of a demo school of this many students: the four demo classes when it is small,
    else enough classes of up to 45 in every grade (the demo classes among them, so each keeps its 班主任)."""
    if students <= len(DEMO_CLASSES) * CLASS_SIZE:
        size, extra = divmod(students, len(DEMO_CLASSES))
        return [(grade, name, size + (index < extra)) for index, (grade, name) in enumerate(DEMO_CLASSES)]
    per_grade = max(3, -(-students // (CLASS_SIZE * 9)))
    classes = [(grade, f"{GRADE_NAMES[grade]}({n})班") for grade in range(1, 10) for n in range(1, per_grade + 1)]
    size, extra = divmod(students, len(classes))
    return [(grade, name, size + (index < extra)) for index, (grade, name) in enumerate(classes)]


def school_year(today: dt.date | None = None) -> str:
    today = today or local_today()
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}-{start + 1}"


async def ensure_school(name: str | None = None, code: str = "main") -> School:
    school = await School.get_or_none(code=code)
    return school or await School.create(code=code, name=name or "我的学校")


async def load_demo(registry: Registry, admin: User, students: int = 48) -> School:
    """The demo school: 48 students in four classes, or (`students`, e.g. 2,000) a school of real size."""
    school = await School.get(id=admin.school_id)
    if await Student.filter(school=school).exists():
        return school
    rng = random.Random(20261129)
    year = school_year()
    number = 1
    large = students > len(DEMO_CLASSES) * CLASS_SIZE
    for grade, name, size in school_classes(students):
        klass = await SchoolClass.create(school=school, grade=grade, name=name, school_year=year)
        rows = []
        for _ in range(size):
            birth_year = local_today().year - grade - 6
            surname = rng.choice(SURNAMES)  # drawn in the same order as ever: the small demo keeps its names
            given = rng.choice(GIVEN_FIRST) + rng.choice(GIVEN_SECOND) if large else rng.choice(GIVEN)
            rows.append(Student(
                school=school, klass=klass, student_number=f"DEMO{number:05d}",
                name=surname + given, gender=rng.choice(["男", "女"]),
                birth_date=dt.date(birth_year, rng.randint(1, 12), rng.randint(1, 28)),
                enrolled_on=dt.date(birth_year + 6 + (0 if grade < 7 else 6), 9, 1)))
            number += 1
        await Student.bulk_create(rows)
    students = await Student.filter(school=school).order_by("id").prefetch_related("klass")
    for index, definition in enumerate(registry.forms.values()):
        meant_for = [s for s in students if not definition.grades or s.klass.grade in definition.grades] or students
        for offset, example in enumerate(sorted(definition.examples.values(), key=len)):
            leavers = await demo_leavers(definition, school, example)
            await create_demo_record(definition, school, admin, example, meant_for[(2 * index + offset) % len(meant_for)], leavers)
    return school


async def demo_leavers(definition: Definition, school: School, example: dict) -> list[Student] | None:
    """A form about students who left school (`x-students.left_school`, e.g. a 7.2 decision) is linked to the
    students its example lists, made as leavers with their class, leaving date and reason; never to a pupil
    still at school. None: the form takes students still at school."""
    table = ((definition.schema.get("x-disposal") or {}).get("students_table") or {})
    if not definition.students_rule.get("left_school") or not table:
        return None
    columns = {source: column for column, source in table["columns"].items()}
    found = []
    listed = [r for other in definition.examples.values() for r in other.get(table["field"]) or [] if r.get(columns.get("number", ""))]
    for row in example.get(table["field"]) or []:
        name, number = row.get(columns.get("name", ""), ""), row.get(columns.get("number", ""), "")
        if not number:  # a short example names a student another example describes in full: the same leaver
            row = next((r for r in listed if r.get(columns.get("name", "")) == name), row)
            number = row.get(columns.get("number", ""), "")
        student = await (Student.get_or_none(school=school, student_number=number) if number else
                         Student.filter(school=school, name=name, left_on__isnull=False).first())
        if student is None:
            left_on = dt.date.fromisoformat(row.get(columns.get("left_on", ""), "") or f"{local_today().year}-07-01")
            year = school_year(left_on)
            class_name = row.get(columns.get("class", ""), "")
            klass = None
            if class_name:
                grade = next((g for g, n in GRADE_NAMES.items() if class_name.startswith(n)), 9)
                klass = await SchoolClass.get_or_none(school=school, name=class_name, school_year=year) \
                    or await SchoolClass.create(school=school, grade=grade, name=class_name, school_year=year)
            student = await Student.create(school=school, klass=klass, name=name, gender="女" if len(found) % 2 else "男",
                                           student_number=number or f"DEMOL{await Student.filter(school=school).count() + 1:04d}",
                                           left_on=left_on, left_reason=row.get(columns.get("left_reason", ""), "") or "毕业")
        found.append(student)
    return found


async def create_demo_record(definition: Definition, school: School, user: User, data: dict, student: Student,
                             students: list[Student] | None = None) -> Record:
    """Saved the way a page or the API saves: validated, hidden answers dropped, scores computed."""
    data = copy.deepcopy(data)
    errors = validate(definition, data)
    if errors:
        raise ValueError(f"{definition.form_id}: the example does not validate: {errors}")
    subjects = (students if students is not None else [student]) if definition.subject in ("student", "students") else []
    return await create_record(definition, school, user, data, subjects)


DEMO_STAFF = [  # fictional staff, one per role; each demo class gets its own 班主任
    ("leader", "王校长", ["leader"]),
    ("deyu", "赵主任", ["moral_education"]),
    ("xinli", "李老师", ["psych_teacher"]),
    ("renke", "陈老师", ["subject_teacher"]),
    ("xiaoyi", "孙医生", ["school_doctor"]),
]


async def ensure_demo_users(admin: User, password_file) -> list[tuple[str, str, str]]:
    """One user per role with one shared demo password (kept in the data folder, printed by init)."""
    from server.access import role_names
    from server.auth import hash_password

    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9) + "\n", encoding="utf-8")
        password_file.chmod(0o600)
    password_hash = None
    by_name = {klass.name: klass for klass in await SchoolClass.filter(school_id=admin.school_id)}
    demo_names = [name for _grade, name in DEMO_CLASSES]
    # the four demo classes first (banzhuren1…4 as the README says), then every other class of a large demo
    classes = [by_name[name] for name in demo_names if name in by_name] + \
        sorted((k for k in by_name.values() if k.name not in demo_names), key=lambda k: (k.grade, k.name))
    staff = list(DEMO_STAFF) + [(f"banzhuren{n}", f"{klass.name}班主任", ["homeroom_teacher"]) for n, klass in enumerate(classes, 1)]
    names = role_names()
    listed = [(admin.username, admin.display_name, names["admin"])]
    for number, (username, display, roles) in enumerate(staff):
        user = await User.get_or_none(username=username)
        if user is None:
            password_hash = password_hash or hash_password(password_file.read_text().strip())
            user = await User.create(school_id=admin.school_id, username=username, display_name=display,
                                     password_hash=password_hash, roles=roles)
            if "homeroom_teacher" in roles:
                await user.classes.add(classes[number - len(DEMO_STAFF)])
            elif "subject_teacher" in roles:
                await user.classes.add(*classes[:2])
        listed.append((username, display, "、".join(names[r] for r in roles)))
    return listed
