"""Schemathesis over the JSON API, in-process (F12): every /api/ operation of the app's own OpenAPI (/schema) is called
with generated ids, queries and JSON bodies under a 心理教师's bearer token, and must never answer 500.

The app's OpenAPI says nothing of the bodies (the handlers read them raw), so the test adds what the API reads
(`students`, `version`, `data` under every form's answer keys). Random ids only ever meet a 404, so each operation
also runs with its ids drawn from real rows (and a few edge values)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extras (pip install -e '.[test]')")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance  # noqa: E402
from schemathesis.errors import UnsupportedSchema  # noqa: E402

from _formdata import FORMS, definition, example  # noqa: E402
from conftest import PASSWORD, light_password_hash  # noqa: E402
from server.validation import CONTROL_CHARS  # noqa: E402

MAX_EXAMPLES = 25  # per operation, id source and generation mode: the whole file stays well under a minute
FORM_EXAMPLES = 10  # per form
# forms whose schema schemathesis cannot generate from (nested allOf/anyOf of if-then rules); the other tests cover them
KNOWN_UNSUPPORTED = {"crisis_assessment"}
BASE_URL = "http://testserver.local"  # conftest's TestClient
EDGE_IDS = [0, -1, 2**31, 2**63]  # ids the routes must refuse, not overflow on


async def seed_api() -> dict[str, Any]:
    """A 心理教师 with a token, and records of two forms about the first student (ids for the path parameters)."""
    from server.auth import create_token
    from server.models import School, Student, User
    from server.records import create_record

    school = await School.get(code="t1")
    psych = await User.create(school=school, username="xinli_api", display_name="心理教师", roles=["psych_teacher"],
                              password_hash=light_password_hash(PASSWORD))
    student = await Student.get(school=school, student_number="T0001")
    records = [await create_record(definition(form_id), school, psych, example(form_id), [student])
               for form_id in ("attention_ledger", "registration")]
    return {"token": await create_token(psych), "records": [r.id for r in records]}


def api_schema(raw: dict, real_ids: dict[str, list] | None = None) -> dict:
    """The app's OpenAPI restricted to /api/, with the bodies the handlers read; with `real_ids`, the id
    parameters take only those values (hypothesis would merge an `anyOf` of them with the free type)."""
    raw = copy.deepcopy(raw)
    raw["paths"] = {path: item for path, item in raw["paths"].items() if path.startswith("/api/")}
    answer_keys = sorted({key for form_id in FORMS for key in definition(form_id).schema.get("properties", {})})
    data = {"type": "object", "properties": {key: {} for key in answer_keys}}  # any JSON value under every answer key
    student = {"enum": real_ids["student_id"]} if real_ids else {"type": "integer"}
    bodies = {("/api/forms/{form_id}/records", "post"): {"students": {"type": "array", "items": student, "maxItems": 3},
                                                         "data": data},
              ("/api/records/{record_id}", "put"): {"version": {"type": "integer"}, "data": data}}
    for (path, method), properties in bodies.items():
        raw["paths"][path][method]["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "properties": properties}}}}
    for item in raw["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if real_ids and parameter["name"] in real_ids:
                    parameter["schema"] = {"enum": real_ids[parameter["name"]]}
    return raw


@pytest.fixture
def api_world(world):
    """conftest's world (app, temporary database, fictional school) with a 心理教师's token and two schemas to fuzz."""
    seeded = world.run(seed_api)
    raw = world.client.get("/schema", headers={"Authorization": f"Bearer {seeded['token']}"}).json()
    real_ids = {"form_id": FORMS + ["no_such_form"], "record_id": seeded["records"] + EDGE_IDS,
                "student_id": world.student_ids + [world.other_school_student_id] + EDGE_IDS, "class": [1, 2] + EDGE_IDS}
    world.schemas = {"real ids": schemathesis.openapi.from_dict(api_schema(raw, real_ids)),
                     "random ids": schemathesis.openapi.from_dict(api_schema(raw))}
    world.token = seeded["token"]
    return world


def api_operations() -> list[tuple[str, str]]:
    """The API's operations, read from its controller so that a new one is fuzzed without new test code."""
    from litestar.handlers import HTTPRouteHandler

    from server.routes.api import ApiController

    found = []
    for handler in (h for h in vars(ApiController).values() if isinstance(h, HTTPRouteHandler)):
        for path in handler.paths:
            full = ("/api" + path).replace(":str}", "}").replace(":int}", "}")
            found += [(method, full) for method in sorted(handler.http_methods)]
    return sorted(found)


def negatable(operation) -> bool:
    """Whether negative mode has anything to break: a body, a query or an integer id (a text path id cannot be wrong)."""
    described = operation.definition.raw
    return "requestBody" in described or any(p["in"] == "query" or "integer" in str(p["schema"])
                                             for p in described.get("parameters", []))


def test_every_api_route_is_in_the_schema(api_world):
    """The operations fuzzed below are the ones the app documents at /schema."""
    documented = {(method.upper(), path) for path, item in api_world.schemas["random ids"].raw_schema["paths"].items()
                  for method in item}
    assert documented == set(api_operations())


