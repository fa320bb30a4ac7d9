"""Expiry: a job not started by its expires_at never runs and ends cancelled as "expired", visibly.

The claim skips such a job; the workers' housekeeping (states.expire_due) ends every waiting one,
in a served queue or not. Real worker processes run on whichever database the suite uses.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services, states
from jobs.models import Job, JobEvent
from jobs.services import JobSpec
from jobs.states import sql
from jobs.status import Status
from jobs.waiting import waiting_reason
from tests.conftest import WorkerProc, wait_until


def enqueue(**fields: Any) -> Job:
    fields.setdefault("task_name", "tests.tasks.add")
    fields.setdefault("args", [1, 2])
    return services.enqueue_job(spec=JobSpec(**fields), actor="alice")


def pass_deadline(job: Job, seconds_ago: float = 1) -> datetime.datetime:
    """Move `job`'s deadline into the past (enqueue refuses one there). Returns the new deadline."""
    deadline = timezone.now() - datetime.timedelta(seconds=seconds_ago)
    Job.objects.filter(pk=job.pk).update(expires_at=deadline)
    return deadline


def reason_for(deadline: datetime.datetime) -> str:
    return f"expired: not started by {deadline.astimezone(datetime.UTC).isoformat(timespec='seconds')}"


# --- Enqueue ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_expires_in_counts_from_run_at() -> None:
    now = timezone.now()
    job = enqueue(delay=60, expires_in=30)

    assert job.expires_at == job.run_at + datetime.timedelta(seconds=30)
    assert job.run_at >= now + datetime.timedelta(seconds=60)


@pytest.mark.django_db
def test_expires_at_is_stored_as_given() -> None:
    deadline = timezone.now() + datetime.timedelta(hours=1)

    assert enqueue(expires_at=deadline).expires_at == deadline


# --- The claim ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_claim_skips_a_job_past_its_deadline() -> None:
    late = enqueue(expires_in=60, priority="high")
    on_time = enqueue(expires_in=60)
    plain = enqueue()
    pass_deadline(late)

    first = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    second = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    third = states.claim_next(queues=["default"], worker="w", lease_seconds=30)

    assert first is not None and second is not None
    assert {first.id, second.id} == {on_time.pk, plain.pk}
    assert third is None
    assert Job.objects.get(pk=late.pk).status == Status.QUEUED  # left for expire_due to end


@pytest.mark.django_db
def test_the_claim_costs_no_extra_query() -> None:
    """The deadline is checked inside the claim's own statement."""
    enqueue()
    enqueue(expires_in=60, queue="deadlines")
    counts = []
    for queue in ("default", "deadlines"):
        with CaptureQueriesContext(connection) as ctx:
            assert states.claim_next(queues=[queue], worker="w", lease_seconds=30) is not None
        counts.append(len(ctx.captured_queries))

    assert counts[0] == counts[1]


# --- Ending expired jobs --------------------------------------------------------------------------


@pytest.mark.django_db
def test_expire_due_ends_waiting_jobs_past_their_deadline_as_cancelled() -> None:
    queued = enqueue(expires_in=60)
    scheduled = enqueue(delay=3600, expires_in=60)
    retrying = enqueue(expires_in=60, queue="retries")
    claimed = states.claim_next(queues=["retries"], worker="w", lease_seconds=30)
    assert claimed is not None
    retry_at = timezone.now() + datetime.timedelta(hours=1)
    assert states.record(states.Finish(claimed, Status.RETRYING, "will retry", retry_at=retry_at))
    untouched = enqueue(expires_in=60)
    deadlines = {job.pk: pass_deadline(job) for job in (queued, scheduled, retrying)}

    assert states.expire_due() == 3

    for job_id, deadline in deadlines.items():
        job = Job.objects.get(pk=job_id)
        assert job.status == Status.CANCELLED
        assert job.finished_at is not None
        assert job.last_error == reason_for(deadline)
        event = JobEvent.objects.filter(job_id=job_id).last()
        assert event is not None
        assert (event.new_status, event.reason, event.actor) == (Status.CANCELLED, reason_for(deadline), "expiry")
    assert Job.objects.get(pk=untouched.pk).status == Status.QUEUED
    assert states.expire_due() == 0


