"""The baseline for the throughput benchmark: the `registration` form written by hand.

A hand-written Litestar handler pair and Jinja2 template for the same 综合登记表 — the
same fields, a similar table layout, an input for every field — mounted in the SAME app
as the engine (`server.app.create_app`), so auth, session and CSRF middleware cost the same:

    GET  /bench/hand/new   the entry page
    POST /bench/hand       convert the posted strings by hand, validate with a prebuilt
                           jsonschema validator, store with server.records.create_record

`create_bench_app()` is a uvicorn factory (`uvicorn bench.handwritten:create_bench_app --factory`).
Nothing here is imported by the server.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, select_autoescape
from jsonschema import Draft202012Validator, FormatChecker
from litestar import Litestar, Request, Response, get, post
from litestar.response import Redirect
from referencing import Registry as RefRegistry

from server.models import Student
from server.records import create_record, student_choices, students_of
from server.settings import FORM_DEFS_DIR
from server.web import csrf_token, school_of

FORM_ID = "registration"
SCHEMA = json.loads((FORM_DEFS_DIR / FORM_ID / "schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker(), registry=RefRegistry())

HAND_TEMPLATE = r"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"historyCacheSize": 0, "refreshOnHistoryMiss": true, "responseHandling": [{"code": "204", "swap": false}, {"code": "[23]..", "swap": true}, {"code": "422", "swap": true}, {"code": "[45]..", "swap": false, "error": true}]}'>
<title>中小学生心理健康"一生一档"综合登记表 · 心档</title>
<link rel="stylesheet" href="/static/css/app.css">
<script src="/static/vendor/htmx.min.js" defer></script>
</head>
<body hx-headers='{"x-csrftoken": "{{ csrf }}"}'>
<header class="topbar">
  <a class="brand" href="/forms">心档</a>
  <nav><a href="/forms">表单</a></nav>
  <span class="user">{{ user.display_name }}</span>
  <form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf_token" value="{{ csrf }}"><button type="submit" class="link">退出</button></form>
</header>
<main class="container">
{%- macro err(name) %}{% if errors.get(name) %}<p class="error" id="err-{{ name|replace('.', '-') }}">{{ errors[name] }}</p>{% endif %}{% endmacro %}
{%- macro text(name, maxlength) %}<input type="text" id="f-{{ name|replace('.', '-') }}" name="{{ name }}" value="{{ v.get(name, '') }}" maxlength="{{ maxlength }}">{{ err(name) }}{% endmacro %}
{%- macro date(name) %}<input type="date" id="f-{{ name|replace('.', '-') }}" name="{{ name }}" value="{{ v.get(name, '') }}">{{ err(name) }}{% endmacro %}
{%- macro area(name, maxlength) %}<textarea id="f-{{ name|replace('.', '-') }}" name="{{ name }}" rows="3" maxlength="{{ maxlength }}">{{ v.get(name, '') }}</textarea>{{ err(name) }}{% endmacro %}
{%- macro radio(name, options) %}<span class="options" role="radiogroup">{% for value, label in options %}<label class="option"><input type="radio" name="{{ name }}" value="{{ value }}"{% if v.get(name) == value %} checked{% endif %}>{{ label }}</label>{% endfor %}</span>{{ err(name) }}{% endmacro %}
{%- macro yesno(name) %}{{ radio(name, [("true", "是"), ("false", "否")]) }}{% endmacro %}
{%- macro level(name) %}{{ radio(name, [("0", "常规"), ("1", "一般关注"), ("2", "重点关注"), ("3", "高危")]) }}{% endmacro %}
<form id="record-form" class="paper-screen" method="post" action="/bench/hand" hx-post="/bench/hand" hx-target="this" hx-swap="outerHTML" novalidate>
<input type="hidden" name="_csrf_token" value="{{ csrf }}">
<h1 class="form-title">中小学生心理健康"一生一档"综合登记表</h1>
{% if errors %}<div class="error-summary" role="alert">有 {{ errors|length }} 处需要修改后才能保存。</div>{% endif %}
<div class="student-pick">
<label for="f-_student">学生<span class="req">*</span></label>
<select id="f-_student" name="_student">
<option value="">请选择</option>
{% for s in students %}<option value="{{ s.id }}"{% if s.id == chosen %} selected{% endif %}>{{ s.klass }} {{ s.name }}（{{ s.number }}）</option>{% endfor %}
</select>{{ err("_student") }}
</div>
<div class="header-line"><span class="header-item"><span class="header-label">档案编号：</span><span class="blank"></span></span></div>

<div class="band">一、基本信息</div>
<table class="grid">
<colgroup><col style="width: 16.129%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"></colgroup>
<tbody>
<tr><th class="label">姓名</th><td class="context">{{ ctx.name }}</td><th class="label">性别</th><td class="context">{{ ctx.gender }}</td><th class="label">出生日期</th><td class="context">{{ ctx.birth_date }}</td></tr>
<tr><th class="label">学校</th><td class="context" colspan="3">{{ ctx.school }}</td><th class="label">学籍号</th><td class="context">{{ ctx.number }}</td></tr>
<tr><th class="label">班级</th><td class="context">{{ ctx.klass }}</td><th class="label">民族</th><td class="field">{{ text("basic.ethnicity", 20) }}</td><th class="label">入学时间</th><td class="field">{{ date("basic.enrolled_on") }}</td></tr>
<tr><th class="label">走读/住校</th><td class="field">{{ radio("basic.boarding", [("走读", "走读"), ("住校", "住校")]) }}</td><th class="label">独生子女</th><td class="field">{{ yesno("basic.only_child") }}</td><th class="label">班队干部</th><td class="field">{{ yesno("basic.class_cadre") }}</td></tr>
<tr><th class="label">担任职务</th><td class="field">{{ text("basic.cadre_post", 30) }}</td><th class="label">兴趣特长</th><td class="field" colspan="3">{{ text("basic.interests", 100) }}</td></tr>
<tr><th class="label">居住地</th><td class="field" colspan="5">{{ text("basic.residence_area", 50) }}<small class="help">只填到区县、街道（乡镇），不填小区和门牌号。</small></td></tr>
</tbody>
</table>

<div class="band">二、家庭情况</div>
<table class="grid">
<colgroup><col style="width: 16.129%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"></colgroup>
<tbody>
<tr><th class="label">家庭结构</th><td class="field" colspan="5">{{ radio("family.structure", [("双亲", "双亲"), ("单亲", "单亲"), ("重组", "重组"), ("隔代抚养", "隔代抚养"), ("寄养或其他监护", "寄养或其他监护")]) }}</td></tr>
<tr><th class="label">主要监护人及关系</th><td class="field" colspan="2">{{ text("family.guardian", 30) }}<small class="help">如：王丽（母亲）。</small></td><th class="label">监护人联系电话</th><td class="field" colspan="2">{{ text("family.guardian_phone", 20) }}</td></tr>
</tbody>
</table>
<div class="rows-block" id="rows-family-members">
<div class="rows-title">家庭成员</div>
<table class="rows">
<colgroup><col style="width: 11.88%"><col style="width: 15.84%"><col style="width: 7.92%"><col style="width: 14.85%"><col style="width: 17.82%"><col style="width: 14.85%"><col style="width: 21.78%"><col class="row-actions"></colgroup>
<thead><tr><th>称谓</th><th>姓名</th><th>年龄</th><th>文化程度</th><th>职业类别</th><th>是否同住</th><th>联系电话</th><th class="row-actions"></th></tr></thead>
<tbody>
{% for i in range(members) %}{% set p = "family.members." ~ i ~ "." %}
<tr><td>{{ text(p ~ "relation", 10) }}</td><td>{{ text(p ~ "name", 20) }}</td><td><input type="number" name="{{ p }}age" value="{{ v.get(p ~ 'age', '') }}" min="0" max="120" step="1">{{ err(p ~ "age") }}</td><td>{{ text(p ~ "education", 20) }}</td><td>{{ text(p ~ "occupation", 20) }}</td><td>{{ yesno(p ~ "lives_together") }}</td><td>{{ text(p ~ "phone", 20) }}</td>
<td class="row-actions"><button type="submit" class="link danger" name="_action" value="remove:family.members:{{ i }}" formnovalidate>删除</button></td></tr>
{% endfor %}
</tbody>
</table>
<button type="submit" class="secondary" name="_action" value="add:family.members" formnovalidate>添加一行</button>{{ err("family.members") }}
</div>
<table class="grid">
<colgroup><col style="width: 16.129%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"></colgroup>
<tbody>
<tr><th class="label">特殊情况</th><td class="field" colspan="5"><span class="options" role="group">{% for o in ["无", "留守儿童", "流动儿童", "父母离异", "丧亲", "家庭经济困难", "家庭成员重病或残疾", "家庭冲突或暴力", "其他"] %}<label class="option"><input type="checkbox" name="family.special_circumstances" value="{{ o }}"{% if o in special %} checked{% endif %}>{{ o }}</label>{% endfor %}</span>{{ err("family.special_circumstances") }}<small class="help">可多选；没有则选“无”。</small></td></tr>
<tr><th class="label">特殊情况说明</th><td class="field" colspan="5">{{ text("family.special_note", 100) }}<small class="help">选了“其他”或需要学校了解的情况，简要说明。</small></td></tr>
<tr><th class="label">教养方式</th><td class="field" colspan="5">{{ radio("family.parenting_style", [("民主", "民主"), ("权威", "权威"), ("溺爱", "溺爱"), ("放任", "放任"), ("专制", "专制"), ("不一致", "不一致")]) }}</td></tr>
<tr><th class="label">亲子关系</th><td class="field" colspan="5">{{ radio("family.parent_child", [("融洽", "融洽"), ("一般", "一般"), ("紧张", "紧张")]) }}</td></tr>
</tbody>
</table>
<div class="page-break"></div>

<div class="band">三、成长与健康史</div>
<table class="grid">
<colgroup><col style="width: 16.129%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"></colgroup>
<tbody>
<tr><th class="label">重大疾病/住院/手术</th><td class="field long" colspan="5">{{ area("health.major_illness", 1000) }}</td></tr>
<tr><th class="label">特异体质/过敏</th><td class="field" colspan="5">{{ text("health.allergies", 100) }}</td></tr>
<tr><th class="label">既往心理咨询或精神科就诊</th><td class="field" colspan="5">{{ radio("health.prior_help", [("无", "无"), ("有", "有")]) }}<small class="help">监护人自愿填写。</small></td></tr>
{% if v.get("health.prior_help") == "有" %}<tr><th class="label">说明</th><td class="field long" colspan="5">{{ area("health.prior_help_note", 1000) }}<small class="help">大致时间、机构类型和目前情况；不必填写诊断名称。</small></td></tr>{% endif %}
<tr><th class="label">家族精神疾病史</th><td class="field" colspan="5">{{ radio("health.family_history", [("无", "无"), ("有", "有"), ("不愿告知", "不愿告知")]) }}<small class="help">选填。</small></td></tr>
</tbody>
</table>
<div class="rows-block" id="rows-health-life_events">
<div class="rows-title">重大生活事件</div>
<table class="rows">
<colgroup><col style="width: 16.667%"><col style="width: 41.667%"><col style="width: 41.667%"><col class="row-actions"></colgroup>
<thead><tr><th>时间</th><th>事件</th><th>影响/当时处理</th><th class="row-actions"></th></tr></thead>
<tbody>
{% for i in range(events) %}{% set p = "health.life_events." ~ i ~ "." %}
<tr><td>{{ text(p ~ "time", 20) }}</td><td>{{ text(p ~ "event", 100) }}</td><td>{{ text(p ~ "impact", 100) }}</td>
<td class="row-actions"><button type="submit" class="link danger" name="_action" value="remove:health.life_events:{{ i }}" formnovalidate>删除</button></td></tr>
{% endfor %}
</tbody>
</table>
<button type="submit" class="secondary" name="_action" value="add:health.life_events" formnovalidate>添加一行</button>
</div>

<div class="band">四、学习与个性</div>
<table class="grid">
<colgroup><col style="width: 16.129%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"><col style="width: 12.903%"><col style="width: 19.355%"></colgroup>
<tbody>
<tr><th class="label">学业总体</th><td class="field" colspan="2">{{ radio("learning.overall", [("良好", "良好"), ("一般", "一般"), ("有困难", "有困难")]) }}<small class="help">只记总体情况，不记分数和排名。</small></td><th class="label">同伴关系</th><td class="field" colspan="2">{{ radio("learning.peer", [("良好", "良好"), ("一般", "一般"), ("较差", "较差")]) }}</td></tr>
<tr><th class="label">性格特点</th><td class="field long" colspan="5">{{ area("learning.personality", 1000) }}<small class="help">用具体行为描述，不贴标签。</small></td></tr>
</tbody>
</table>
<div class="page-break"></div>

<div class="band">五、年度测评摘要</div>
<div class="rows-block" id="rows-annual_screenings">
<table class="rows">
<colgroup><col style="width: 11.94%"><col style="width: 13.43%"><col style="width: 13.43%"><col style="width: 17.91%"><col style="width: 10.45%"><col style="width: 22.39%"><col style="width: 10.45%"><col class="row-actions"></colgroup>
<thead><tr><th>学年</th><th>测评日期</th><th>工具</th><th>结果等级</th><th>是否复核</th><th>复核结论</th><th>测评教师</th><th class="row-actions"></th></tr></thead>
<tbody>
{% for i in range(screenings) %}{% set p = "annual_screenings." ~ i ~ "." %}
<tr><td>{{ text(p ~ "school_year", 9) }}</td><td>{{ date(p ~ "screened_on") }}</td><td>{{ text(p ~ "tool", 30) }}</td><td>{{ radio(p ~ "result", [("未见异常", "未见异常"), ("需关注", "需关注"), ("需复核", "需复核")]) }}</td><td>{{ yesno(p ~ "rechecked") }}</td><td>{{ level(p ~ "recheck_conclusion") }}</td><td>{{ text(p ~ "assessor", 20) }}</td>
<td class="row-actions"><button type="submit" class="link danger" name="_action" value="remove:annual_screenings:{{ i }}" formnovalidate>删除</button></td></tr>
{% endfor %}
</tbody>
</table>
<button type="submit" class="secondary" name="_action" value="add:annual_screenings" formnovalidate>添加一行</button>
</div>

<div class="band">六、关注与服务摘要</div>
<div class="rows-block" id="rows-attention_summary">
<table class="rows">
<colgroup><col style="width: 13.85%"><col style="width: 24.62%"><col style="width: 30.77%"><col style="width: 20%"><col style="width: 10.77%"><col class="row-actions"></colgroup>
<thead><tr><th>日期</th><th>事项类型</th><th>摘要（非诊断性描述）</th><th>当前关注等级</th><th>责任人</th><th class="row-actions"></th></tr></thead>
<tbody>
{% for i in range(attention) %}{% set p = "attention_summary." ~ i ~ "." %}
<tr><td>{{ date(p ~ "event_date") }}</td><td>{{ radio(p ~ "kind", [("辅导", "辅导"), ("团辅", "团辅"), ("预警", "预警"), ("转介", "转介"), ("休复学", "休复学"), ("家访", "家访")]) }}</td><td>{{ text(p ~ "summary", 100) }}</td><td>{{ level(p ~ "level") }}</td><td>{{ text(p ~ "owner", 20) }}</td>
<td class="row-actions"><button type="submit" class="link danger" name="_action" value="remove:attention_summary:{{ i }}" formnovalidate>删除</button></td></tr>
{% endfor %}
</tbody>
</table>
<button type="submit" class="secondary" name="_action" value="add:attention_summary" formnovalidate>添加一行</button>
</div>

<div class="band">七、评语</div>
<table class="grid">
<colgroup><col style="width: 16.667%"><col style="width: 83.333%"></colgroup>
<tbody>
<tr><th class="label">班主任年度观察</th><td class="field long">{{ area("comments.head_teacher", 2000) }}<small class="help">写看到的具体表现和进步，不贴标签。</small></td></tr>
<tr><th class="label">心理教师意见</th><td class="field long">{{ area("comments.psych_teacher", 2000) }}</td></tr>
</tbody>
</table>

<div class="band">八、确认</div>
<div class="signature"><span class="signature-label">家长确认以上所填属实　签名：</span><span class="signature-name">{{ text("parent_signer", 20) }}</span><span class="signature-date-label">日期：</span><span class="signature-date">{{ date("parent_signed_on") }}</span></div>
<div class="signature"><span class="signature-label">班主任：</span><span class="signature-name">{{ text("head_teacher_signer", 20) }}</span><span class="signature-date-label">日期：</span><span class="signature-date">{{ date("head_teacher_signed_on") }}</span></div>
<div class="signature"><span class="signature-label">心理教师：</span><span class="signature-name">{{ text("psych_teacher_signer", 20) }}</span><span class="signature-date-label">日期：</span><span class="signature-date">{{ date("psych_teacher_signed_on") }}</span></div>
<table class="grid">
<colgroup><col style="width: 16.667%"><col style="width: 83.333%"></colgroup>
<tbody><tr><th class="label">建档日期</th><td class="field">{{ date("established_on") }}</td></tr></tbody>
</table>
<div class="form-actions">
<button type="submit" class="btn" name="_action" value="save">保存</button>
<a href="/forms/registration">取消</a>
</div>
</form>
</main>
</body>
</html>
"""

ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True), auto_reload=False)
TEMPLATE = ENV.from_string(HAND_TEMPLATE)


