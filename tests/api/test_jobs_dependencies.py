"""/jobs: `after` and `after_failure` as the API takes and shows them."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import states
from jobs.models import Job
from jobs.status import Status
from tests.api.conftest import ApiClient

ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def finish(job_id: int) -> None:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == job_id
    assert states.record(states.Finish(claimed, Status.DONE, "done", result=3))


def test_a_job_after_others_waits_and_says_for_which(api: ApiClient) -> None:
    first = api.post("/jobs", ADD).json()["job_id"]
    second = api.post("/jobs", ADD).json()["job_id"]
    third = api.post("/jobs", ADD).json()["job_id"]
    finish(first)

    response = api.post("/jobs", ADD | {"after": [first, second, third], "after_failure": "run"})
    assert response.status_code == 202
    detail = api.get(f"/jobs/{response.json()['job_id']}").json()

    assert detail["status"] == "scheduled"
    assert detail["after"] == [first, second, third]
    assert detail["after_failure"] == "run"
    assert detail["pending_parents"] == 2
    assert detail["waiting_reason"] == f"waiting for 2 of 3 jobs (#{second}, #{third})"


def test_a_missing_parent_is_400_and_nothing_is_stored(api: ApiClient, db: None) -> None:
    response = api.post("/jobs", ADD | {"after": [424242]})

    assert response.status_code == 400
    assert response.json() == {"error": "after: job #424242 does not exist"}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"after": [0]},
        {"after": ["1"]},
        {"after": 1},
        {"after_failure": "ignore"},
        {"after": [True]},
        {"after": [2**63]},
    ],
)
def test_bad_after_fields_are_400(api: ApiClient, db: None, body: dict[str, Any]) -> None:
    response = api.post("/jobs", ADD | body)

    assert response.status_code == 400
    assert "after" in response.json()["error"]
    assert not Job.objects.exists()
