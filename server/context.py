"""Context values: what a layout shows about a record's school, student and the record itself
(`@student.name`, `@record.number`, …) that the record's data does not store."""

from __future__ import annotations


from renderers.environment import fmt_date
from server.i18n import local_today, to_local
from server.models import Record, School, SchoolClass, Student
from server.records import record_number

GRADE_NAMES = {1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级", 7: "七年级", 8: "八年级", 9: "九年级"}


def subject_context(school: School, students: list[Student], record: Record | None = None,
                    klass: SchoolClass | None = None) -> dict[str, str]:
    """Context values (`@student.name`, …) that layouts show but records do not store. `klass`: the class a
    record about a class is about (`@class.name`); else the record's own, when it was fetched with it."""
    context = {"@school.name": school.name, "@today": fmt_date(local_today())}
    if klass is None and record is not None and record.klass_id is not None:
        klass = getattr(record, "_klass", None)  # set when fetched with the record (select/prefetch_related)
    if isinstance(klass, SchoolClass):
        context.update({"@class.name": klass.name, "@class.grade": GRADE_NAMES.get(klass.grade, "")})
    if students:
        student = students[0]
        klass = getattr(student, "klass", None)
        context.update({
            "@student.name": student.name if len(students) == 1 else "、".join(s.name for s in students),
            "@student.gender": student.gender,
            "@student.number": student.student_number,
            "@student.birth_date": fmt_date(student.birth_date),
            "@student.class": klass.name if klass else "",
            "@student.grade": GRADE_NAMES.get(klass.grade, "") if klass else "",
        })
    if record is not None:
        context["@record.number"] = record_number(record)
        context["@record.created_on"] = fmt_date(to_local(record.created_at).date()) if record.created_at else ""
    return context
