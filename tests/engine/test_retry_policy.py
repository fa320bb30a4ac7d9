"""Retry policy per job, task and queue; snooze, discard and retry_in from inside a task, with real
workers (and kill -9 of a worker in the middle of a snoozing or discarding job)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from django.tasks import Task

from jobs import registry, selectors, services
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from jobs.waiting import waiting_reason
from tests import retry_tasks
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

TASK_MODULES = "tests.tasks,tests.retry_tasks"


@pytest.fixture(autouse=True)
def _register_retry_tasks() -> None:
    for value in vars(retry_tasks).values():
        if isinstance(value, Task):
            registry.register(value)


def enqueue(task: str, *args: Any, **fields: Any) -> Job:
    return services.enqueue_job(spec=JobSpec(task_name=f"tests.retry_tasks.{task}", args=list(args), **fields))


def reloaded(job: Job) -> Job:
    job.refresh_from_db()
    return job


def outcomes(job: Job) -> list[str]:
    return list(Attempt.objects.filter(job=job).values_list("outcome", flat=True))


def reasons(job: Job) -> list[str]:
    return [e.reason for e in selectors.job_events(job.pk)]


def start(start_workers: Any, *args: str, **env: str) -> Any:
    return start_workers("-w", "1", *args, JOBDECK_TASK_MODULES=TASK_MODULES, **env)


def test_snooze_runs_again_later_without_using_an_attempt(start_workers: Any) -> None:
    job = enqueue("snooze_once", 0.3, max_attempts=1)
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.DONE)

    assert (job.result, job.attempt, job.snoozes, job.attempts_spent) == (0 + 1, 2, 1, 1)
    assert outcomes(job) == ["snoozed", "done"]
    snoozed = next(r for r in reasons(job) if r.startswith("snoozed until"))
    assert snoozed.endswith("(snooze 1 of 10)")


def test_snoozing_past_max_snoozes_fails_with_the_reason(start_workers: Any) -> None:
    job = enqueue("snooze_forever")
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.FAILED)

    assert outcomes(job) == ["snoozed", "snoozed", "failed"]
    assert job.snoozes == 2 and job.attempts_spent == 1
    assert reasons(job)[-1] == "snoozed more than 2 times"


def test_a_jobs_own_max_snoozes_overrides_its_tasks(start_workers: Any) -> None:
    fewer = enqueue("snooze_forever", max_snoozes=1)  # the task says 2
    none = enqueue("snooze_forever", max_snoozes=0)
    start(start_workers)

    wait_until(lambda: reloaded(fewer).status == Status.FAILED and reloaded(none).status == Status.FAILED)

    assert outcomes(fewer) == ["snoozed", "failed"] and reasons(fewer)[-1] == "snoozed more than 1 times"
    assert outcomes(none) == ["failed"] and reasons(none)[-1] == "snoozed more than 0 times"


def test_a_snoozed_job_counts_its_snoozes_against_its_own_max_snoozes(start_workers: Any) -> None:
    job = enqueue("snooze_once", 60, max_snoozes=7)
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.RETRYING)

    assert reasons(job)[-1].endswith("(snooze 1 of 7)")
    assert waiting_reason(job).endswith("(snooze 1 of 7)")


def test_discard_fails_at_once_with_its_reason_and_is_never_retried(start_workers: Any, tmp_path: Path) -> None:
    job = enqueue("hooked_discard", str(tmp_path / "hooks.txt"), max_attempts=5)
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.FAILED)

    assert job.attempt == 1
    assert reasons(job)[-1] == f"discarded: no longer wanted {tmp_path / 'hooks.txt'}"
    assert Attempt.objects.get(job=job).error_class == "jobs.context.Discard"


def test_retry_in_uses_an_attempt_and_waits_the_time_asked(start_workers: Any) -> None:
    job = enqueue("retry_in_once", 0.3)
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.DONE)

    assert (job.result, job.attempt, job.attempts_spent) == (2, 2, 2)
    assert "retry in 0.3s" in reasons(job)
    first, second = Attempt.objects.filter(job=job).order_by("number")
    assert (second.started_at - first.finished_at).total_seconds() >= 0.3


def test_retry_in_without_attempts_left_fails(start_workers: Any) -> None:
    job = enqueue("retry_in_without_attempts")
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.FAILED)

    assert reasons(job)[-1] == "attempts exhausted"


def test_discard_on_and_retry_on_fail_at_once(start_workers: Any) -> None:
    discarded = enqueue("fail_discard_on")
    not_listed = enqueue("fail_not_in_retry_on")
    listed = enqueue("fail_in_retry_on_until", "x", 3)
    start(start_workers)

    wait_until(lambda: reloaded(discarded).status == Status.FAILED and reloaded(not_listed).status == Status.FAILED)
    wait_until(lambda: reloaded(listed).status == Status.DONE)

    assert discarded.attempt == 1 and reasons(discarded)[-1] == "discarded: builtins.KeyError matches discard_on"
    assert not_listed.attempt == 1
    assert reasons(not_listed)[-1] == "not retried: builtins.ValueError is not in retry_on"
    assert listed.attempt == 3  # a subclass of a retry_on class is retried


def test_the_jobs_own_policy_comes_before_the_tasks(start_workers: Any) -> None:
    job = enqueue("fail_discard_on", discard_on=["builtins.LookupError"], max_attempts=2)
    other = enqueue("fail_not_in_retry_on", retry_on=["builtins.ValueError"], max_attempts=2)
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.FAILED and reloaded(other).status == Status.FAILED)

    assert job.attempt == 1  # KeyError is a LookupError
    assert other.attempt == 2 and reasons(other)[-1] == "attempts exhausted"


def _gaps(path: Path) -> list[float]:
    times = [float(line.split()[1]) for line in path.read_text().splitlines()]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_backoff_comes_from_the_job_the_task_or_the_queue(start_workers: Any, tmp_path: Path) -> None:
    services.set_queue_retry_policy(name="slowq", backoff={"kind": "constant", "base": 1.2, "jitter": 0})
    by_task, by_job, by_queue = tmp_path / "task.txt", tmp_path / "job.txt", tmp_path / "queue.txt"
    enqueue("fail_always_constant", str(by_task))  # the task's: constant 0.5 s
    enqueue("fail_always", str(by_job), backoff={"kind": "linear", "base": 0.2, "jitter": 0})
    enqueue("fail_always", str(by_queue), queue="slowq", max_attempts=2)
    start(start_workers, "-q", "default,slowq")

    wait_until(lambda: Job.objects.filter(status=Status.FAILED).count() == 3, timeout=30)

    assert all(0.5 <= gap < 1.5 for gap in _gaps(by_task)), _gaps(by_task)
    first, second = _gaps(by_job)
    assert 0.2 <= first < 0.35 + 0.5 and 0.4 <= second < 0.55 + 0.5  # linear: 0.2, then 0.4
    assert all(gap >= 1.2 for gap in _gaps(by_queue)), _gaps(by_queue)


@pytest.mark.parametrize("task", ["snooze_after_gate", "discard_after_gate"])
def test_snooze_and_discard_with_the_worker_killed_mid_attempt(start_workers: Any, tmp_path: Path, task: str) -> None:
    job = enqueue(task, str(tmp_path))
    first = start(start_workers)
    wait_until(lambda: (tmp_path / "started-1").exists())

    first.signal(signal.SIGKILL)
    first.wait()
    (tmp_path / "go").touch()
    start(start_workers)

    if task == "snooze_after_gate":
        wait_until(lambda: reloaded(job).status == Status.DONE, timeout=30)
        assert outcomes(job) == ["lost", "snoozed", "done"]
        assert (job.attempt, job.snoozes, job.attempts_spent, job.result) == (3, 1, 2, 1)
    else:
        wait_until(lambda: reloaded(job).status == Status.FAILED, timeout=30)
        assert outcomes(job) == ["lost", "failed"]
        assert reasons(job)[-1] == "discarded: stopped by the task"


def test_snooze_stored_then_worker_killed_is_run_by_another_worker(start_workers: Any) -> None:
    job = enqueue("snooze_once", 2.0)
    first = start(start_workers)
    wait_until(lambda: reloaded(job).snoozes == 1)

    assert job.status == Status.RETRYING
    assert waiting_reason(job).startswith("snoozed until ")  # type: ignore[union-attr]
    assert waiting_reason(job).endswith(" (snooze 1 of 10)")  # type: ignore[union-attr]
    first.signal(signal.SIGKILL)
    first.wait()
    start(start_workers)

    wait_until(lambda: reloaded(job).status == Status.DONE, timeout=30)
    assert outcomes(job) == ["snoozed", "done"]
