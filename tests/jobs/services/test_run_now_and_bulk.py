"""services.run_job_now and the bulk actions (cancel_jobs, retry_jobs, run_jobs_now)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from jobs import services
from jobs.exceptions import InvalidTransition, JobdeckError, JobNotFound
from jobs.models import Job, JobEvent
from jobs.status import Status
from tests.jobs.services.test_cancel_job import job_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.RETRYING])
def test_run_now_queues_a_waiting_job_at_once(make_job: Callable[..., Job], status: str) -> None:
    job = job_in(make_job, status)
    before = timezone.now()

    moved = services.run_job_now(job_id=job.pk, actor="ops")

    job.refresh_from_db()
    assert moved.status == job.status == Status.QUEUED
    assert before <= job.run_at <= timezone.now()
    event = JobEvent.objects.filter(job=job).latest("id")
    assert (event.old_status, event.new_status, event.reason, event.actor) == (status, "queued", "run now", "ops")


def test_run_now_on_a_queued_job_changes_nothing(make_job: Callable[..., Job]) -> None:
    job = make_job()
    events = JobEvent.objects.count()
    assert services.run_job_now(job_id=job.pk).status == Status.QUEUED
    assert JobEvent.objects.count() == events


@pytest.mark.parametrize("status", [Status.RUNNING, Status.DONE, Status.FAILED, Status.CANCELLED])
def test_run_now_refuses_running_and_finished_jobs(make_job: Callable[..., Job], status: str) -> None:
    job = job_in(make_job, status)
    with pytest.raises(InvalidTransition, match=f"Job {job.pk} is {status} and cannot become queued"):
        services.run_job_now(job_id=job.pk)


def test_run_now_unknown_job() -> None:
    with pytest.raises(JobNotFound):
        services.run_job_now(job_id=999_999)


def test_bulk_cancel_counts_what_it_changed_and_why_it_skipped(make_job: Callable[..., Job]) -> None:
    done, scheduled, queued = job_in(make_job, Status.DONE), job_in(make_job, Status.SCHEDULED), make_job()

    result = services.cancel_jobs(ids=[queued.pk, scheduled.pk, done.pk, queued.pk, 999_999], actor="ops")

    assert (result.matched, result.changed, result.skipped) == (4, 2, 2)
    assert result.errors == {done.pk: f"Job {done.pk} is done and cannot become cancelled", 999_999: "Job not found"}
    assert set(Job.objects.filter(pk__in=[queued.pk, scheduled.pk]).values_list("status", flat=True)) == {"cancelled"}


def test_bulk_retry_and_run_now(make_job: Callable[..., Job]) -> None:
    failed, queued = job_in(make_job, Status.FAILED), make_job()
    retried = services.retry_jobs(ids=[failed.pk, queued.pk])
    assert (retried.changed, retried.skipped) == (1, 1)
    failed.refresh_from_db()
    assert failed.status == Status.QUEUED

    scheduled = job_in(make_job, Status.SCHEDULED)
    ran = services.run_jobs_now(ids=[scheduled.pk, queued.pk])
    assert (ran.changed, ran.skipped) == (2, 0)  # the queued one already runs now


def test_bulk_refuses_too_many_ids() -> None:
    with pytest.raises(JobdeckError, match="At most 10000 jobs per bulk action"):
        services.cancel_jobs(ids=list(range(10_001)))


def test_delete_removes_finished_jobs_with_their_history_and_refuses_others(make_job: Callable[..., Job]) -> None:
    done, queued = job_in(make_job, Status.DONE), make_job()

    result = services.delete_jobs(ids=[done.pk, queued.pk])

    assert (result.changed, result.skipped) == (1, 1)
    assert result.errors == {queued.pk: f"Job {queued.pk} is queued and cannot become deleted"}
    assert not Job.objects.filter(pk=done.pk).exists()
    assert not JobEvent.objects.filter(job_id=done.pk).exists()
    assert Job.objects.filter(pk=queued.pk).exists()
    with pytest.raises(JobNotFound):
        services.delete_job(job_id=done.pk)
