"""services.prune_jobs: only finished jobs past their retention go, with their events and attempts, in batches."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services, states
from jobs.conf import engine_settings
from jobs.engine.storage import JobStorage
from jobs.exceptions import JobdeckError
from jobs.models import Attempt, Job, JobEvent, JobLog
from jobs.status import Status

DAY = datetime.timedelta(days=1)
ZERO = datetime.timedelta(0)


def claim(job: Job) -> states.ClaimedJob:
    claimed = states.claim_next(queues=[job.queue], worker="w", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    return claimed


def finish(job: Job, to: str) -> None:
    failure = None if to == Status.DONE else states.Failure(outcome=Attempt.Outcome.FAILED, message="x")
    retry_at = timezone.now() + DAY if to == Status.RETRYING else None
    assert states.record(states.Finish(claim(job), to, reason="test", failure=failure, retry_at=retry_at))


def age(job: Job, days: float) -> None:
    """Pretend the job finished `days` ago (finished_at is no status write)."""
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - days * DAY)


def remaining() -> set[int]:
    return set(Job.objects.values_list("pk", flat=True))


def children(ids: set[int]) -> tuple[int, int]:
    return JobEvent.objects.filter(job_id__in=ids).count(), Attempt.objects.filter(job_id__in=ids).count()


@pytest.fixture
def jobs_by_state(make_job: Callable[..., Job]) -> dict[str, Job]:
    made = {}
    for name, to in [
        ("done_old", Status.DONE),
        ("done_new", Status.DONE),
        ("failed_old", Status.FAILED),
        ("failed_older", Status.FAILED),
    ]:
        made[name] = make_job()
        finish(made[name], to)
    made["cancelled_old"] = make_job()
    services.cancel_job(job_id=made["cancelled_old"].pk)
    age(made["done_old"], 8)
    age(made["done_new"], 1)
    age(made["failed_old"], 8)
    age(made["failed_older"], 31)
    age(made["cancelled_old"], 8)
    return made


@pytest.fixture
def old_active_jobs(make_job: Callable[..., Job]) -> set[int]:
    """One job in each unfinished state, every timestamp a year back."""
    running, retrying = make_job(), make_job()
    claim(running)
    finish(retrying, Status.RETRYING)
    queued, scheduled = make_job(queue="parked"), make_job(delay=3600)  # never claimed by other fixtures
    ids = {queued.pk, scheduled.pk, running.pk, retrying.pk}
    old = timezone.now() - 365 * DAY
    Job.objects.filter(pk__in=ids).update(created_at=old, run_at=old, finished_at=old)
    assert set(Job.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        Status.QUEUED,
        Status.SCHEDULED,
        Status.RUNNING,
        Status.RETRYING,
    }
    return ids


def test_prune_deletes_old_done_and_cancelled_jobs_with_their_events_and_attempts(
    jobs_by_state: dict[str, Job],
) -> None:
    gone = {jobs_by_state[n].pk for n in ("done_old", "cancelled_old", "failed_older")}
    events, attempts = children(gone)

    result = services.prune_jobs()

    assert result == services.PruneResult(jobs=3, events=events, attempts=attempts, logs=0, batches=1)
    assert attempts == 2  # done_old and failed_older ran once each; cancelled_old never ran
    assert remaining() == {j.pk for j in jobs_by_state.values()} - gone
    assert children(gone) == (0, 0)


def test_prune_keeps_recent_jobs_and_failed_jobs_until_their_longer_retention(jobs_by_state: dict[str, Job]) -> None:
    kept = {jobs_by_state["done_new"].pk, jobs_by_state["failed_old"].pk}
    before = children(kept)

    services.prune_jobs()

    assert remaining() == kept
    assert children(kept) == before


def test_now_moves_the_cutoff(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(now=timezone.now() + 30 * DAY)

    assert result.jobs == 5
    assert remaining() == set()


def test_unfinished_jobs_are_never_pruned_however_old(old_active_jobs: set[int], jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(now=timezone.now() + 3650 * DAY, retention=ZERO, failed_retention=ZERO)

    assert result.jobs == len(jobs_by_state)
    assert remaining() == old_active_jobs


def test_prune_works_in_batches(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(retention=ZERO, failed_retention=ZERO, batch_size=2)

    assert (result.jobs, result.batches) == (5, 3)
    assert remaining() == set()


def test_max_batches_bounds_one_run(jobs_by_state: dict[str, Job]) -> None:
    result = services.prune_jobs(retention=ZERO, failed_retention=ZERO, batch_size=2, max_batches=2)

    assert (result.jobs, result.batches) == (4, 2)
    assert len(remaining()) == 1


@pytest.mark.parametrize("max_batches", [None, 1])
def test_dry_run_deletes_nothing_and_reports_what_the_prune_then_deletes(
    jobs_by_state: dict[str, Job], max_batches: int | None
) -> None:
    before = remaining()
    options = {"retention": ZERO, "failed_retention": 8.5 * DAY, "batch_size": 2, "max_batches": max_batches}

    dry = services.prune_jobs(dry_run=True, **options)

    assert remaining() == before
    assert dry == services.prune_jobs(**options)
    assert dry.jobs == (4 if max_batches is None else 2)


def _add_history(job: Job, runs: int) -> None:
    """Fail and retry the job `runs` times: more events, attempts and log lines on the same row."""
    JobLog.objects.bulk_create(
        JobLog(job=job, attempt=n, created_at=timezone.now(), level=20, message="line") for n in range(runs + 1)
    )
    for _ in range(runs):
        finish(job, Status.FAILED)
        services.retry_job(job_id=job.pk)
    finish(job, Status.DONE)
    age(job, 30)


def test_queries_per_batch_do_not_grow_with_jobs_or_children(
    make_job: Callable[..., Job], django_assert_max_num_queries: Callable
) -> None:
    _add_history(make_job(), runs=0)
    with CaptureQueriesContext(connection) as small:
        assert services.prune_jobs().jobs == 1

    for _ in range(20):
        _add_history(make_job(), runs=3)
    assert Attempt.objects.count() == 80
    # A batch: savepoint, select ids, re-check ids, 4 child DELETEs (events, attempts, logs, dependency
    # links), unlinking schedule runs, job DELETE, release; then an empty batch; then the emptied
    # Batch rows' DELETE (one statement).
    with django_assert_max_num_queries(14), CaptureQueriesContext(connection) as large:
        result = services.prune_jobs()

    assert (result.jobs, result.attempts, result.logs, result.batches) == (20, 80, 80, 1)
    assert not JobLog.objects.exists()
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_concurrent_pruners_split_the_work_without_errors(make_job: Callable[..., Job]) -> None:
    for _ in range(12):
        job = make_job()
        finish(job, Status.DONE)
        age(job, 30)
    results: list[services.PruneResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def prune() -> None:
        try:
            start.wait()
            results.append(services.prune_jobs(batch_size=1))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.jobs for r in results) == 12
    assert remaining() == set()
    assert JobEvent.objects.count() == Attempt.objects.count() == 0


def _storage() -> JobStorage:
    storage = JobStorage(queues=("default",), worker_name="w", engine=engine_settings())
    storage._next_prune = 0.0  # due now
    return storage


def test_the_workers_tick_prunes_at_its_interval(jobs_by_state: dict[str, Job]) -> None:
    storage = _storage()

    assert storage.read_schedule(None) == []
    assert len(remaining()) == 2
    age(jobs_by_state["done_new"], 8)
    storage.read_schedule(None)  # not due again for JOBDECK_PRUNE_INTERVAL_SECONDS
    assert len(remaining()) == 2


def test_a_failing_prune_is_logged_and_never_stops_the_tick(
    db: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: object) -> services.PruneResult:
        raise JobdeckError("boom")

    monkeypatch.setattr(services, "prune_jobs", broken)
    monkeypatch.setattr("jobs.engine.storage.close_old_connections", lambda: None)

    with caplog.at_level(logging.ERROR, logger="jobs.engine.storage"):
        assert _storage().read_schedule(None) == []

    assert [r.getMessage() for r in caplog.records] == ["pruning finished jobs failed"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retention": -DAY}, "retention must be between 0 and 36500 days"),
        ({"failed_retention": 40_000 * DAY}, "failed retention must be between 0 and 36500 days"),
        ({"batch_size": 0}, "batch size must be a whole number between 1 and 100000"),
        ({"batch_size": 100_001}, "batch size must be a whole number between 1 and 100000"),
        ({"max_batches": -1}, "max batches must be a whole number, 0 or more"),
    ],
)
@pytest.mark.django_db
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(JobdeckError, match=message):
        services.prune_jobs(**kwargs)


@pytest.mark.django_db
def test_a_bad_retention_setting_is_refused(settings: object) -> None:
    settings.JOBDECK_RETENTION_DAYS = -1  # type: ignore[attr-defined]

    with pytest.raises(JobdeckError, match="retention must be between 0 and 36500 days"):
        services.prune_jobs()


@pytest.mark.django_db
def test_a_batch_row_goes_once_its_jobs_are_all_pruned() -> None:
    from jobs.models import Batch

    new = services.enqueue_batch(
        specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(2)],
        on_complete=services.JobSpec(task_name="tests.tasks.add", args=[0, 0]),
    )
    members = [job.pk for job in new.jobs]
    old = timezone.now() - 10 * DAY
    Batch.objects.filter(pk=new.batch.pk).update(created_at=old)
    Job.objects.filter(pk__in=members).update(status=Status.DONE, finished_at=old)

    # The members go; the callback has not run yet, so the batch stays.
    assert services.prune_jobs().job_batches == 0
    assert not Job.objects.filter(pk__in=members).exists() and Batch.objects.filter(pk=new.batch.pk).exists()

    Job.objects.filter(pk=new.callbacks["on_complete"].pk).update(status=Status.DONE, finished_at=old)
    result = services.prune_jobs()
    assert (result.jobs, result.job_batches) == (1, 1)
    assert not Batch.objects.filter(pk=new.batch.pk).exists()
