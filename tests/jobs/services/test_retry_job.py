"""services.retry_job: a finished job goes back to the queue for one more attempt, its history kept."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidTransition, JobdeckError, JobNotFound
from jobs.models import Attempt, Job, JobEvent
from jobs.status import Status

FAILURE = states.Failure(outcome="failed", error_class="builtins.ValueError", message="boom", traceback="tb")


def claim() -> states.ClaimedJob:
    claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=60)
    assert claimed is not None
    return claimed


def history(job: Job) -> list[tuple[str, str]]:
    return list(JobEvent.objects.filter(job=job).values_list("old_status", "new_status"))


def failed_job(make_job: Callable[..., Job], *, max_attempts: int = 1) -> Job:
    job = make_job(max_attempts=max_attempts)
    assert states.record(states.Finish(claim(), Status.FAILED, reason="attempts spent", failure=FAILURE))
    job.refresh_from_db()
    return job


def test_retry_failed_job_queues_it_again_keeping_history(make_job: Callable[..., Job]) -> None:
    job = failed_job(make_job)
    before = timezone.now()

    returned = services.retry_job(job_id=job.pk, actor="alice")

    stored = Job.objects.get(pk=job.pk)
    assert (returned.status, stored.status) == (Status.QUEUED, Status.QUEUED)
    assert (stored.attempt, stored.finished_at, stored.last_error) == (1, None, "builtins.ValueError: boom")
    assert stored.run_at >= before
    assert history(job) == [("", "queued"), ("queued", "running"), ("running", "failed"), ("failed", "queued")]
    assert JobEvent.objects.filter(job=job).last().actor == "alice"
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "failed")]


def test_retried_job_runs_as_a_new_attempt_even_when_attempts_were_spent(make_job: Callable[..., Job]) -> None:
    job = failed_job(make_job, max_attempts=1)
    services.retry_job(job_id=job.pk)

    claimed = claim()

    assert (claimed.id, claimed.attempt) == (job.pk, 2)
    assert claimed.max_attempts == 2


def test_retry_done_job_clears_its_result(make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert states.record(states.Finish(claim(), Status.DONE, reason="done", result=3))

    services.retry_job(job_id=job.pk)

    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.result) == (Status.QUEUED, None)


def test_retry_cancelled_job_clears_the_cancel_request(make_job: Callable[..., Job]) -> None:
    job = make_job()
    claimed = claim()
    services.cancel_job(job_id=job.pk)
    assert states.record(
        states.Finish(claimed, Status.CANCELLED, reason="cancelled", failure=states.Failure(outcome="cancelled"))
    )

    services.retry_job(job_id=job.pk)

    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.cancel_requested_at) == (Status.QUEUED, None)


@pytest.mark.parametrize("status", [Status.QUEUED, Status.SCHEDULED, Status.RUNNING, Status.RETRYING])
def test_retry_unfinished_job_raises_conflict_and_writes_nothing(make_job: Callable[..., Job], status: str) -> None:
    job = make_job(delay=3600) if status == Status.SCHEDULED else make_job()
    if status in (Status.RUNNING, Status.RETRYING):
        claimed = claim()
        if status == Status.RETRYING:
            retry_at = timezone.now() + datetime.timedelta(hours=1)
            assert states.record(
                states.Finish(claimed, Status.RETRYING, reason="retry", failure=FAILURE, retry_at=retry_at)
            )
    before = history(job)

    with pytest.raises(InvalidTransition) as caught:
        services.retry_job(job_id=job.pk)

    assert caught.value.status_code == 409
    assert caught.value.message == f"Job {job.pk} is {status} and cannot become queued"
    assert Job.objects.get(pk=job.pk).status == status
    assert history(job) == before


@pytest.mark.django_db
def test_retry_missing_job_raises_not_found() -> None:
    with pytest.raises(JobNotFound) as caught:
        services.retry_job(job_id=424242)

    assert (caught.value.status_code, caught.value.message) == (404, "Job not found")


def test_retry_refuses_when_a_newer_job_holds_the_same_idempotency_key(make_job: Callable[..., Job]) -> None:
    first = make_job(idempotency_key="invoice-42")
    assert states.record(states.Finish(claim(), Status.DONE, reason="done", result=3))
    newer = make_job(idempotency_key="invoice-42")
    before = history(first)

    with pytest.raises(JobdeckError) as caught:
        services.retry_job(job_id=first.pk)

    assert caught.value.status_code == 409
    assert Job.objects.get(pk=first.pk).status == Status.DONE
    assert Job.objects.get(pk=newer.pk).status == Status.QUEUED
    assert history(first) == before
