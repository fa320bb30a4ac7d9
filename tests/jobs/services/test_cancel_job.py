"""services.cancel_job: waiting jobs end cancelled at once, running ones are flagged, finished ones refuse."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidTransition, JobNotFound
from jobs.models import Attempt, Job, JobEvent
from jobs.status import Status


def history(job: Job) -> list[tuple[str, str, str, str]]:
    return list(JobEvent.objects.filter(job=job).values_list("old_status", "new_status", "reason", "actor"))


def claimed_job(make_job: Callable[..., Job]) -> tuple[Job, states.ClaimedJob]:
    job = make_job()
    claimed = states.claim_next(queues=[job.queue], worker="w1", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    return job, claimed


def job_in(make_job: Callable[..., Job], status: str) -> Job:
    """A job driven into `status` through the state machine."""
    if status == Status.SCHEDULED:
        return make_job(delay=3600)
    if status == Status.QUEUED:
        return make_job()
    job, claimed = claimed_job(make_job)
    failure = states.Failure(outcome="failed", error_class="builtins.ValueError", message="boom")
    if status == Status.RETRYING:
        retry_at = timezone.now() + datetime.timedelta(hours=1)
        assert states.record(states.Finish(claimed, status, reason="retry", failure=failure, retry_at=retry_at))
    elif status == Status.FAILED:
        assert states.record(states.Finish(claimed, status, reason="failed", failure=failure))
    elif status == Status.DONE:
        assert states.record(states.Finish(claimed, status, reason="done", result=3))
    elif status == Status.CANCELLED:
        assert states.record(
            states.Finish(claimed, status, reason="cancelled", failure=states.Failure(outcome="cancelled"))
        )
    job.refresh_from_db()
    assert job.status == status
    return job


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.QUEUED, Status.RETRYING])
def test_cancel_waiting_job_marks_it_cancelled(make_job: Callable[..., Job], status: str) -> None:
    job = job_in(make_job, status)

    returned = services.cancel_job(job_id=job.pk, actor="alice")

    stored = Job.objects.get(pk=job.pk)
    assert (returned.pk, returned.status, stored.status) == (job.pk, Status.CANCELLED, Status.CANCELLED)
    assert stored.finished_at is not None
    assert history(job)[-1] == (status, "cancelled", "cancelled", "alice")


def test_cancelled_queued_job_is_never_claimed(make_job: Callable[..., Job]) -> None:
    job = make_job()
    services.cancel_job(job_id=job.pk)

    assert states.claim_next(queues=["default"], worker="w1", lease_seconds=60) is None


def test_cancel_running_job_marks_cancel_requested(make_job: Callable[..., Job]) -> None:
    job, _ = claimed_job(make_job)

    returned = services.cancel_job(job_id=job.pk, actor="alice")

    stored = Job.objects.get(pk=job.pk)
    assert (returned.status, stored.status) == (Status.RUNNING, Status.RUNNING)
    assert returned.cancel_requested_at is not None
    assert stored.cancel_requested_at == returned.cancel_requested_at
    assert history(job)[-1] == ("running", "running", "cancel requested", "alice")
    assert states.cancel_requested([(job.pk, 1)]) == {job.pk}


def test_cancel_running_job_twice_requests_once(make_job: Callable[..., Job]) -> None:
    job, _ = claimed_job(make_job)
    first = services.cancel_job(job_id=job.pk)

    second = services.cancel_job(job_id=job.pk)

    assert second.cancel_requested_at == first.cancel_requested_at
    assert [e for e in history(job) if e[2] == "cancel requested"] == [("running", "running", "cancel requested", "")]


def test_worker_ends_cancel_requested_job_cancelled(make_job: Callable[..., Job]) -> None:
    job, claimed = claimed_job(make_job)
    services.cancel_job(job_id=job.pk)

    assert states.record(
        states.Finish(claimed, Status.CANCELLED, reason="cancelled", failure=states.Failure(outcome="cancelled"))
    )

    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "cancelled")]


@pytest.mark.parametrize("status", [Status.DONE, Status.FAILED, Status.CANCELLED])
def test_cancel_finished_job_raises_conflict_and_writes_nothing(make_job: Callable[..., Job], status: str) -> None:
    job = job_in(make_job, status)
    before = history(job)

    with pytest.raises(InvalidTransition) as caught:
        services.cancel_job(job_id=job.pk)

    assert caught.value.status_code == 409
    assert caught.value.message == f"Job {job.pk} is {status} and cannot become cancelled"
    assert Job.objects.get(pk=job.pk).status == status
    assert history(job) == before


@pytest.mark.django_db
@pytest.mark.parametrize("job_id", [999_999, "abc", None])
def test_cancel_missing_job_raises_not_found(job_id: object) -> None:
    with pytest.raises(JobNotFound) as caught:
        services.cancel_job(job_id=job_id)  # type: ignore[arg-type]

    assert (caught.value.status_code, caught.value.message) == (404, "Job not found")
    assert JobEvent.objects.count() == 0
