"""Tasks and hooks of the retry-policy and hook tests (workers load them: JOBDECK_TASK_MODULES)."""

from __future__ import annotations

import time
from pathlib import Path

from django.tasks import task

from jobs.context import check_cancelled, current_job, discard, retry_in, snooze
from jobs.hooks import JobOutcome


def _append(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


def record_hook(outcome: JobOutcome) -> None:
    """Append "<kind> <job id> <status> <attempt>" to the file named in the job's result or error."""
    path = outcome.result if outcome.kind == "on_success" else outcome.error_message.rsplit(" ", 1)[-1]
    _append(path, f"{outcome.kind} {outcome.job_id} {outcome.status} {outcome.attempt}")


def raising_hook(outcome: JobOutcome) -> None:
    raise ValueError(f"hook broke on job {outcome.job_id}")


@task(on_success=[raising_hook, record_hook])
def hooked_ok(path: str) -> str:
    return path


@task(
    max_attempts=2, backoff={"kind": "constant", "base": 0.1, "jitter": 0}, on_retry=record_hook, on_failure=record_hook
)
def hooked_failing(path: str) -> None:
    raise RuntimeError(f"always fails {path}")


@task(on_failure="tests.retry_tasks.record_hook")
def hooked_discard(path: str) -> None:
    discard(f"no longer wanted {path}")


@task()
def snooze_once(seconds: float) -> int:
    ctx = current_job()
    if ctx.snoozes == 0:
        snooze(seconds)
    return ctx.snoozes


@task(max_snoozes=2)
def snooze_forever() -> None:
    snooze(0.05)


@task(max_attempts=3)
def retry_in_once(seconds: float) -> int:
    ctx = current_job()
    if ctx.attempt == 1:
        retry_in(seconds, "not ready yet")
    return ctx.attempt


@task(max_attempts=1)
def retry_in_without_attempts() -> None:
    retry_in(0.1)


@task(max_attempts=5, discard_on=[KeyError])
def fail_discard_on() -> None:
    raise KeyError("gone")


@task(max_attempts=5, retry_on=["builtins.ConnectionError"])
def fail_not_in_retry_on() -> None:
    raise ValueError("not a connection problem")


@task(max_attempts=5, retry_on=[ConnectionError])
def fail_in_retry_on_until(path: str, succeed_on: int) -> int:
    ctx = current_job()
    if ctx.attempt < succeed_on:
        raise ConnectionResetError("flaky")  # a subclass of ConnectionError
    return ctx.attempt


@task(max_attempts=3, backoff={"kind": "constant", "base": 0.5, "jitter": 0})
def fail_always_constant(path: str) -> None:
    _append(path, f"{current_job().attempt} {time.time()}")
    raise RuntimeError("fails")


@task(max_attempts=3)
def fail_always(path: str) -> None:
    _append(path, f"{current_job().attempt} {time.time()}")
    raise RuntimeError("fails")


def _gate(gate_dir: str) -> None:
    """Say this attempt started, then wait for the test's "go" file (the test kills the worker meanwhile)."""
    Path(gate_dir, f"started-{current_job().attempt}").touch()
    while not Path(gate_dir, "go").exists():
        time.sleep(0.02)


@task(max_attempts=3)
def snooze_after_gate(gate_dir: str) -> int:
    ctx = current_job()
    if ctx.snoozes:
        return ctx.snoozes
    _gate(gate_dir)
    snooze(0.2)


@task(max_attempts=3)
def discard_after_gate(gate_dir: str) -> None:
    _gate(gate_dir)
    discard("stopped by the task")


@task()
def returns_path(path: str) -> str:
    return path


def record_cancel(outcome: JobOutcome) -> None:
    """on_cancel: append to the file named by the job's first argument."""
    from jobs.models import Job

    path = Job.objects.values_list("args", flat=True).get(pk=outcome.job_id)[0]
    _append(path, f"{outcome.kind} {outcome.job_id} {outcome.status} {outcome.error_class}")


@task(on_cancel=record_cancel)
def wait_for_cancel(path: str) -> None:
    Path(path + ".started").touch()
    while True:
        check_cancelled()
        time.sleep(0.02)
