"""Fault tests: workers killed with -9, drained with SIGTERM, stopped with SIGINT. Nothing is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from jobs import selectors, services
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def sleeper(seconds: float, started: Path, task: str = "cooperative_sleep", **fields) -> Job:  # noqa: ANN003
    return services.enqueue_job(spec=JobSpec(task_name=f"tests.tasks.{task}", args=[seconds, str(started)], **fields))


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_kill_9_mid_job_is_rescued_and_completed_by_another_worker(start_workers, tmp_path: Path, kind: str) -> None:
    started = tmp_path / "started"
    first = start_workers("-w", "1", "-k", kind)
    job = sleeper(1.0, started)
    wait_until(started.exists)
    held_by = Job.objects.get(pk=job.pk).worker

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    start_workers("-w", "1", "-k", kind)

    wait_until(lambda: status_of(job) == Status.DONE, timeout=30)
    attempts = list(Attempt.objects.filter(job=job))
    assert [(a.number, a.outcome) for a in attempts] == [(1, "lost"), (2, "done")]
    assert attempts[0].worker == held_by != attempts[1].worker
    moves = [(e.old_status, e.new_status, e.reason) for e in selectors.job_events(job.pk)]
    assert ("running", "queued", "worker lost; requeued") in moves


def test_kill_9_of_a_forked_worker_child_is_rescued(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    worker = start_workers("-w", "1", "-k", "process")
    job = sleeper(1.0, started)
    wait_until(started.exists)
    child_pid = int(started.read_text())
    assert child_pid != worker.pid

    os.kill(child_pid, signal.SIGKILL)

    # huey's health check replaces the dead child; the rescuer requeues the job it held.
    wait_until(lambda: status_of(job) == Status.DONE, timeout=40)
    assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["lost", "done"]


def test_job_that_keeps_killing_its_worker_ends_failed_worker_lost(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    job = sleeper(30, started, max_attempts=1)
    first = start_workers("-w", "1")
    wait_until(started.exists)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    start_workers("-w", "1")

    wait_until(lambda: status_of(job) == Status.FAILED, timeout=30)
    assert job.last_error == "worker lost"


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_sigterm_lets_short_jobs_finish_and_requeues_the_rest(start_workers, tmp_path: Path, kind: str) -> None:
    short_started, long_started = tmp_path / "short", tmp_path / "long"
    worker = start_workers("-w", "2", "-k", kind, "--shutdown-grace", "2")
    short = sleeper(0.5, short_started)
    long = sleeper(60, long_started, task="stubborn_sleep")
    wait_until(lambda: short_started.exists() and long_started.exists())

    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0
    assert status_of(short) == Status.DONE
    assert status_of(long) == Status.QUEUED
    assert list(Attempt.objects.filter(job=long).values_list("outcome", flat=True)) == ["interrupted"]
    assert not psutil.pid_exists(int(long_started.read_text()))  # no orphan left running the job


def test_sigint_stops_now_and_requeues_running_jobs(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    worker = start_workers("-w", "1", "-k", "process")
    job = sleeper(60, started, task="stubborn_sleep")
    wait_until(started.exists)

    worker.signal(signal.SIGINT)

    assert worker.wait(timeout=30) == 0
    assert status_of(job) == Status.QUEUED
    start_workers("-w", "1", "-k", "process")
    wait_until(lambda: Job.objects.get(pk=job.pk).attempt == 2)


def test_drained_worker_is_marked_stopped(start_workers) -> None:
    from jobs.models import WorkerProcess

    worker = start_workers("-w", "1")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert WorkerProcess.objects.get(pid=worker.pid).stopped_at is not None


DATABASE_ERRORS = ("prepared statement", "IndexError", "TypeError", "psycopg", "OperationalError", "InterfaceError")


def test_replacement_process_workers_open_their_own_connections(start_workers, tmp_path: Path) -> None:
    """huey replaces a SIGKILLed process worker by forking runworkers again; the replacement must not
    share the parent's database session (on PostgreSQL two processes on one session clash)."""
    runs = tmp_path / "runs.txt"
    worker = start_workers("-w", "2", "-k", "process")

    def lines() -> list[tuple[int, int, int]]:
        text = runs.read_text() if runs.exists() else ""
        return [tuple(int(v) for v in line.split()) for line in text.splitlines()]  # type: ignore[misc]

    def children() -> set[int]:
        return {p.pid for p in psutil.Process(worker.pid).children()}

    all_jobs: list[int] = []
    killed: list[int] = []
    for _ in range(3):
        batch = services.enqueue_jobs(
            specs=[JobSpec(task_name="tests.tasks.record_pid", args=[str(runs), 0.01]) for _ in range(150)]
        )
        ids = {job.pk for job in batch}
        all_jobs += ids
        # Mid-drain: kill a worker child that has been running this batch's jobs.
        victim = wait_until(lambda ids=ids: next((pid for j, _, pid in reversed(lines()) if j in ids), None))
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        wait_until(lambda ids=ids: Job.objects.filter(pk__in=ids, status=Status.DONE).count() == len(ids), timeout=60)
        # huey's health check forks a replacement (2 workers + the scheduler process).
        wait_until(lambda victim=victim: victim not in children() and len(children()) == 3, timeout=30)

    # The replacements (children that never ran a job before the kills) drain a last batch too.
    last = services.enqueue_jobs(
        specs=[JobSpec(task_name="tests.tasks.record_pid", args=[str(runs), 0.01]) for _ in range(150)]
    )
    all_jobs += [job.pk for job in last]
    wait_until(lambda: Job.objects.filter(pk__in=all_jobs, status=Status.DONE).count() == len(all_jobs), timeout=60)

    per_job: dict[int, int] = {}
    for job_id, _, _ in lines():
        per_job[job_id] = per_job.get(job_id, 0) + 1
    assert set(per_job) == set(all_jobs)
    twice = {job_id for job_id, count in per_job.items() if count > 1}
    rescued = set(Attempt.objects.filter(job__in=twice, outcome=Attempt.Outcome.LOST).values_list("job", flat=True))
    assert twice == rescued  # a job ran again only when its first process died under it
    assert max(per_job.values()) <= 2
    log = worker.log()
    for error in DATABASE_ERRORS:
        assert error not in log, log
    ran_last = {pid for job_id, _, pid in lines() if job_id in {job.pk for job in last}}
    assert not ran_last & set(killed)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_shutdowns_do_not_spend_attempts(start_workers, tmp_path: Path, kind: str) -> None:
    """Two deploys interrupt a job with max_attempts=2; it still has both attempts for a transient
    failure and a success."""
    started, release, failed = tmp_path / "started", tmp_path / "release", tmp_path / "failed"
    job = services.enqueue_job(
        spec=JobSpec(
            task_name="tests.tasks.held_then_flaky", args=[str(started), str(release), str(failed)], max_attempts=2
        )
    )
    for _ in range(2):
        started.unlink(missing_ok=True)
        worker = start_workers("-w", "1", "-k", kind, "--shutdown-grace", "0.2")
        wait_until(started.exists)
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert status_of(job) == Status.QUEUED

    assert (job.attempt, job.interrupted, job.attempts_spent) == (2, 2, 0)
    release.touch()
    start_workers("-w", "1", "-k", kind)

    wait_until(lambda: status_of(job) == Status.DONE, timeout=30)
    assert (job.attempt, job.interrupted, job.attempts_spent, job.result) == (4, 2, 2, 4)
    outcomes = list(Attempt.objects.filter(job=job).values_list("outcome", flat=True))
    assert outcomes == ["interrupted", "interrupted", "failed", "done"]
