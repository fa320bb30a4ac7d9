"""The OpenAPI document as a contract: readable operation ids, each enum once, and every status and
header the server answers declared for the operation that answered it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError

from jobs import dbguard, services
from jobs.api import api as ninja_api
from jobs.services import rate_limits
from tests.api.conftest import BASE, ApiClient

OPERATION_IDS = Path(__file__).with_name("operation_ids.txt")
TAGS = {"jobs", "batches", "queues", "rate-limits", "workers", "schedules", "tasks", "system"}
# Headers every response may carry (content negotiation, the security middleware): not part of an
# operation's contract. Anything else the server answers must be declared.
GENERIC_HEADERS = {
    "content-type",
    "content-length",
    "vary",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "content-security-policy",  # every response of the site carries the policy (settings.SECURE_CSP)
}


def document() -> dict[str, Any]:
    return json.loads(json.dumps(ninja_api.get_openapi_schema(), default=str))


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path.removeprefix(BASE), operation


def test_operation_ids_are_unique_and_the_checked_in_list() -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document())]

    assert len(ids) == len(set(ids))
    # A rename breaks every generated client: change tests/api/operation_ids.txt deliberately.
    assert sorted(ids) == OPERATION_IDS.read_text().split()


def test_every_operation_has_a_summary_a_description_and_a_resource_tag() -> None:
    for method, path, operation in operations(document()):
        assert operation.get("summary"), (method, path)
        assert operation.get("description"), (method, path)
        assert operation.get("tags") and set(operation["tags"]) <= TAGS, (method, path, operation.get("tags"))


def inline_enums(node: Any, where: str) -> Iterator[str]:
    """Paths of every `enum` or `const` in `node` (components' own top level excluded by the caller)."""
    if isinstance(node, dict):
        if "enum" in node or "const" in node:
            yield where
        for key, value in node.items():
            yield from inline_enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from inline_enums(value, f"{where}/{index}")


def test_each_closed_set_is_one_component_every_use_refers_to() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    # An enum written inline is a second definition of its set: a client generates a class per use.
    found = list(inline_enums(doc["paths"], "paths"))
    for name, schema in schemas.items():
        found += inline_enums({k: v for k, v in schema.items() if k not in ("enum", "const")}, name)
    assert found == []
    # And no two components hold the same set.
    sets = [frozenset(schema["enum"]) for schema in schemas.values() if "enum" in schema]
    assert len(sets) == len(set(sets))
    assert {
        "JobStatus",
        "JobAction",
        "AttemptOutcome",
        "OmittedField",
        "WorkerType",
        "HealthStatus",
        "ScheduleSource",
    } <= {name for name, schema in schemas.items() if "enum" in schema}


def test_a_duplicated_enum_is_caught() -> None:
    """The check above fails on the document as it was (status inline in three places)."""
    doc = document()
    doc["paths"]["/api/v1/jobs"]["get"]["parameters"][0]["schema"] = {"enum": ["queued", "done"], "type": "string"}

    assert list(inline_enums(doc["paths"], "paths")) == ["paths//api/v1/jobs/get/parameters/0/schema"]


def test_the_document_names_its_server_and_keeps_only_used_schemas() -> None:
    doc = document()

    assert doc["servers"] == [{"url": "/", "description": "the server that serves this document"}]
    text = json.dumps(doc["paths"]) + json.dumps(doc["components"])
    for name in doc["components"]["schemas"]:
        assert f'"#/components/schemas/{name}"' in text, name
    assert not {"JobListQuery", "LogQuery"} & set(doc["components"]["schemas"])


# The contract walk: each operation called as documented, then with one thing wrong at a time.

BODIES: dict[str, Any] = {
    "enqueue_job": {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}},
    "schedule_job": {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "run_at": "2030-01-01T00:00:00Z"},
    "enqueue_jobs": {"jobs": [{"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}]},
    "enqueue_batch": {"jobs": [{"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}]},
    "act_on_jobs": {"action": "cancel", "queue": "default"},
    "update_queue": {"concurrency": 2},
    "set_rate_limit": {"max_starts": 10, "period": 60},
    "create_schedule": {"name": "walk", "cron": "* * * * *", "task": "tests.tasks.add", "payload": {"a": 1, "b": 2}},
    "update_schedule": {"enabled": False},
    "enqueue_workflow": {"chain": [{"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}]},
}
NEEDS_OTHER_STATE = {
    ("get_health", 200),  # a live worker
    ("delete_job", 409),  # an unfinished job (test_jobs.py)
    ("run_job_now", 409),  # a running or finished job
    ("create_schedule", 409),  # a name taken (test_schedules.py)
    ("update_schedule", 409),  # a schedule from settings
    ("delete_schedule", 409),
    ("run_schedule_now", 409),  # a second run in the same instant
    # A full queue (back-pressure, test_backpressure_api.py).
    ("enqueue_job", 429),
    ("enqueue_job", 200),  # on_conflict "drop" meeting a job with the key (test_jobs_on_conflict.py)
    ("schedule_job", 429),
    ("enqueue_jobs", 429),
    ("enqueue_workflow", 429),
    ("enqueue_batch", 429),  # test_batches.py
    ("run_schedule_now", 429),
}
BAD_BODIES: list[Any] = [None, "[", "[]", "{}", {"unknown": 1}, '{"x": NaN}']


class Walk:
    """Sends requests for one operation and checks each answer against the document."""

    def __init__(self, doc: dict[str, Any], clients: dict[str, ApiClient]) -> None:
        self.doc = doc
        self.clients = clients
        self.answered: dict[str, set[int]] = {}
        self.problems: list[str] = []

    def call(self, method: str, template: str, operation: dict[str, Any], *, path: dict[str, str], **how: Any) -> int:
        url = template.format(**path) + how.pop("query", "")
        client = self.clients[how.pop("as_", "writer")]
        body = how.pop("body", BODIES.get(operation["operationId"]))
        data = body if isinstance(body, str | bytes) else ("" if body is None else json.dumps(body))
        headers = {"Authorization": f"Bearer {client.secret}"} if client.secret else {}
        # generic(): a GET or DELETE may carry a body too (the walk sends one to every operation).
        response = client.client.generic(method, BASE + url, data, "application/json", headers=headers)
        self.check(method, url, operation, response)
        return response.status_code

    def check(self, method: str, url: str, operation: dict[str, Any], response: Any) -> None:
        status = response.status_code
        self.answered.setdefault(operation["operationId"], set()).add(status)
        declared = operation["responses"].get(str(status))
        if declared is None:
            self.problems.append(f"{method} {url}: {status} is not documented for {operation['operationId']}")
            return
        headers = {name.lower() for name in declared.get("headers", {})}
        for name in response.headers:
            if name.lower() not in GENERIC_HEADERS and name.lower() not in headers:
                self.problems.append(f"{method} {url}: header {name} of {status} is not declared")


def walk_operation(walk: Walk, method: str, template: str, operation: dict[str, Any], ids: dict[str, str]) -> None:
    names = ("job_id", "scope", "name", "schedule_id", "batch_id")
    path = {name: ids[name] for name in names if "{" + name + "}" in template}
    if template.startswith("/tasks/"):
        path["name"] = "tests.tasks.add"  # a task, where the other {name} operations take a queue
    walk.call(method, template, operation, path=path)
    walk.call(method, template, operation, path=path, query="?per_page=1")
    walk.call(method, template, operation, path=path, query="?bogus=1")
    walk.call(method, template, operation, path=path, as_="anonymous")
    walk.call(method, template, operation, path=path, as_="bad_token")
    walk.call(method, template, operation, path=path, as_="read_only")
    walk.call(method, template, operation, path=path, body=b"x" * 1_100_000)
    for name in path:
        for wrong in ("0", "999999", "abc", str(2**64), "", "a b", "a%2Fb", "x" * 101):
            walk.call(method, template, operation, path={**path, name: wrong})
    if operation.get("requestBody"):
        for body in BAD_BODIES:
            walk.call(method, template, operation, path=path, body=body)
    if operation["operationId"] == "list_jobs":
        for query in ("?cursor=bad", "?status=lost", "?per_page=201", "?created_after=1", "?q=payload.:"):
            walk.call(method, template, operation, path=path, query=query)
    with refusing_database():
        walk.call(method, template, operation, path=path)


@contextmanager
def refusing_database() -> Iterator[None]:
    """The database refuses (here already the token lookup every authenticated request makes)."""
    refused = OperationalError("database is locked")
    try:
        with mock.patch("jobs.tokens.authenticate", side_effect=refused):
            yield
    finally:
        dbguard.forget_refusals()  # /health would report it for a minute


@pytest.fixture
def walk(api: ApiClient, read_only_api: ApiClient, anonymous_api: ApiClient) -> Walk:
    clients = {
        "writer": api,
        "read_only": read_only_api,
        "anonymous": anonymous_api,
        "bad_token": ApiClient("jd_not-a-token"),
    }
    return Walk(document(), clients)


def test_every_status_and_header_the_server_answers_is_documented(walk: Walk) -> None:
    ids = {}
    for method, template, operation in operations(walk.doc):
        # Fresh objects for each operation, so a delete or cancel before does not change what it meets.
        job = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
        services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
        if operation["operationId"] in ("retry_job", "delete_job"):
            services.cancel_job(job_id=job.pk)
        schedule = walk.clients["writer"].post("/schedules", {**BODIES["create_schedule"], "name": f"s{job.pk}"})
        batch = services.enqueue_batch(specs=[services.JobSpec(task_name="tests.tasks.add", args=[1, 2])]).batch
        if operation["operationId"] == "delete_rate_limit":
            rate_limits.set_rate_limit(scope="queue", name="default", max_starts=10, period=60)
        ids = {
            "job_id": str(job.pk),
            "scope": "queue",
            "name": "default",
            "schedule_id": str(schedule.json()["id"]),
            "batch_id": str(batch.pk),
        }
        walk_operation(walk, method, template, operation, ids)

    assert walk.problems == []
    # And the other way round: every documented status was answered (none is listed that cannot
    # occur), but those that need a state the walk does not set up; other tests reach them.
    unanswered = {
        (operation["operationId"], int(status))
        for _, _, operation in operations(walk.doc)
        for status in operation["responses"]
        if int(status) not in walk.answered[operation["operationId"]]
    }
    assert unanswered == NEEDS_OTHER_STATE


def test_an_undocumented_status_or_header_is_caught(walk: Walk) -> None:
    """The walk's checks fail on the document as it was: 404 on pause and X-Next-Cursor undeclared."""
    operation = walk.doc["paths"]["/api/v1/queues/{name}/pause"]["post"]
    del operation["responses"]["404"]
    listing = walk.doc["paths"]["/api/v1/jobs"]["get"]
    del listing["responses"]["200"]["headers"]
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))

    walk.call("POST", "/queues/{name}/pause", operation, path={"name": "a%2Fb"})
    walk.call("GET", "/jobs", listing, path={}, query="?per_page=1")

    assert walk.problems == [
        "POST /queues/a%2Fb/pause: 404 is not documented for pause_queue",
        "GET /jobs?per_page=1: header X-Next-Cursor of 200 is not declared",
    ]


@pytest.mark.parametrize(("method", "template", "operation"), list(operations(document())))
def test_every_operation_refuses_an_unknown_query_parameter(
    api: ApiClient, method: str, template: str, operation: dict[str, Any]
) -> None:
    url = template.format(job_id=1, scope="queue", name="default", schedule_id=1, batch_id=1)
    response = api.request(method, url + "?colour=blue", BODIES.get(operation["operationId"]))

    assert response.status_code == 400
    assert response.json() == {"error": "Unknown parameter 'colour'"}


@pytest.mark.parametrize(
    "query", ["status=queued&status=failed", "alive=true&alive=false", "per_page=5&per_page=50", "q=a&q=b"]
)
def test_a_query_parameter_given_twice_is_refused_not_silently_the_last(api: ApiClient, query: str) -> None:
    # No operation takes a list in its query string; the last value winning would hide the mistake.
    path = "/workers" if query.startswith("alive") else "/jobs"
    response = api.get(f"{path}?{query}")

    assert response.status_code == 400
    assert response.json() == {"error": f"Parameter '{query.split('=')[0]}' is given more than once"}


def test_credentials_are_judged_before_parameters(anonymous_api: ApiClient) -> None:
    assert anonymous_api.get("/stats?colour=blue").status_code == 401
