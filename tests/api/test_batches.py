"""/batches: enqueue a batch with callbacks (all or nothing), read one with its progress, list them."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import states
from jobs.models import Batch, Job
from jobs.status import Status
from tests.api.conftest import ApiClient

ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def finish(to: str = Status.DONE) -> int:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None
    failure = None if to == Status.DONE else states.Failure(outcome="failed", message="boom")
    assert states.record(states.Finish(claimed, to, to, failure=failure))
    return claimed.id


def test_a_batch_is_accepted_with_its_members_and_callbacks(api: ApiClient) -> None:
    body = {"jobs": [ADD] * 3, "on_success": ADD, "on_failure": ADD, "description": "nightly"}

    response = api.post("/batches", body)

    assert response.status_code == 202
    data = response.json()
    batch = Batch.objects.get()
    assert data == {
        "message": "Batch accepted",
        "batch_id": batch.pk,
        "job_ids": data["job_ids"],
        "on_success_id": batch.on_success_id,
        "on_complete_id": None,
        "on_failure_id": batch.on_failure_id,
    }
    assert sorted(Job.objects.filter(batch_id=batch.pk).values_list("pk", flat=True)) == data["job_ids"]
    assert api.get(f"/jobs/{data['job_ids'][0]}").json()["batch_id"] == batch.pk
    callback = api.get(f"/jobs/{batch.on_success_id}").json()
    assert callback["batch_id"] is None
    assert callback["waiting_reason"] == f"waiting for 3 of 3 jobs of batch {batch.pk}"


def test_a_batch_shows_its_progress_and_callbacks(api: ApiClient) -> None:
    data = api.post("/batches", {"jobs": [ADD] * 3, "on_success": ADD, "on_complete": ADD}).json()
    finish()
    finish()

    detail = api.get(f"/batches/{data['batch_id']}").json()

    assert detail == {
        "id": data["batch_id"],
        "description": "",
        "created_at": detail["created_at"],
        "finished_at": None,
        "progress": {"total": 3, "done": 2, "failed": 0, "cancelled": 0, "running": 0, "waiting": 1},
        "on_success": {"job_id": data["on_success_id"], "status": "scheduled"},
        "on_complete": {"job_id": data["on_complete_id"], "status": "scheduled"},
        "on_failure": None,
    }
    finish()
    states.promote_due()
    detail = api.get(f"/batches/{data['batch_id']}").json()
    assert detail["finished_at"] is not None
    assert detail["on_success"]["status"] == "queued"


def test_an_unknown_batch_is_404(api: ApiClient, db: None) -> None:
    response = api.get("/batches/424242")

    assert response.status_code == 404
    assert response.json() == {"error": "Batch not found"}


def test_batches_are_listed_newest_first_with_a_cursor(api: ApiClient) -> None:
    ids = [api.post("/batches", {"jobs": [ADD]}).json()["batch_id"] for _ in range(3)]

    first = api.get("/batches?per_page=2")
    assert first.status_code == 200
    assert [b["id"] for b in first.json()] == [ids[2], ids[1]]
    assert first.json()[0]["progress"]["waiting"] == 1
    second = api.get(f"/batches?per_page=2&cursor={first['X-Next-Cursor']}")
    assert [b["id"] for b in second.json()] == [ids[0]]
    assert "X-Next-Cursor" not in second
    assert [b["id"] for b in api.get("/batches?per_page=2&page=2").json()] == [ids[0]]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"jobs": []}, "Invalid 'jobs': List should have at least 1 item after validation, not 0"),
        ({"jobs": [ADD, {"task": "nope", "payload": {}}]}, "job 1: Unknown task 'nope'"),
        ({"jobs": [ADD], "on_failure": {"task": "nope", "payload": {}}}, "on_failure: Unknown task 'nope'"),
        (
            {"jobs": [ADD], "on_success": ADD | {"after": [1]}},
            "on_success: a callback cannot have `after`: it waits for the batch",
        ),
        (
            {"jobs": [ADD | {"idempotency_key": "k"}]},
            "job 0: a job of a batch cannot have an idempotency key or unique_for",
        ),
        ({"jobs": [ADD], "description": "x" * 201}, "Invalid 'description': String should have at most 200 characters"),
        ({"jobs": [ADD], "on_everything": ADD}, "Unknown field 'on_everything'"),
    ],
)
def test_a_bad_batch_is_400_and_nothing_is_stored(api: ApiClient, body: dict[str, Any], error: str) -> None:
    response = api.post("/batches", body)

    assert response.status_code == 400
    assert response.json() == {"error": error}
    assert not Job.objects.exists()
    assert not Batch.objects.exists()


def test_a_batch_for_a_full_queue_is_429_and_nothing_is_stored(api: ApiClient) -> None:
    from jobs import services

    services.set_queue_max_depth(name="default", max_depth=3)

    response = api.post("/batches", {"jobs": [ADD] * 3, "on_complete": ADD})

    assert response.status_code == 429
    assert not Job.objects.exists()
    assert not Batch.objects.exists()