@pytest.mark.parametrize("method,path", api_operations())
def test_api_operation_never_answers_500(api_world, method, path):
    client, headers = api_world.client, {"Authorization": f"Bearer {api_world.token}"}

    def call(case) -> None:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        body = {"json": kwargs["json"]} if "json" in kwargs else {"content": kwargs["data"]} if "data" in kwargs else {}
        response = client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"], **body)
        # The OpenAPI describes the 2xx answers only: its 400 body is Litestar's default ({status_code, detail}) while
        # every error here answers {"errors": [...]} (server.app.http_error), and 401/404/409/413/422 are not listed.
        conforms = [response_schema_conformance, content_type_conformance] if 200 <= response.status_code < 300 else []
        case.validate_response(response, checks=[not_a_server_error, *conforms])

    for schema in api_world.schemas.values():
        operation = schema[path][method]
        for mode in [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negatable(operation) else []):
            run = given(case=operation.as_strategy(generation_mode=mode))(call)
            settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))(run)()


def answers_schema(form_ids: list[str], students: dict[str, list[int]]) -> dict:
    """One operation per form, `/api/forms/<id>/records`, whose body is a schema-valid record of that form
    (the form's own JSON Schema, its `$defs` moved under components)."""
    paths, components = {}, {}
    for form_id in form_ids:
        form = copy.deepcopy(definition(form_id).schema)
        form.pop("$schema", None)
        local = f'"#/components/schemas/{form_id}.'
        for name, sub in form.pop("$defs", {}).items():
            components[f"{form_id}.{name}"] = json.loads(json.dumps(sub).replace('"#/$defs/', local))
        data = json.loads(json.dumps(form).replace('"#/$defs/', local))
        body = {"type": "object", "required": ["students", "data"], "additionalProperties": False,
                "properties": {"students": {"const": students[definition(form_id).subject]}, "data": data}}
        if form.get("x-once-per-student"):  # a second record of a once-only form is asked for knowingly
            body["required"].append("confirm_duplicate")
            body["properties"]["confirm_duplicate"] = {"const": True}
        paths[f"/api/forms/{form_id}/records"] = {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"201": {"description": "stored"}}}}
    return {"openapi": "3.1.0", "info": {"title": "answers", "version": "1"}, "paths": paths,
            "components": {"schemas": components}}


def has_control_chars(value: Any) -> bool:
    if isinstance(value, str):
        return bool(CONTROL_CHARS.search(value))
    if isinstance(value, dict):
        return any(has_control_chars(v) for v in value.values())
    return isinstance(value, list) and any(has_control_chars(v) for v in value)


def beyond_schema(form_id: str) -> set[str]:
    """Where the definition declares rules JSON Schema cannot (x-not-after, x-after, x-students' left_school):
    pointers without row numbers."""
    d = definition(form_id)
    found = {"/students"} if d.students_rule.get("left_school") else set()
    for path, spec in d.fields.items():
        for sub_path, sub in [(path, spec)] + [(f"{path}.{p}", s) for p, s in spec.item_fields.items()]:
            if sub.schema.get("x-not-after") or sub.schema.get("x-after"):
                found.add("/" + sub_path.replace(".", "/"))
    return found


def answer_at(body: dict, pointer: str) -> str:
    """The answer a JSON pointer into the record's data names (as text; empty when there is none)."""
    value: Any = body["data"]
    for part in pointer.strip("/").split("/"):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part, "")
        else:
            return ""
    return value if isinstance(value, str) else ""


def test_schema_valid_answers_of_every_form_are_stored(api_world):
    """Answers the form's own JSON Schema accepts are stored (201), unless they hold invisible control characters,
    which server.validation refuses on top of the schema (422), or break a rule the definition declares beyond
    JSON Schema (a date in the future, dates out of order, a student still at school): 422 naming only those."""
    creatable = [f for f in FORMS if "psych_teacher" in definition(f).schema.get("x-access", {}).get("create", [])]
    students = {"student": api_world.student_ids[:1], "students": api_world.student_ids, "class": [], "school": []}
    schema = schemathesis.openapi.from_dict(answers_schema(creatable, students))
    client, headers = api_world.client, {"Authorization": f"Bearer {api_world.token}"}

    def call(case) -> None:
        response = client.post(case.formatted_path, json=case.body, headers=headers)
        case.validate_response(response, checks=[not_a_server_error])
        if has_control_chars(case.body["data"]):
            assert response.status_code == 422, (case.formatted_path, response.text[:500])
        elif response.status_code == 422:  # only for rules beyond the schema, or a line break in a one-line field
            declared = beyond_schema(case.formatted_path.split("/")[3])
            for error in response.json()["errors"]:
                assert re.sub(r"/[0-9]+(?=/|$)", "", error["field"]) in declared or \
                    "\n" in answer_at(case.body, error["field"]) or "\r" in answer_at(case.body, error["field"]), \
                    (case.formatted_path, response.text[:500])
        else:
            assert response.status_code == 201, (case.formatted_path, response.text[:500])

    unsupported = {}
    for form_id in creatable:
        run = given(case=schema[f"/api/forms/{form_id}/records"]["POST"].as_strategy())(call)
        try:
            settings(max_examples=FORM_EXAMPLES, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))(run)()
        except UnsupportedSchema as error:  # schemathesis cannot generate from every schema: say which
            unsupported[form_id] = str(error).splitlines()[0]
    assert set(unsupported) <= KNOWN_UNSUPPORTED, unsupported
