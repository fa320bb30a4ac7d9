"""POST /jobs with on_conflict: "drop" answers 200 with the existing job, marked; "replace" cancels the
waiting one."""

from __future__ import annotations

from jobs.models import Job, JobEvent
from jobs.status import Status
from tests.api.conftest import ApiClient

KEYED = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "concurrency_key": "customer:42"}


def test_drop_returns_the_existing_job_marked_as_such(api: ApiClient) -> None:
    first = api.post("/jobs", KEYED | {"on_conflict": "drop"})
    again = api.post("/jobs", KEYED | {"on_conflict": "drop"})

    assert first.status_code == 202
    job_id = first.json()["job_id"]
    assert first.json() == {"message": "Job accepted", "job_id": job_id}
    assert again.status_code == 200
    assert again.json() == {"message": "Existing job returned", "job_id": job_id, "existing": True}
    assert Job.objects.count() == 1


def test_replace_cancels_the_waiting_job(api: ApiClient) -> None:
    old = api.post("/jobs", KEYED | {"on_conflict": "replace"}).json()["job_id"]

    new = api.post("/jobs", KEYED | {"on_conflict": "replace"})

    assert new.status_code == 202
    assert Job.objects.get(pk=old).status == Status.CANCELLED
    reason = JobEvent.objects.get(job_id=old, new_status=Status.CANCELLED).reason
    assert reason == f"replaced by #{new.json()['job_id']}"


def test_on_conflict_without_a_key_or_with_a_bad_value_is_a_400(api: ApiClient) -> None:
    no_key = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "on_conflict": "drop"})
    bad = api.post("/jobs", KEYED | {"on_conflict": "keep"})

    assert no_key.status_code == 400
    assert no_key.json() == {"error": "on_conflict needs a concurrency_key"}
    assert bad.status_code == 400
    assert "on_conflict" in bad.json()["error"]
    assert not Job.objects.exists()
