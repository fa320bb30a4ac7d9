"""services.prune_jobs: only finished jobs past their retention go, with their events and attempts."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Attempt, Job, JobEvent
from jobs.status import Status

DAY = datetime.timedelta(days=1)


def finish(job: Job, to: str) -> None:
    claimed = states.claim_next(queues=[job.queue], worker="w", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    failure = None if to == Status.DONE else states.Failure(outcome=Attempt.Outcome.FAILED, message="x")
    assert states.finish(claimed, to, reason="test", failure=failure)


def age(job: Job, days: float) -> None:
    """Pretend the job finished `days` ago (finished_at is no status write)."""
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - days * DAY)


@pytest.fixture
def jobs_by_state(make_job: Callable[..., Job]) -> dict[str, Job]:
    made = {}
    for name, to in [
        ("done_old", Status.DONE),
        ("done_new", Status.DONE),
        ("failed_old", Status.FAILED),
        ("failed_older", Status.FAILED),
    ]:
        job = make_job()
        finish(job, to)
        made[name] = job
    made["cancelled_old"] = make_job()
    services.cancel_job(job_id=made["cancelled_old"].pk)
    made["queued_old"] = make_job()
    made["scheduled_old"] = make_job(delay=3600)
    age(made["done_old"], 8)
    age(made["done_new"], 1)
    age(made["failed_old"], 8)
    age(made["failed_older"], 31)
    age(made["cancelled_old"], 8)
    old = timezone.now() - 100 * DAY
    Job.objects.filter(pk__in=[made["queued_old"].pk, made["scheduled_old"].pk]).update(created_at=old, finished_at=old)
    return made


def remaining() -> set[int]:
    return set(Job.objects.values_list("pk", flat=True))


def test_prune_deletes_only_finished_jobs_past_their_retention(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs()

    gone = {jobs_by_state[n].pk for n in ("done_old", "cancelled_old", "failed_older")}
    assert remaining() == {j.pk for j in jobs_by_state.values()} - gone
    assert (result.jobs, result.batches) == (3, 1)
    assert not JobEvent.objects.filter(job_id__in=gone).exists()
    assert not Attempt.objects.filter(job_id__in=gone).exists()
    assert result.attempts == 2  # done_old and failed_older each ran once; cancelled_old never ran


def test_prune_works_in_batches(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(retention=datetime.timedelta(0), failed_retention=datetime.timedelta(0), batch_size=2)

    assert (result.jobs, result.batches) == (5, 3)
    assert remaining() == {jobs_by_state["queued_old"].pk, jobs_by_state["scheduled_old"].pk}


def test_dry_run_counts_and_deletes_nothing(jobs_by_state: dict[str, Job]) -> None:
    before = remaining()
    events = JobEvent.objects.filter(
        job_id__in=[jobs_by_state[n].pk for n in ("done_old", "cancelled_old", "failed_older")]
    ).count()

    result = services.prune_jobs(dry_run=True)

    assert remaining() == before
    assert (result.jobs, result.events, result.attempts, result.batches) == (3, events, 2, 0)


def test_max_batches_bounds_one_run(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(
        retention=datetime.timedelta(0), failed_retention=datetime.timedelta(0), batch_size=1, max_batches=2
    )

    assert (result.jobs, result.batches) == (2, 2)


def test_each_batch_runs_a_bounded_number_of_queries(make_job, django_assert_max_num_queries) -> None:  # noqa: ANN001
    for _ in range(30):
        job = make_job()
        finish(job, Status.DONE)
        age(job, 30)

    with django_assert_max_num_queries(12):
        result = services.prune_jobs(batch_size=50)

    assert result.jobs == 30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retention": -DAY}, "retention must not be negative"),
        ({"batch_size": 0}, "batch size must be a whole number between 1 and 100000"),
    ],
)
@pytest.mark.django_db
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidJob, match=message):
        services.prune_jobs(**kwargs)
