"""Bad requests get 4xx with one readable {"error": ...}: malformed JSON, wrong types, limits, unknown paths."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from jobs.models import Job
from tests.api.conftest import ApiClient


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"payload": ', "Malformed JSON: Expecting value at line 1 column 13"),
        ("{'payload': {}}", "Malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ('{"payload": {}} trailing', "Malformed JSON: Extra data at line 1 column 17"),
        ('{"payload": {"x": NaN}}', "Malformed JSON: NaN is not valid JSON"),
        ('{"payload": {"x": Infinity}}', "Malformed JSON: Infinity is not valid JSON"),
        (b'{"payload": {"x": "\xff"}}', "Request body is not valid UTF-8"),
        ('{"payload": {"x": "a\\u0000b"}}', "JSON strings must not contain NUL characters or lone surrogates"),
        ('{"payload": {"x": "\\ud800"}}', "JSON strings must not contain NUL characters or lone surrogates"),
        ('{"payload": {"\\u0000": 1}}', "JSON strings must not contain NUL characters or lone surrogates"),
        ("[1, 2]", "Request body must be a JSON object"),
        ('"text"', "Request body must be a JSON object"),
    ],
)
def test_malformed_body_gets_400_naming_the_problem(api: ApiClient, raw: str | bytes, message: str) -> None:
    response = api.post("/jobs", raw=raw)

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert not Job.objects.exists()


ADD = {"task": "tests.tasks.add", "payload": {}}
INT = "Input should be a valid integer"
PRIORITY = "Input should be a whole number between -100 and 100, or high, medium or low"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing 'payload' field"),
        ({"task": "tests.tasks.add"}, "Missing 'payload' field"),
        ({**ADD, "payload": [1]}, "Invalid 'payload': Input should be a valid dictionary"),
        ({**ADD, "priority": "5"}, f"Invalid 'priority': {PRIORITY}"),
        ({**ADD, "priority": "urgent"}, f"Invalid 'priority': {PRIORITY}"),
        ({**ADD, "priority": 5.5}, f"Invalid 'priority': {PRIORITY}"),
        ({**ADD, "priority": True}, f"Invalid 'priority': {PRIORITY}"),
        ({**ADD, "priority": 101}, f"Invalid 'priority': {PRIORITY}"),
        ({**ADD, "max_attempts": 0}, "Invalid 'max_attempts': Input should be greater than or equal to 1"),
        ({**ADD, "delay": "soon"}, "Invalid 'delay': Input should be a valid number"),
        ({**ADD, "queue": "no spaces"}, "Invalid 'queue': String should match pattern '^[A-Za-z0-9_.:-]{1,100}$'"),
        ({**ADD, "task": 7}, "Invalid 'task': Input should be a valid string"),
        ({**ADD, "colour": "red"}, "Unknown field 'colour'"),
        ({**ADD, "run_at": "2030-01-01T00:00:00"}, "Invalid 'run_at': Input should have timezone info"),
        (
            {**ADD, "run_at": "0001-01-01T00:00:00+05:00"},
            "Invalid 'run_at': the year must be between 1970 and 9000",
        ),
        ({**ADD, "run_at": "2030-01-01T00:00:00-17:32"}, "Invalid 'run_at': the UTC offset must be less than 16 hours"),
        ({**ADD, "delay": 1, "run_at": "2030-01-01T00:00:00Z"}, "give run_at or delay, not both"),
        ({"payload": {"a": 1}}, "Missing 'task': give a 'task' field or a \"task\" key in the payload"),
        ({"payload": {"task": "no_such_task"}}, "Unknown task 'no_such_task'"),
    ],
)
def test_wrong_fields_get_400_naming_the_field(api: ApiClient, body: dict, message: str) -> None:
    response = api.post("/jobs", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_body_over_the_limit_gets_413(api: ApiClient, settings: object) -> None:
    settings.JOBDECK_API_MAX_BODY_BYTES = 1000  # type: ignore[attr-defined]
    body = {"task": "tests.tasks.add", "payload": {"a": "x" * 1000, "b": ""}}

    response = api.post("/jobs", body)

    assert response.status_code == 413
    assert response.json() == {"error": "Request body is larger than 1000 bytes"}
    assert not Job.objects.exists()


def test_default_limit_is_one_mebibyte(api: ApiClient) -> None:
    just_under = {"task": "tests.tasks.append_line", "payload": {"path": "/dev/null", "line": "x" * 1_000_000}}
    over = {"task": "tests.tasks.append_line", "payload": {"path": "/dev/null", "line": "x" * (1024 * 1024)}}

    assert api.post("/jobs", just_under).status_code == 202
    assert api.post("/jobs", over).status_code == 413


def test_body_over_djangos_own_limit_gets_413_json(api: ApiClient, settings: object) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100  # type: ignore[attr-defined]

    response = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": "x" * 200}})

    assert response.status_code == 413
    assert response.json() == {"error": "Request body is larger than 1048576 bytes"}


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


def test_nesting_up_to_the_limit_is_accepted(api: ApiClient) -> None:
    # The body object is level 1 and args level 2, so its item may nest 30 more levels: 32 in all.
    body = {"task": "tests.tasks.append_line", "payload": {"path": "/dev/null", "line": "x"}, "args": [_nested(30)]}

    response = api.post("/jobs", body)

    assert response.status_code == 202


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deep_nesting_gets_400(api: ApiClient, depth: int) -> None:
    raw = '{"payload": ' + "[" * depth + "]" * depth + "}"

    response = api.post("/jobs", raw=raw)

    assert response.status_code == 400
    assert response.json() == {"error": "JSON is nested more than 32 levels deep"}


def test_unknown_api_path_gets_404_json(api: ApiClient) -> None:
    for path in ("/nothing", "/jobs/abc", "/jobs/-1"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "Not found"}


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _api_routes() -> list[tuple[str, set[str]]]:
    """Every route of the ninja API's URL patterns as a concrete path, with the methods it serves."""
    from jobs.api import api

    schema_paths = api.get_openapi_schema()["paths"]
    routes: dict[str, set[str]] = {}
    for pattern in api.urls[0]:
        route = str(pattern.pattern)
        schema_path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        concrete = "/api/v1/" + re.sub(r"<int:\w+>", "1", re.sub(r"<(?:str:)?\w+>", "x", route))
        if schema_path in schema_paths:
            allowed = {m.upper() for m in schema_paths[schema_path]}
        elif pattern.name in ("openapi-json", "openapi-view"):
            allowed = {"GET", "HEAD"}
        else:  # ninja's root, which only answers 404
            allowed = set()
        routes[concrete] = allowed
    return sorted(routes.items())