# --- posted strings → typed data, by hand -------------------------------------------

def _text(form: Any, key: str) -> str | None:
    value = form.get(key, "")
    return value.replace("\r\n", "\n") if isinstance(value, str) and value.strip() else None


def _bool(form: Any, key: str) -> bool | None:
    value = form.get(key, "")
    return {"true": True, "false": False}.get(value)


def _int(form: Any, key: str) -> int | str | None:
    value = form.get(key, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _pick(**values: Any) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _rows(form: Any, prefix: str) -> list[int]:
    return sorted({int(k[len(prefix):].split(".", 1)[0]) for k in form.keys()
                   if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()})


def parse_registration(form: Any) -> dict:
    t = lambda key: _text(form, key)  # noqa: E731
    b = lambda key: _bool(form, key)  # noqa: E731
    members = [_pick(relation=t(f"family.members.{i}.relation"), name=t(f"family.members.{i}.name"),
                     age=_int(form, f"family.members.{i}.age"), education=t(f"family.members.{i}.education"),
                     occupation=t(f"family.members.{i}.occupation"), lives_together=b(f"family.members.{i}.lives_together"),
                     phone=t(f"family.members.{i}.phone")) for i in _rows(form, "family.members.")]
    events = [_pick(time=t(f"health.life_events.{i}.time"), event=t(f"health.life_events.{i}.event"),
                    impact=t(f"health.life_events.{i}.impact")) for i in _rows(form, "health.life_events.")]
    screenings = [_pick(school_year=t(f"annual_screenings.{i}.school_year"), screened_on=t(f"annual_screenings.{i}.screened_on"),
                        tool=t(f"annual_screenings.{i}.tool"), result=t(f"annual_screenings.{i}.result"),
                        rechecked=b(f"annual_screenings.{i}.rechecked"),
                        recheck_conclusion=_int(form, f"annual_screenings.{i}.recheck_conclusion"),
                        assessor=t(f"annual_screenings.{i}.assessor")) for i in _rows(form, "annual_screenings.")]
    attention = [_pick(event_date=t(f"attention_summary.{i}.event_date"), kind=t(f"attention_summary.{i}.kind"),
                       summary=t(f"attention_summary.{i}.summary"), level=_int(form, f"attention_summary.{i}.level"),
                       owner=t(f"attention_summary.{i}.owner")) for i in _rows(form, "attention_summary.")]
    special = [v for v in form.getall("family.special_circumstances", []) if v]
    data = _pick(
        basic=_pick(ethnicity=t("basic.ethnicity"), enrolled_on=t("basic.enrolled_on"), boarding=t("basic.boarding"),
                    only_child=b("basic.only_child"), class_cadre=b("basic.class_cadre"), cadre_post=t("basic.cadre_post"),
                    interests=t("basic.interests"), residence_area=t("basic.residence_area")) or None,
        family=_pick(structure=t("family.structure"), guardian=t("family.guardian"), guardian_phone=t("family.guardian_phone"),
                     members=[m for m in members if m] or None, special_circumstances=special or None,
                     special_note=t("family.special_note"), parenting_style=t("family.parenting_style"),
                     parent_child=t("family.parent_child")) or None,
        health=_pick(major_illness=t("health.major_illness"), allergies=t("health.allergies"), prior_help=t("health.prior_help"),
                     prior_help_note=t("health.prior_help_note") if t("health.prior_help") == "有" else None,
                     family_history=t("health.family_history"), life_events=[e for e in events if e] or None) or None,
        learning=_pick(overall=t("learning.overall"), personality=t("learning.personality"), peer=t("learning.peer")) or None,
        annual_screenings=[s for s in screenings if s] or None,
        attention_summary=[a for a in attention if a] or None,
        comments=_pick(head_teacher=t("comments.head_teacher"), psych_teacher=t("comments.psych_teacher")) or None,
        parent_signer=t("parent_signer"), parent_signed_on=t("parent_signed_on"),
        head_teacher_signer=t("head_teacher_signer"), head_teacher_signed_on=t("head_teacher_signed_on"),
        psych_teacher_signer=t("psych_teacher_signer"), psych_teacher_signed_on=t("psych_teacher_signed_on"),
        established_on=t("established_on"),
    )
    return data


MESSAGES = {"required": "此项为必填项。", "format": "请输入有效的日期（年-月-日）。", "pattern": "格式不正确。",
            "maxLength": "内容太长。", "enum": "请从选项中选择。", "oneOf": "请从选项中选择。", "type": "类型不正确。",
            "minimum": "数值太小。", "maximum": "数值太大。"}


def check_registration(data: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in VALIDATOR.iter_errors(data):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            for name in error.validator_value:
                if name not in error.instance:
                    errors.setdefault(".".join([*path, name]), MESSAGES["required"])
        elif error.validator not in ("if", "then"):
            errors.setdefault(".".join(path), MESSAGES.get(str(error.validator), "填写有误。"))
    return errors


def _form_values(data: dict, prefix: str = "") -> dict[str, str]:
    """data → {"basic.ethnicity": "汉族", "family.members.0.age": "40", …} for the inputs."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = prefix + key
        if isinstance(value, dict):
            out.update(_form_values(value, name + "."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    out.update(_form_values(item, f"{name}.{i}."))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


async def _hand_page(request: Request, data: dict, errors: dict[str, str], students: list[Student], status_code: int = 200) -> Response:
    school = await school_of(request.user)
    choices = await student_choices(school)  # the same picker query as the engine's
    student = students[0] if students else None
    ctx = {"school": school.name, "name": student.name if student else "", "gender": student.gender if student else "",
           "birth_date": str(student.birth_date or "") if student else "", "number": student.student_number if student else "",
           "klass": student.klass.name if student and student.klass else ""}
    family, health = data.get("family", {}), data.get("health", {})
    html = TEMPLATE.render(
        csrf=csrf_token(request), user=request.user, errors=errors, v=_form_values(data), ctx=ctx, students=choices,
        chosen=student.id if student else None, special=family.get("special_circumstances", []),
        members=max(2, len(family.get("members", []))), events=max(1, len(health.get("life_events", []))),
        screenings=max(1, len(data.get("annual_screenings", []))), attention=max(1, len(data.get("attention_summary", []))))
    return Response(html, status_code=status_code, media_type="text/html")


@get("/bench/hand/new", include_in_schema=False)
async def hand_new(request: Request) -> Response:
    return await _hand_page(request, {}, {}, [])


@post("/bench/hand", status_code=200, include_in_schema=False)
async def hand_create(request: Request) -> Response:
    school = await school_of(request.user)
    form = await request.form()
    chosen = form.get("_student", "")
    students = await students_of(school, [chosen]) if chosen else []
    data = parse_registration(form)
    errors = check_registration(data)
    if not students:
        errors["_student"] = "请选择这份记录所属的学生。"
    if errors:
        return await _hand_page(request, data, errors, students or [], status_code=422)
    definition = request.app.state.registry.get(FORM_ID)  # only for form_id and version on the stored row
    record = await create_record(definition, school, request.user, data, students)
    return Redirect(f"/records/{record.id}?saved=1", status_code=303)


def add_hand_routes(app: Litestar) -> Litestar:
    app.register(hand_new)
    app.register(hand_create)
    return app


def create_bench_app() -> Litestar:
    """The engine app plus the hand-written routes (uvicorn factory)."""
    from server.app import create_app

    return add_hand_routes(create_app())
