"""Isolated workers (--worker-type isolated): each job in a fresh process; a crash never reaches the next job."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from django.tasks import Task

from jobs import registry, services
from jobs.engine.isolated import crash_message
from jobs.models import Attempt, Job, WorkerProcess
from jobs.services import JobSpec
from jobs.status import Status
from tests import isolation_tasks
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

TASKS = "tests.tasks,tests.isolation_tasks"
# Long enough that a crash recorded within it was recorded by the slot, not by the lease rescuer.
SLOW_LEASE = {"JOBDECK_TASK_MODULES": TASKS, "JOBDECK_LEASE_SECONDS": "60", "JOBDECK_HEARTBEAT_SECONDS": "0.5"}


@pytest.fixture(autouse=True)
def _register_isolation_tasks() -> None:
    for value in vars(isolation_tasks).values():
        if isinstance(value, Task):
            registry.register(value)


def enqueue(task: str, *args: object, **fields: object) -> Job:
    kwargs = fields.pop("kwargs", {})
    return services.enqueue_job(
        spec=JobSpec(task_name=f"tests.isolation_tasks.{task}", args=list(args), kwargs=kwargs, **fields)  # type: ignore[arg-type]
    )


def pid_in(path: Path) -> int:
    """Wait for a task to write its pid to `path` (the file may exist a moment before its text)."""
    return int(wait_until(lambda: path.exists() and path.read_text()))


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def test_crash_message_names_the_signal_or_the_exit_code() -> None:
    assert crash_message(signal.SIGSEGV) == "process crashed: signal 11 (SIGSEGV)"
    assert crash_message(3 << 8) == "process crashed: exit code 3 before the job finished"


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("segfault", "process crashed: signal 11 (SIGSEGV)"),
        ("exit", "process crashed: exit code 3 before the job finished"),
        ("kill", "process crashed: signal 9 (SIGKILL)"),
    ],
)
def test_a_crashed_job_fails_its_attempt_at_once_and_is_retried(
    start_workers, tmp_path: Path, how: str, message: str
) -> None:
    log = tmp_path / "runs.txt"
    job = enqueue("crash_once", str(log), how, max_attempts=3)
    worker = start_workers("-w", "1", "-k", "isolated", JOBDECK_RETRY_BASE_SECONDS="0.1", **SLOW_LEASE)

    # Well within the 60 s lease: the slot saw its child die, no lease had to run out.
    wait_until(lambda: status_of(job) == Status.DONE, timeout=20)

    assert job.attempt == 2
    assert job.result == 2
    first, second = Attempt.objects.filter(job=job).order_by("number")
    assert (first.outcome, first.error_class, first.error_message) == (
        Attempt.Outcome.FAILED,
        "jobs.engine.isolated.ProcessCrashed",
        message,
    )
    assert second.outcome == Attempt.Outcome.DONE
    # Each attempt ran in its own process, both children of the one slot, which survived the crash.
    runs = [line.split() for line in log.read_text().splitlines()]
    assert [attempt for attempt, _, _ in runs] == ["1", "2"]
    assert runs[0][1] != runs[1][1]
    assert runs[0][2] == runs[1][2] != str(worker.pid)
    assert psutil.pid_exists(int(runs[0][2]))


def test_a_job_crashing_on_its_last_attempt_fails(start_workers, tmp_path: Path) -> None:
    job = enqueue("crash_once", str(tmp_path / "runs.txt"), "segfault", max_attempts=1)
    start_workers("-w", "1", "-k", "isolated", **SLOW_LEASE)

    wait_until(lambda: status_of(job) == Status.FAILED, timeout=20)

    attempt = Attempt.objects.get(job=job)
    assert attempt.error_message == "process crashed: signal 11 (SIGSEGV)"


def test_a_crash_the_slot_records_fires_task_finished_and_the_hooks(start_workers, tmp_path: Path) -> None:
    hooks_log, signals_log = tmp_path / "hooks.txt", tmp_path / "signals.txt"
    job = enqueue("crash_hooked")
    start_workers(
        "-w",
        "1",
        "-k",
        "isolated",
        JOBDECK_RETRY_BASE_SECONDS="0.1",
        JOBDECK_TEST_HOOK_LOG=str(hooks_log),
        JOBDECK_TEST_SIGNAL_LOG=str(signals_log),
        **SLOW_LEASE,
    )

    wait_until(lambda: status_of(job) == Status.FAILED, timeout=20)
    wait_until(lambda: hooks_log.exists() and len(hooks_log.read_text().splitlines()) == 2)
    wait_until(lambda: signals_log.exists() and "finished" in signals_log.read_text())

    crash = "process crashed: signal 11 (SIGSEGV)"
    assert hooks_log.read_text().splitlines() == [
        f"on_retry {job.pk} retrying 1 {crash}",
        f"on_failure {job.pk} failed 2 {crash}",
    ]
    # The child sent task_started for each attempt; the slot sent task_finished once, with both errors,
    # matching what get_result() returns.
    assert signals_log.read_text().splitlines() == [
        f"started {job.pk} RUNNING 1 0 True",
        f"started {job.pk} RUNNING 2 1 True",
        f"finished {job.pk} FAILED 2 2 True",
    ]


def test_globals_and_leaks_never_reach_the_next_job(start_workers) -> None:
    start_workers("-w", "1", "-k", "isolated", JOBDECK_TASK_MODULES=TASKS)
    results = []
    for value in ("first", "second", "third"):
        job = enqueue("change_global", value, kwargs={"leak_mb": 50})
        wait_until(lambda job=job: status_of(job) == Status.DONE)
        results.append(job.result)

    assert [found for found, _ in results] == ["pristine"] * 3
    assert len({pid for _, pid in results}) == 3


def test_thread_workers_by_contrast_carry_a_changed_global_over(start_workers) -> None:
    start_workers("-w", "1", "-k", "thread", JOBDECK_TASK_MODULES=TASKS)
    found = []
    for value in ("first", "second"):
        job = enqueue("change_global", value)
        wait_until(lambda job=job: status_of(job) == Status.DONE)
        found.append(job.result[0])

    assert found == ["pristine", "first"]


def test_a_job_deaf_to_its_timeout_is_killed_by_its_slot(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    job = enqueue("deaf_sleep", 600, str(started), timeout=1.0, max_attempts=1)
    start_workers("-w", "1", "-k", "isolated", **SLOW_LEASE)
    pid = pid_in(started)

    wait_until(lambda: status_of(job) == Status.FAILED, timeout=20)

    attempt = Attempt.objects.get(job=job)
    assert attempt.outcome == Attempt.Outcome.TIMEOUT
    assert "its process was killed" in attempt.error_message
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_job_deaf_to_its_cancel_is_killed_by_its_slot(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    job = enqueue("deaf_sleep", 600, str(started))
    start_workers("-w", "1", "-k", "isolated", JOBDECK_CANCEL_GRACE_SECONDS="0.5", **SLOW_LEASE)
    wait_until(started.exists)

    services.cancel_job(job_id=job.pk)

    wait_until(lambda: status_of(job) == Status.CANCELLED, timeout=20)
    assert Attempt.objects.get(job=job).outcome == Attempt.Outcome.CANCELLED


def test_cooperative_timeouts_and_cancels_work_as_on_process_workers(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    start_workers("-w", "2", "-k", "isolated", **SLOW_LEASE)
    timed = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.stubborn_sleep", args=[600], timeout=1.0, max_attempts=1)
    )
    cancelled = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.stubborn_sleep", args=[600, str(started)]))
    wait_until(started.exists)
    services.cancel_job(job_id=cancelled.pk)

    wait_until(lambda: status_of(timed) == Status.FAILED and status_of(cancelled) == Status.CANCELLED, timeout=20)
    assert Attempt.objects.get(job=timed).error_class == "jobs.context.JobTimeout"


def test_shutdown_past_its_grace_requeues_the_running_job_without_spending_an_attempt(
    start_workers, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    job = enqueue("wait_for_file", str(started), str(tmp_path / "never"), max_attempts=1)
    worker = start_workers("-w", "1", "-k", "isolated", JOBDECK_SHUTDOWN_GRACE_SECONDS="0.5", **SLOW_LEASE)
    child = pid_in(started)

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    job.refresh_from_db()
    assert (job.status, job.attempt, job.interrupted, job.attempts_spent) == (Status.QUEUED, 1, 1, 0)
    assert Attempt.objects.get(job=job).outcome == Attempt.Outcome.INTERRUPTED
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert WorkerProcess.objects.get(pid=worker.pid).worker_type == "isolated"


def test_kill_9_of_a_job_process_never_loses_the_job(start_workers, tmp_path: Path) -> None:
    # The outside world kills the job's process (the OOM killer, an operator): same as a crash.
    started = tmp_path / "started"
    release = tmp_path / "release"
    job = enqueue("wait_for_file", str(started), str(release), max_attempts=2)
    start_workers("-w", "1", "-k", "isolated", JOBDECK_RETRY_BASE_SECONDS="0.1", **SLOW_LEASE)
    first = pid_in(started)
    started.unlink()
    release.touch()  # the next attempt returns at once

    os.kill(first, signal.SIGKILL)

    wait_until(lambda: status_of(job) == Status.DONE, timeout=20)
    assert job.attempt == 2
    assert job.result != first
    assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["failed", "done"]


def test_two_isolated_slots_run_300_jobs_exactly_once_each_in_its_own_process(start_workers, tmp_path: Path) -> None:
    # Every child opens its own database connection and writes its own outcome; sharing the slot's
    # (a past defect of forked workers) would break the session on PostgreSQL and lose outcomes.
    log = tmp_path / "runs.txt"
    jobs = services.enqueue_jobs(
        specs=[JobSpec(task_name="tests.tasks.record_pid", args=[str(log)]) for _ in range(300)]
    )
    worker = start_workers("-w", "2", "-k", "isolated", JOBDECK_TASK_MODULES=TASKS)

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == 300, timeout=180)

    runs = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(job_id) for job_id, _, _ in runs) == sorted(job.pk for job in jobs)
    assert {attempt for _, attempt, _ in runs} == {"1"}
    assert len({pid for _, _, pid in runs}) == 300
    assert Attempt.objects.filter(outcome=Attempt.Outcome.DONE).count() == 300
    assert "Traceback" not in worker.log()