def _assert_json_error(response: Any, method: str) -> None:
    assert response["Content-Type"].startswith("application/json"), (method, response.status_code)
    if method != "HEAD":  # a HEAD answer has no body
        message = json.loads(response.content)["error"]
        assert isinstance(message, str) and message


def test_every_route_answers_a_wrong_method_with_json_405(anonymous_api: ApiClient) -> None:
    routes = _api_routes()
    assert len(routes) > 15  # the walk found the API's routes
    client = anonymous_api.client
    for path, allowed in routes:
        for method in METHODS:
            if method in allowed:
                continue
            response = client.generic(method, path)
            assert response.status_code in (404, 405), (method, path, response.status_code)
            _assert_json_error(response, method)
            if response.status_code == 405:
                assert set(response["Allow"].replace(" ", "").split(",")) == allowed, (method, path)


def test_wrong_method_names_the_allowed_ones(api: ApiClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = api.request(method, "/jobs")

        assert response.status_code == 405
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": f"Method {method} is not allowed here (allowed: GET, POST)"}


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/nothing", "/api/v2/jobs", "/api/", "/api/v1/jobs/1/nothing"])
def test_unknown_paths_get_json_404_for_every_method(anonymous_api: ApiClient, path: str) -> None:
    for method in METHODS:
        response = anonymous_api.client.generic(method, path)

        assert response.status_code == 404, (method, path)
        _assert_json_error(response, method)


def test_errors_are_json_even_for_query_parameters(api: ApiClient) -> None:
    response = api.get("/jobs?page=zero")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == {
        "error": "Invalid 'page': Input should be a valid integer, unable to parse string as an integer"
    }


def test_html_error_pages_under_api_become_json_and_others_are_left_alone() -> None:
    from django.http import HttpResponseServerError
    from django.test import RequestFactory

    from jobs.api.errors import JsonErrorsMiddleware

    middleware = JsonErrorsMiddleware(lambda request: HttpResponseServerError("<h1>Server Error (500)</h1>"))

    response = middleware(RequestFactory().get("/api/v1/jobs"))
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert json.loads(response.content) == {"error": "Internal server error"}
    assert middleware(RequestFactory().get("/jobs/"))["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("offset", ["-17:32", "+16:00"])
def test_a_filter_time_with_an_offset_postgresql_refuses_gets_400(api: ApiClient, db: None, offset: str) -> None:
    # schemathesis found it on PostgreSQL: "time zone displacement out of range" was a 500.
    created_after = f"2030-01-28T01:26:37{offset}"

    listed = api.get("/jobs", QUERY_STRING=f"created_after={created_after.replace('+', '%2B')}")
    acted = api.post("/jobs/actions", {"action": "cancel", "created_after": created_after})

    for response in (listed, acted):
        assert response.status_code == 400
        assert response.json() == {"error": "Invalid 'created_after': the UTC offset must be less than 16 hours"}
