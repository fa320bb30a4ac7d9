"""The retry policy through the REST API: a job's backoff/retry_on/discard_on, a queue's default,
and the job detail's snoozes and waiting_reason."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from jobs import services
from jobs.exceptions import InvalidJob
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


def test_enqueue_takes_the_jobs_own_max_snoozes(api: ApiClient, db: None) -> None:
    job_id = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "max_snoozes": 3}).json()[
        "job_id"
    ]

    assert api.get(f"/jobs/{job_id}").json()["retry_policy"] == {"max_snoozes": 3}


def test_the_cli_takes_max_snoozes(db: None) -> None:
    call_command("enqueue", "tests.tasks.add", "--args", "[1, 2]", "--max-snoozes", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="max-snoozes"):
        call_command("enqueue", "tests.tasks.add", "--max-snoozes", "-1", stdout=io.StringIO())

    assert Job.objects.get().retry_policy == {"max_snoozes": 0}


def test_a_bad_max_snoozes_in_a_jobspec_is_refused(db: None) -> None:
    with pytest.raises(InvalidJob, match="max_snoozes must be a whole number between 0 and 10000"):
        services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], max_snoozes=-1))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"max_snoozes": -1}, "Invalid 'max_snoozes': Input should be greater than or equal to 0"),
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
