"""Back-pressure through the API: PATCH /queues/{name} sets a max depth, GET /queues shows how full
each queue is, and an enqueue into a full queue answers 429 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.models import Job
from tests.api.conftest import ApiClient

JOB = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "queue": "mail"}
FULL = "queue 'mail' is full (1 of 1 waiting jobs); nothing was stored, try again later"


def test_patch_sets_max_depth_and_overflow(api: ApiClient) -> None:
    response = api.patch("/queues/mail", {"max_depth": 100, "overflow": "block", "block_seconds": 2.5})

    assert response.status_code == 200
    assert response.json() == {
        "name": "mail",
        "paused": False,
        "concurrency": None,
        "retry_policy": None,
        "max_depth": 100,
        "overflow": "block",
        "block_seconds": 2.5,
    }
    assert api.patch("/queues/mail", {"overflow": "refuse"}).json()["max_depth"] == 100
    assert api.patch("/queues/mail", {"max_depth": None}).json()["max_depth"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_depth": 0}, "Invalid 'max_depth': Input should be greater than or equal to 1"),
        ({"max_depth": "5"}, "Invalid 'max_depth': Input should be a valid integer"),
        ({"overflow": "drop"}, "Invalid 'overflow': Input should be 'refuse' or 'block'"),
        ({"block_seconds": 0}, "Invalid 'block_seconds': Input should be greater than 0"),
        ({"block_seconds": 120}, "Invalid 'block_seconds': Input should be less than or equal to 60"),
        ({"block_seconds": True}, "Invalid 'block_seconds': Input should be a valid number"),
    ],
)
def test_patch_refuses_bad_depth_settings(api: ApiClient, body: dict[str, Any], message: str) -> None:
    response = api.patch("/queues/mail", body)

    assert (response.status_code, response.json()) == (400, {"error": message})


def test_enqueue_into_a_full_queue_answers_429_with_retry_after(api: ApiClient) -> None:
    api.patch("/queues/mail", {"max_depth": 1})
    assert api.post("/jobs", JOB).status_code == 202

    response = api.post("/jobs", JOB)

    assert response.status_code == 429
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": FULL}
    assert Job.objects.count() == 1


def test_scheduled_enqueue_into_a_full_queue_answers_429(api: ApiClient) -> None:
    api.patch("/queues/mail", {"max_depth": 1})
    api.post("/jobs", JOB)

    response = api.post("/jobs/schedule", {**JOB, "run_at": "2099-01-01T00:00:00+00:00"})

    assert (response.status_code, response.json()) == (429, {"error": FULL})


def test_bulk_past_the_limit_is_refused_whole(api: ApiClient) -> None:
    api.patch("/queues/mail", {"max_depth": 3})
    api.post("/jobs", JOB)

    response = api.post("/jobs/bulk", {"jobs": [JOB, JOB, JOB]})

    assert response.status_code == 429 and response["Retry-After"] == "5"
    assert response.json() == {
        "error": "queue 'mail' has room for 2 more waiting jobs, not 3 (3 at most); nothing was stored, try again later"
    }
    assert Job.objects.count() == 1


def test_queues_list_shows_limit_depth_fill_and_refusals(api: ApiClient) -> None:
    api.patch("/queues/mail", {"max_depth": 4})
    api.post("/jobs", JOB)
    api.post("/jobs/bulk", {"jobs": [JOB] * 5})  # refused: 5 can never fit

    by_name = {q["name"]: q for q in api.get("/queues").json()}

    mail = by_name["mail"]
    assert (mail["max_depth"], mail["depth"], mail["fill"], mail["refused"]) == (4, 1, 0.25, 5)
    assert mail["overflow"] == "refuse" and mail["block_seconds"] == 5.0


def test_openapi_declares_429_on_the_enqueue_operations(api: ApiClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    for path in ("/api/v1/jobs", "/api/v1/jobs/schedule", "/api/v1/jobs/bulk"):
        assert "429" in paths[path]["post"]["responses"], path


def test_openapi_declares_retry_after_on_429(api: ApiClient) -> None:
    responses = api.get("/openapi.json").json()["paths"]["/api/v1/jobs"]["post"]["responses"]

    assert "Retry-After" in responses["429"]["headers"]


def test_run_schedule_now_into_a_full_queue_answers_429(api: ApiClient) -> None:
    schedule = api.post(
        "/schedules", {"name": "s", "cron": "0 3 * * *", "task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}
    ).json()
    api.patch("/queues/default", {"max_depth": 1})
    api.post("/jobs", {**JOB, "queue": "default"})

    response = api.post(f"/schedules/{schedule['id']}/run-now")

    assert response.status_code == 429 and response["Retry-After"] == "5"
