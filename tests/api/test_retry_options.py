"""The retry policy through the REST API: a job's backoff/retry_on/discard_on, a queue's default,
and the job detail's snoozes and waiting_reason."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.models import Job, Queue
from tests.api.conftest import ApiClient


def test_enqueue_stores_the_jobs_retry_policy(api: ApiClient, db: None) -> None:
    body = {
        "task": "tests.tasks.add",
        "payload": {"a": 1, "b": 2},
        "backoff": {"kind": "linear", "base": 2.0, "cap": 60.0, "jitter": 0.0},
        "retry_on": ["builtins.OSError"],
        "discard_on": ["builtins.KeyError"],
    }
    job_id = api.post("/jobs", body).json()["job_id"]

    detail = api.get(f"/jobs/{job_id}").json()
    assert (
        Job.objects.get(pk=job_id).retry_policy
        == detail["retry_policy"]
        == {
            "backoff": {"kind": "linear", "base": 2.0, "cap": 60.0, "jitter": 0.0},
            "retry_on": ["builtins.OSError"],
            "discard_on": ["builtins.KeyError"],
        }
    )
    assert detail["snoozes"] == 0
    # Queued with no worker running: the only wait is for a worker that has the task.
    assert detail["waiting_reason"].startswith("Waiting for a worker that has task ")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"backoff": {"kind": "fibonacci"}},
            "Invalid 'backoff.kind': Input should be 'exponential', 'linear' or 'constant'",
        ),
        ({"backoff": {"base": 10.0, "cap": 5.0}}, "backoff must be an object"),
        ({"retry_on": ["no dots"]}, "Invalid 'retry_on[0]': String should match pattern"),
    ],
)
def test_bad_retry_options_get_400(api: ApiClient, db: None, extra: dict[str, Any], message: str) -> None:
    response = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, **extra})

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_patch_queue_sets_and_clears_its_retry_policy(api: ApiClient, db: None) -> None:
    policy = {"backoff": {"kind": "constant", "base": 30.0}, "discard_on": ["app.errors.Gone"]}
    set_ = api.patch("/queues/emails", {"retry_policy": policy})
    listed = {q["name"]: q for q in api.get("/queues").json()}
    cleared = api.patch("/queues/emails", {"retry_policy": None})

    assert set_.status_code == 200
    assert set_.json()["retry_policy"] == {
        "backoff": {"kind": "constant", "base": 30.0, "cap": 3600.0, "jitter": 0.5},
        "discard_on": ["app.errors.Gone"],
    }
    assert set_.json()["concurrency"] is None  # left as it was
    assert listed["emails"]["retry_policy"] == set_.json()["retry_policy"]
    assert cleared.json()["retry_policy"] is None and Queue.objects.get(name="emails").retry_policy is None
