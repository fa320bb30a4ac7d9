"""An outcome the database refuses for longer than a lease (write lock held, connection lost) is
kept by its worker, whose lease keeps being renewed, and stored once the database takes writes
again: the job runs exactly once and keeps its real outcome, whoever writes first afterwards."""

from __future__ import annotations

import datetime
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from jobs import services, states
from jobs.database import datetime_value
from jobs.models import Attempt, Job, JobEvent
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

postgres_only = pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL")
sqlite_only = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite's write lock")


def start_job(tmp_path: Path) -> tuple[Job, Path, Path]:
    runs, started, release = tmp_path / "runs", tmp_path / "started", tmp_path / "release"
    spec = JobSpec(task_name="tests.tasks.run_once_released", args=[str(runs), str(started), str(release)])
    job = services.enqueue_job(spec=spec)
    wait_until(started.exists)
    return job, runs, release


def runs_of(runs: Path) -> list[str]:
    return runs.read_text().splitlines()


def lease_ran_out(read: Any, job: Job) -> bool:
    """Whether the job's lease, as `read` sees it, lies in the past (on this host's clock, which is
    the database's here)."""
    expires = datetime_value(read(job.pk))
    return expires is not None and expires < datetime.datetime.now(datetime.UTC)


def assert_ran_once_with_its_real_outcome(job: Job, runs: Path) -> None:
    wait_until(lambda: Job.objects.get(pk=job.pk).status == Status.DONE, timeout=60)
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (Status.DONE, 1, job.pk)
    assert runs_of(runs) == [f"{job.pk} 1"]
    assert list(Attempt.objects.filter(job=job).values_list("number", "outcome")) == [(1, "done")]


@sqlite_only
def test_outcome_outlasting_a_held_sqlite_write_lock_is_stored_and_the_job_runs_once(
    start_workers: Any, tmp_path: Path
) -> None:
    """The brief's scenario: another process holds the write lock past the lease while the job
    finishes; once it lets go, the worker's outcome, its renewals and the rescuer all race."""
    start_workers("-w", "1")
    start_workers("-w", "1")  # a second worker, whose tick may rescue the job and which may claim it
    job, runs, release = start_job(tmp_path)

    holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        release.touch()  # the job returns now; its outcome cannot be written

        def read(pk: int) -> Any:
            return holder.execute("SELECT lease_expires_at FROM jobs_job WHERE id = ?", [pk]).fetchone()[0]

        wait_until(lambda: lease_ran_out(read, job), timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert_ran_once_with_its_real_outcome(job, runs)


@sqlite_only
def test_outcome_stored_after_the_rescuer_won_the_lock_and_requeued_the_job(start_workers: Any, tmp_path: Path) -> None:
    """The rescuer writes first once the lock is free (here: in the lock holder's own transaction),
    so the outcome arrives late; it is still stored and the job does not run again."""
    worker = start_workers("-w", "1")
    job, runs, release = start_job(tmp_path)

    with transaction.atomic():  # BEGIN IMMEDIATE: this connection holds the write lock
        release.touch()
        wait_until(lambda: lease_ran_out(lambda pk: Job.objects.get(pk=pk).lease_expires_at, job), timeout=30)
        assert states.rescue_expired() == 1

    assert_ran_once_with_its_real_outcome(job, runs)
    moves = list(JobEvent.objects.filter(job=job).order_by("id").values_list("old_status", "new_status", "reason"))
    assert moves[-2:] == [
        ("running", "queued", "worker lost; requeued"),
        ("queued", "done", "done (stored late: its lease had run out)"),
    ]
    assert "outcome stored after its lease had run out" in worker.log()


@postgres_only
def test_outcome_held_up_past_the_lease_keeps_its_lease_renewed(start_workers: Any, tmp_path: Path) -> None:
    """A lock on the attempts table holds up the outcome (and any rescue) but not lease renewals:
    the worker keeps renewing the finished job's lease, so nothing is rescued."""
    import psycopg

    start_workers("-w", "1")
    job, runs, release = start_job(tmp_path)
    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"] or 5432) as holder:
        holder.execute("LOCK TABLE jobs_attempt IN EXCLUSIVE MODE")  # reads still pass
        release.touch()
        first = Job.objects.get(pk=job.pk).lease_expires_at
        # Two renewals later the first lease has run out, and the finished job is still held.
        wait_until(lambda: Job.objects.get(pk=job.pk).lease_expires_at > first + datetime.timedelta(seconds=1))
        wait_until(lambda: holder.execute("SELECT clock_timestamp() > %s", [first]).fetchone()[0])
        assert Job.objects.get(pk=job.pk).status == Status.RUNNING

    assert_ran_once_with_its_real_outcome(job, runs)
    assert not JobEvent.objects.filter(job=job, reason="worker lost; requeued").exists()


@postgres_only
def test_outcome_pending_when_the_workers_connection_is_cut_is_stored(start_workers: Any, tmp_path: Path) -> None:
    """The worker's sessions are terminated while the outcome waits on a lock; it reconnects and
    stores it."""
    import psycopg

    worker = start_workers("-w", "1")
    job, runs, release = start_job(tmp_path)
    s = connection.settings_dict
    with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"] or 5432) as holder:
        holder.execute("LOCK TABLE jobs_attempt IN EXCLUSIVE MODE")
        release.touch()
        # The worker's outcome statement is waiting for the lock: cut that session.
        waiting = "FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        wait_until(lambda: holder.execute(f"SELECT count(*) {waiting}").fetchone()[0] > 0)
        holder.execute(f"SELECT pg_terminate_backend(pid) {waiting}")
    assert_ran_once_with_its_real_outcome(job, runs)
    assert "could not store the outcome of job" in worker.log()
