"""Batches with real worker processes: 4 processes (thread and process types) finish the members of
1,000 small batches, the last two of a batch often at the same instant in two processes, and each
callback is released exactly once: on_success and on_complete of a batch that succeeded run once,
its on_failure is cancelled; a batch with a failed member runs on_complete and on_failure once and
cancels on_success. Once more with a worker killed with -9 mid-way."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from jobs import services
from jobs.models import Attempt, Batch, Job, JobEvent
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

ROLES = ("on_success", "on_complete", "on_failure")


def enqueue_batches(count: int, runs: Path, failures: Path) -> dict[int, bool]:
    """`count` batches of two members (every fifth with one failing for good) and all three
    callbacks, each recording its run as a line "<batch> <role>" in `runs`. Returns whether each
    batch (by its first member's index) has a failing member."""
    failing: dict[int, bool] = {}
    for n in range(count):
        failing[n] = n % 5 == 0
        members = [JobSpec(task_name="tests.tasks.add", args=[n, 1])]
        if failing[n]:
            members.append(JobSpec(task_name="tests.tasks.fail_until", args=[str(failures), 99], max_attempts=1))
        else:
            members.append(JobSpec(task_name="tests.tasks.add", args=[n, 2]))
        callbacks = {
            role: JobSpec(task_name="tests.tasks.append_line", args=[str(runs), f"{n} {role}"]) for role in ROLES
        }
        services.enqueue_batch(specs=members, description=str(n), **callbacks)
    return failing


def check_each_callback_once(runs: Path, failing: dict[int, bool]) -> None:
    """Each expected callback was released (scheduled -> queued) exactly once, ran and is done; each
    other one was cancelled once and never ran.

    Execution itself is at-least-once: a callback whose worker was killed, or whose lease ran out
    on this loaded machine, is rescued and runs again. Such a job shows one recorded run per
    attempt at most, and each attempt but the last ended "lost"; never a second release."""
    lines = Counter(runs.read_text().splitlines())
    batches = {int(b.description): b for b in Batch.objects.all()}
    jobs = {j.pk: j for j in Job.objects.filter(batch_id__isnull=True)}
    released = Counter(
        JobEvent.objects.filter(job_id__in=jobs, old_status=Status.SCHEDULED).values_list("job_id", "new_status")
    )
    lost = Counter(
        Attempt.objects.filter(job_id__in=jobs, outcome=Attempt.Outcome.LOST).values_list("job_id", flat=True)
    )
    assert len(batches) == len(failing)
    for n, failed in failing.items():
        expected = {"on_complete", "on_failure"} if failed else {"on_success", "on_complete"}
        for role in ROLES:
            job = jobs[getattr(batches[n], f"{role}_id")]
            ran = lines[f"{n} {role}"]
            if role in expected:
                assert job.status == Status.DONE, (n, role, job.status, job.last_error)
                assert released[(job.pk, Status.QUEUED)] == 1, (n, role)
                assert 1 <= ran <= job.attempt == 1 + lost[job.pk], (n, role, ran, job.attempt, lost[job.pk])
            else:
                assert job.status == Status.CANCELLED, (n, role, job.status)
                assert released[(job.pk, Status.CANCELLED)] == 1, (n, role)
                assert (ran, job.attempt) == (0, 0), (n, role)


def test_four_workers_run_each_callback_of_1000_batches_exactly_once(start_workers, tmp_path: Path) -> None:
    runs, failures = tmp_path / "runs", tmp_path / "failures"
    runs.touch()
    for kind in ("thread", "thread", "process", "process"):
        start_workers("-w", "2", "-k", kind)

    failing = enqueue_batches(1000, runs, failures)  # while the workers drain the first ones
    wait_until(lambda: not Job.objects.active().exists(), timeout=240)

    check_each_callback_once(runs, failing)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_a_worker_killed_mid_way_loses_no_callback_and_runs_none_twice(
    start_workers, tmp_path: Path, kind: str
) -> None:
    runs, failures = tmp_path / "runs", tmp_path / "failures"
    runs.touch()
    kinds = ("thread", "thread", "process", "process")
    workers = [start_workers("-w", "2", "-k", k) for k in kinds]
    victim = workers[kinds.index(kind)]

    failing = enqueue_batches(200, runs, failures)
    wait_until(lambda: len(runs.read_text().splitlines()) >= 100, timeout=60)
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait()

    wait_until(lambda: not Job.objects.active().exists(), timeout=240)

    check_each_callback_once(runs, failing)
