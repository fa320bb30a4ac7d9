"""/jobs and /schedules: named priorities, unique_for and expiry as the API takes and shows them."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from jobs import states
from jobs.models import Job, Schedule
from jobs.status import Status
from tests.api.conftest import ApiClient

MS = datetime.timedelta(milliseconds=1)
ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def finish(job_id: int) -> None:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == job_id
    assert states.record(states.Finish(claimed, Status.DONE, "done", result=3))


@pytest.mark.parametrize(("priority", "stored"), [("high", 10), ("medium", 0), ("low", -10), (42, 42)])
def test_a_priority_is_a_number_or_a_name(api: ApiClient, priority: Any, stored: int) -> None:
    response = api.post("/jobs", ADD | {"priority": priority})

    assert response.status_code == 202
    assert Job.objects.get().priority == stored


@pytest.mark.parametrize("priority", ["urgent", "10", 101, True])
def test_other_priorities_are_400(api: ApiClient, db: None, priority: Any) -> None:
    response = api.post("/jobs", ADD | {"priority": priority})

    assert response.status_code == 400
    assert "priority" in response.json()["error"]
    assert not Job.objects.exists()


def test_unique_for_keeps_answering_with_the_finished_job(api: ApiClient) -> None:
    body = ADD | {"idempotency_key": "invoice-9", "unique_for": 3600}
    first = api.post("/jobs", body).json()["job_id"]
    finish(first)

    second = api.post("/jobs", body).json()["job_id"]
    detail = api.get(f"/jobs/{first}").json()

    assert second == first
    job = Job.objects.get()
    assert job.finished_at is not None
    assert (detail["unique_for"], detail["idempotency_key"]) == (3600.0, "invoice-9")
    until = datetime.datetime.fromisoformat(detail["unique_until"])
    assert abs(until - (job.finished_at + datetime.timedelta(hours=1))) < MS  # the API writes milliseconds


def test_unique_for_without_a_key_makes_one_from_the_arguments(api: ApiClient) -> None:
    first = api.post("/jobs", ADD | {"unique_for": 60}).json()["job_id"]
    same = api.post("/jobs", ADD | {"unique_for": 60}).json()["job_id"]
    other = api.post("/jobs", ADD | {"payload": {"a": 2, "b": 2}, "unique_for": 60}).json()["job_id"]

    assert same == first != other


def test_bulk_enqueue_takes_the_new_options(api: ApiClient) -> None:
    response = api.post(
        "/jobs/bulk",
        {"jobs": [ADD | {"unique_for": 60, "priority": "high"}, ADD | {"unique_for": 60}, ADD | {"expires_in": 30}]},
    )

    assert response.status_code == 202
    ids = response.json()["job_ids"]
    assert ids[0] == ids[1] != ids[2]
    assert Job.objects.get(pk=ids[0]).priority == 10
    assert Job.objects.get(pk=ids[2]).expires_at is not None


def test_expires_in_shows_as_a_deadline_and_a_waiting_reason(api: ApiClient) -> None:
    job_id = api.post("/jobs", ADD | {"expires_in": 90}).json()["job_id"]

    detail = api.get(f"/jobs/{job_id}").json()

    job = Job.objects.get()
    assert job.expires_at is not None
    assert abs(datetime.datetime.fromisoformat(detail["expires_at"]) - job.expires_at) < MS
    stamp = job.expires_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert detail["waiting_reason"].endswith(f"expires at {stamp} if not started")


def test_a_job_without_a_deadline_has_no_deadline_in_its_waiting_reason(api: ApiClient) -> None:
    job_id = api.post("/jobs", ADD).json()["job_id"]

    detail = api.get(f"/jobs/{job_id}").json()

    assert (detail["expires_at"], detail["unique_for"], detail["unique_until"]) == (None, None, None)
    # No worker runs here: the only reason given is the wait for one that has the task.
    assert detail["waiting_reason"].startswith("Waiting for a worker that has task ")


def test_expires_at_is_stored(api: ApiClient) -> None:
    response = api.post("/jobs", ADD | {"expires_at": "2100-01-01T10:00:00+01:00"})

    assert response.status_code == 202
    assert Job.objects.get().expires_at == datetime.datetime(2100, 1, 1, 9, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"expires_at": "2100-01-01T10:00:00Z", "expires_in": 5},
            "give expires_at or expires_in, not both",
        ),
        (
            {"expires_at": "2020-01-01T10:00:00Z"},
            "expires_at must be after run_at and after now: the job could never start",
        ),
        (
            {"delay": 120, "expires_at": (timezone.now() + datetime.timedelta(seconds=60)).isoformat()},
            "expires_at must be after run_at and after now: the job could never start",
        ),
    ],
)
def test_impossible_deadlines_are_400(api: ApiClient, db: None, changes: dict[str, Any], error: str) -> None:
    response = api.post("/jobs", ADD | changes)

    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [{"unique_for": 0}, {"unique_for": -1}, {"unique_for": "60"}, {"expires_in": 0}, {"expires_at": "tomorrow"}],
)
def test_bad_values_are_400_naming_the_field(api: ApiClient, db: None, changes: dict[str, Any]) -> None:
    response = api.post("/jobs", ADD | changes)

    assert response.status_code == 400
    assert next(iter(changes)) in response.json()["error"]


def test_a_schedule_takes_a_named_priority(api: ApiClient) -> None:
    body = {"name": "nightly", "cron": "0 3 * * *", "task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}

    response = api.post("/schedules", body | {"priority": "low"})

    assert response.status_code == 201, response.content
    assert response.json()["priority"] == -10
    assert Schedule.objects.get().priority == -10