@pytest.mark.django_db
def test_a_running_job_past_its_deadline_is_left_alone() -> None:
    """The deadline is for starting: a job that started in time runs to its end."""
    job = enqueue(expires_in=60)
    assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None
    pass_deadline(job)

    assert states.expire_due() == 0
    assert Job.objects.get(pk=job.pk).status == Status.RUNNING


@pytest.mark.django_db
def test_expire_due_is_one_read_when_nothing_expired(django_assert_num_queries: Any) -> None:
    enqueue(expires_in=60)
    enqueue()
    with django_assert_num_queries(1):
        assert states.expire_due() == 0


@pytest.mark.django_db
def test_expire_due_reads_through_the_expiry_index(make_job: Callable[..., Job]) -> None:
    for _ in range(100):
        make_job()
    make_job(expires_in=60)

    now = timezone.now()
    if connection.vendor == "postgresql":
        plan = Job.objects.past_deadline(now).explain()
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN QUERY PLAN " + sql.past_deadline_sqlite(connection.alias),
                [connection.ops.adapt_datetimefield_value(now), 10],
            )
            plan = str(cursor.fetchall())

    assert "job_expiry_idx" in plan, plan


@pytest.mark.django_db
def test_a_manual_retry_of_an_expired_job_clears_its_deadline() -> None:
    job = enqueue(expires_in=60)
    pass_deadline(job)
    states.expire_due()

    services.retry_job(job_id=job.pk, actor="alice")

    job.refresh_from_db()
    assert (job.status, job.expires_at) == (Status.QUEUED, None)
    assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None


# --- What the job page and the API say ----------------------------------------------------------


@pytest.mark.django_db
def test_waiting_reason_names_the_deadline() -> None:
    job = enqueue(expires_at=datetime.datetime(2100, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))
    plain = enqueue()

    assert waiting_reason(job).endswith("expires at 2100-01-02 03:04:05 UTC if not started")
    assert "expires" not in (waiting_reason(plain) or "")
    pass_deadline(job)
    job.refresh_from_db()
    assert waiting_reason(job).endswith(": ends cancelled without running")  # type: ignore[union-attr]
    states.expire_due()
    job.refresh_from_db()
    assert waiting_reason(job) is None  # finished: no longer waiting


# --- Real workers ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_never_runs_an_expired_job_and_ends_it_visibly(
    start_workers: Callable[..., WorkerProc], tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    late = enqueue(task_name="tests.tasks.append_line", args=[str(out), "late"], expires_in=60, priority="high")
    on_time = enqueue(task_name="tests.tasks.append_line", args=[str(out), "on time"], priority="low")
    deadline = pass_deadline(late)

    start_workers("--concurrency", "2")

    wait_until(lambda: Job.objects.get(pk=on_time.pk).status == Status.DONE, timeout=30)
    wait_until(lambda: Job.objects.get(pk=late.pk).status == Status.CANCELLED, timeout=30)
    late.refresh_from_db()
    assert (late.attempt, late.last_error) == (0, reason_for(deadline))
    assert out.read_text() == "on time\n"


@pytest.mark.django_db(transaction=True)
def test_a_job_waiting_in_a_paused_queue_expires_without_a_worker_taking_it(
    start_workers: Callable[..., WorkerProc],
) -> None:
    services.pause_queue(name="held")
    job = enqueue(queue="held", expires_in=1)
    worker = start_workers("--queues", "default")  # not even serving the queue

    wait_until(lambda: Job.objects.get(pk=job.pk).status == Status.CANCELLED, timeout=30)
    job.refresh_from_db()
    assert job.attempt == 0
    assert job.last_error.startswith("expired: not started by ")
    assert "jobs expired before they started" in worker.log()
