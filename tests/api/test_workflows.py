"""POST /workflows: chains and groups as the API takes them, the ids it returns, and the 4xx it
answers for bad documents (nothing is stored then)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs import states
from jobs.models import Job, JobDependency
from jobs.status import Status
from tests.api.conftest import ApiClient

ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}
ECHO = {"task": "tests.tasks.echo_arguments", "payload": {}}


def run_next() -> int:
    """Claim the next runnable job, finish it done with its arguments' count as the result."""
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None
    assert states.record(states.Finish(claimed, Status.DONE, "done", result=len(claimed.args) + claimed.id))
    states.promote_due()
    return claimed.id


def test_a_chain_with_a_group_returns_every_job_with_its_place(api: ApiClient) -> None:
    response = api.post("/workflows", {"chain": [ADD, {"group": [ADD, ECHO]}, ECHO]})

    assert response.status_code == 202
    body = response.json()
    a, b, c, d = body["job_ids"]
    assert body["message"] == "Workflow accepted"
    assert body["jobs"] == [
        {"job_id": a, "task": "tests.tasks.add", "path": [0]},
        {"job_id": b, "task": "tests.tasks.add", "path": [1, 0]},
        {"job_id": c, "task": "tests.tasks.echo_arguments", "path": [1, 1]},
        {"job_id": d, "task": "tests.tasks.echo_arguments", "path": [2]},
    ]
    assert body["tree"] == {
        "chain": [
            {"job_id": a, "task": "tests.tasks.add"},
            {"group": [{"job_id": b, "task": "tests.tasks.add"}, {"job_id": c, "task": "tests.tasks.echo_arguments"}]},
            {"job_id": d, "task": "tests.tasks.echo_arguments"},
        ]
    }
    assert set(JobDependency.objects.values_list("child_id", "parent_id")) == {(b, a), (c, a), (d, b), (d, c)}
    assert api.get(f"/jobs/{d}").json()["after"] == [b, c]


def test_pass_results_writes_the_results_into_the_next_steps_args(api: ApiClient) -> None:
    doc = {"chain": [ECHO | {"args": [1]}, {"group": [ECHO, ECHO]}, ECHO | {"args": ["last"]}], "pass_results": True}
    a, b, c, d = api.post("/workflows", doc).json()["job_ids"]

    assert run_next() == a
    assert api.get(f"/jobs/{b}").json()["args"] == [a + 1]
    assert {run_next(), run_next()} == {b, c}
    assert api.get(f"/jobs/{d}").json()["args"] == [[b + 1, c + 1], "last"]


def test_a_step_says_whether_it_takes_the_previous_result(api: ApiClient) -> None:
    doc = {"chain": [ADD, ECHO | {"take_result": True}, ECHO, ECHO | {"take_result": None}]}
    ids = api.post("/workflows", doc).json()["job_ids"]

    assert [Job.objects.get(pk=pk).result_input for pk in ids] == [None, ids[0], None, None]
    assert api.post("/workflows", {"chain": [ADD, ECHO | {"take_result": "yes"}]}).status_code == 400


def test_a_top_level_group(api: ApiClient) -> None:
    response = api.post("/workflows", {"group": [ADD, {"chain": [ADD, ADD]}]})

    assert response.status_code == 202
    assert [job["path"] for job in response.json()["jobs"]] == [[0], [1, 0], [1, 1]]
    assert Job.objects.filter(status=Status.QUEUED).count() == 2


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = ADD
    for _ in range(depth):
        doc = {"chain": [doc]}
    return doc


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"chain": []}, "workflow: a chain needs at least one step"),
        ({"chain": [ADD, {"group": []}]}, "workflow[1]: a group needs at least one step"),
        ({}, 'A workflow is {"chain": [steps...]} or {"group": [steps...]}'),
        ({"chain": [ADD], "group": [ADD]}, 'A workflow is {"chain": [steps...]} or {"group": [steps...]}'),
        ([ADD], 'A workflow is {"chain": [steps...]} or {"group": [steps...]}'),
        ({"group": [ADD], "pass_results": True}, "pass_results belongs to a chain, not a group"),
        ({"chain": "abc"}, None),
        ({"chain": [ADD, 12]}, None),
        ({"chain": [ADD], "pass_results": "yes"}, None),
        ({"chain": [ADD, {"chain": [ADD], "extra": 1}]}, None),
        ({"chain": [ADD, {"task": "no.such.task", "payload": {}}]}, "workflow[1]: Unknown task 'no.such.task'"),
        ({"chain": [ADD, ADD | {"priority": 1000}]}, None),
        ({"chain": [ADD, ADD | {"after": [424242]}]}, "after: job #424242 does not exist"),
        (nested(11), "workflow[0][0][0][0][0][0][0][0][0][0][0]: chains and groups nest more than 10 deep"),
        (nested(40), None),
        ({"chain": [ADD] * 1001}, None),
        ({"chain": [{"group": [ADD] * 200}, {"group": [ADD] * 200}]}, None),
    ],
)
def test_bad_documents_are_4xx_and_store_nothing(api: ApiClient, doc: Any, error: str | None) -> None:
    response = api.post("/workflows", doc)

    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"error"}
    if error is not None:
        assert response.json()["error"] == error
    assert not Job.objects.exists()


def test_a_hundred_thousand_steps_are_refused(api: ApiClient) -> None:
    doc = {"group": [{"task": "a", "payload": {}}] * 100_000}

    response = api.post("/workflows", raw=json.dumps(doc))

    assert response.status_code in (400, 413)
    assert set(response.json()) == {"error"}
    assert not Job.objects.exists()


def test_a_workflow_past_a_queues_limit_is_refused_whole_with_429(api: ApiClient) -> None:
    api.patch("/queues/mail", {"max_depth": 2})
    mail = ADD | {"queue": "mail"}

    response = api.post("/workflows", {"chain": [mail, {"group": [mail, mail]}]})

    assert response.status_code == 429 and response["Retry-After"] == "5"
    assert response.json()["error"].startswith("queue 'mail' holds at most 2 waiting jobs: 3 can never fit")
    assert not Job.objects.exists()
