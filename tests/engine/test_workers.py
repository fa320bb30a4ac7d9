"""The engine end to end: real runworkers subprocesses against the test database."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from jobs import selectors, services
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def spec(task: str, *args, **fields) -> JobSpec:  # noqa: ANN001, ANN002, ANN003
    kwargs = fields.pop("kwargs", {})
    return JobSpec(task_name=f"tests.tasks.{task}", args=list(args), kwargs=kwargs, **fields)


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def all_finished() -> bool:
    return not Job.objects.active().exists()


def test_four_worker_processes_run_2000_jobs_exactly_once(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "runs.txt"
    jobs = services.enqueue_jobs(specs=[spec("record_run", str(log)) for _ in range(2000)])
    for kind in ("thread", "thread", "process", "process"):
        start_workers("-w", "2", "-k", kind)

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == 2000, timeout=180)

    runs = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert len(runs) == 2000
    assert set(runs.values()) == {1}
    assert set(Job.objects.values_list("attempt", flat=True)) == {1}
    assert Attempt.objects.filter(outcome=Attempt.Outcome.DONE).count() == 2000
    assert {j.pk for j in jobs} == {int(k) for k in runs}


def test_job_failing_twice_then_succeeding_ends_done_after_three_attempts(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "attempts.txt"
    job = services.enqueue_job(spec=spec("fail_until", str(log), 3, max_attempts=5))
    start_workers("-w", "1")

    wait_until(lambda: status_of(job) == Status.DONE)

    assert job.attempt == 3
    assert job.result == 3
    outcomes = list(Attempt.objects.filter(job=job).values_list("number", "outcome", "error_class"))
    assert outcomes == [
        (1, "failed", "builtins.ValueError"),
        (2, "failed", "builtins.ValueError"),
        (3, "done", ""),
    ]
    times = [float(line.split()[1]) for line in log.read_text().splitlines()]
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert second_gap >= first_gap - 0.05  # exponential backoff: the wait grows
    statuses = [(e.old_status, e.new_status) for e in selectors.job_events(job.pk)]
    assert statuses.count(("running", "retrying")) == 2
    assert statuses.count(("retrying", "queued")) == 2


def test_job_failing_every_attempt_ends_failed_with_every_traceback(start_workers, tmp_path: Path) -> None:
    job = services.enqueue_job(spec=spec("fail_until", str(tmp_path / "a.txt"), 99, max_attempts=3))
    start_workers("-w", "1")

    wait_until(lambda: status_of(job) == Status.FAILED)

    attempts = list(Attempt.objects.filter(job=job))
    assert [a.outcome for a in attempts] == ["failed"] * 3
    assert all("ValueError: attempt" in a.traceback for a in attempts)
    assert job.last_error == "builtins.ValueError: attempt 3 fails on purpose"


def test_jobs_run_in_priority_then_run_at_order(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "order.txt"
    services.pause_queue(name="prio")
    start_workers("-q", "prio", "-w", "1")
    for label, priority in [("low", -5), ("mid-1", 0), ("high", 10), ("mid-2", 0), ("top", 50)]:
        services.enqueue_job(spec=spec("append_line", str(log), label, queue="prio", priority=priority))
    services.resume_queue(name="prio")

    wait_until(all_finished)

    assert log.read_text().split() == ["top", "high", "mid-1", "mid-2", "low"]


def test_scheduled_job_does_not_start_before_run_at(start_workers) -> None:
    start_workers("-w", "1")
    job = services.enqueue_job(spec=spec("add", 1, 1, delay=1.0))
    assert job.status == Status.SCHEDULED

    wait_until(lambda: status_of(job) == Status.DONE)

    assert job.started_at >= job.run_at


def test_paused_queue_is_not_claimed(start_workers) -> None:
    services.pause_queue(name="held")
    start_workers("-q", "held,open", "-w", "2")
    held = services.enqueue_job(spec=spec("add", 1, 2, queue="held"))
    later = services.enqueue_job(spec=spec("add", 3, 4, queue="open"))

    wait_until(lambda: status_of(later) == Status.DONE)

    assert status_of(held) == Status.QUEUED
    services.resume_queue(name="held")
    wait_until(lambda: status_of(held) == Status.DONE)


def test_queue_concurrency_limit_is_never_exceeded(start_workers, tmp_path: Path) -> None:
    services.set_queue_concurrency(name="limited", limit=2)
    services.enqueue_jobs(specs=[spec("probe_concurrency", str(tmp_path), 0.2, queue="limited") for _ in range(12)])
    start_workers("-q", "limited", "-w", "3")
    start_workers("-q", "limited", "-w", "3", "-k", "process")

    wait_until(all_finished, timeout=60)

    observed = [int(n) for n in (tmp_path / "observed.txt").read_text().split()]
    assert len(observed) == 12
    assert max(observed) == 2


def test_cancelled_queued_job_never_starts(start_workers) -> None:
    services.pause_queue(name="q")
    start_workers("-q", "q", "-w", "1")
    job = services.enqueue_job(spec=spec("add", 1, 2, queue="q"))
    services.cancel_job(job_id=job.pk)
    marker = services.enqueue_job(spec=spec("add", 5, 5, queue="q"))
    services.resume_queue(name="q")

    wait_until(lambda: status_of(marker) == Status.DONE)

    job.refresh_from_db()
    assert (job.status, job.attempt, job.started_at) == (Status.CANCELLED, 0, None)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_cancel_running_cooperative_job_ends_cancelled(start_workers, tmp_path: Path, kind: str) -> None:
    started = tmp_path / "started"
    start_workers("-w", "1", "-k", kind)
    job = services.enqueue_job(spec=spec("cooperative_sleep", 30, str(started)))
    wait_until(started.exists)

    services.cancel_job(job_id=job.pk, actor="tester")

    wait_until(lambda: status_of(job) == Status.CANCELLED)
    assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["cancelled"]
    reasons = [e.reason for e in selectors.job_events(job.pk)]
    assert "cancel requested" in reasons


def test_cancel_running_stubborn_job_is_hard_stopped_on_process_worker(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    start_workers("-w", "1", "-k", "process")
    job = services.enqueue_job(spec=spec("stubborn_sleep", 60, str(started)))
    wait_until(started.exists)

    services.cancel_job(job_id=job.pk)

    wait_until(lambda: status_of(job) == Status.CANCELLED, timeout=15)
    attempt = Attempt.objects.get(job=job)
    assert (attempt.outcome, attempt.error_class) == ("cancelled", "jobs.context.JobCancelled")


def test_cancel_running_stubborn_job_on_thread_worker_discards_its_result(start_workers, tmp_path: Path) -> None:
    started = tmp_path / "started"
    start_workers("-w", "1", "-k", "thread")
    job = services.enqueue_job(spec=spec("stubborn_sleep", 1.5, str(started)))
    wait_until(started.exists)

    services.cancel_job(job_id=job.pk)

    wait_until(lambda: status_of(job) == Status.CANCELLED)
    assert job.result is None


@pytest.mark.parametrize(("kind", "task"), [("process", "stubborn_sleep"), ("thread", "cooperative_sleep")])
def test_job_past_its_timeout_fails_with_timeout(start_workers, kind: str, task: str) -> None:
    start_workers("-w", "1", "-k", kind)
    job = services.enqueue_job(spec=spec(task, 30, timeout=0.5, max_attempts=1))

    wait_until(lambda: status_of(job) == Status.FAILED, timeout=15)

    attempt = Attempt.objects.get(job=job)
    assert (attempt.outcome, attempt.error_class) == ("timeout", "jobs.context.JobTimeout")


def test_progress_is_visible_while_and_after_running(start_workers) -> None:
    start_workers("-w", "1")
    job = services.enqueue_job(spec=spec("progress_steps", 4))

    wait_until(lambda: status_of(job) == Status.DONE)

    assert (job.progress, job.progress_message) == (1.0, "step 4")


def test_task_taking_context_sees_attempt_numbers_across_retries(start_workers) -> None:
    start_workers("-w", "1")
    job = services.enqueue_job(spec=spec("with_context", kwargs={"fail_until_attempt": 3}, max_attempts=3))

    wait_until(lambda: status_of(job) == Status.DONE)

    assert job.result == 3


def test_async_task_runs_on_thread_and_process_workers(start_workers) -> None:
    from tests.tasks import async_add

    start_workers("-w", "1", "-k", "thread")
    start_workers("-w", "1", "-k", "process")
    results = [async_add.enqueue(a=n, b=1) for n in range(6)]

    wait_until(lambda: all(async_add.get_result(r.id).status == "SUCCESSFUL" for r in results))

    assert [async_add.get_result(r.id).return_value for r in results] == [n + 1 for n in range(6)]


def test_unserialisable_result_fails_the_job_clearly(start_workers) -> None:
    start_workers("-w", "1")
    job = services.enqueue_job(spec=spec("returns_unserialisable", max_attempts=1))

    wait_until(lambda: status_of(job) == Status.FAILED)

    assert Attempt.objects.get(job=job).error_class == "builtins.TypeError"


def test_django_task_signals_fire_on_the_worker_once_per_attempt_and_at_the_end(start_workers, tmp_path: Path) -> None:
    from tests.tasks import with_context

    log = tmp_path / "signals.txt"
    start_workers("-w", "1", JOBDECK_TEST_SIGNAL_LOG=str(log))
    result = with_context.enqueue(fail_until_attempt=2)

    wait_until(lambda: with_context.get_result(result.id).status == "SUCCESSFUL")
    wait_until(lambda: "finished" in log.read_text())  # sent just after the outcome is stored

    assert log.read_text().splitlines() == [
        f"started {result.id} RUNNING 1 0 True",
        f"started {result.id} RUNNING 2 1 True",  # a retry's TaskResult carries the earlier error
        f"finished {result.id} SUCCESSFUL 2 1 True",
    ]
    assert with_context.get_result(result.id).return_value == 2


def test_task_finished_after_three_failed_attempts_carries_all_three_errors(start_workers, tmp_path: Path) -> None:
    from tests.tasks import with_context

    log = tmp_path / "signals.txt"
    start_workers("-w", "1", JOBDECK_TEST_SIGNAL_LOG=str(log))
    result = with_context.enqueue(fail_until_attempt=99)  # max_attempts 3 (the default)

    wait_until(lambda: with_context.get_result(result.id).status == "FAILED")
    wait_until(lambda: "finished" in log.read_text())

    assert log.read_text().splitlines() == [
        f"started {result.id} RUNNING 1 0 True",
        f"started {result.id} RUNNING 2 1 True",
        f"started {result.id} RUNNING 3 2 True",
        f"finished {result.id} FAILED 3 3 True",  # sent once stored: get_result() agrees
    ]
