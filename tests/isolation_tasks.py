"""Tasks for the isolated worker and --reload tests (workers load them through JOBDECK_TASK_MODULES)."""

import ctypes
import os
import signal
import time
from pathlib import Path

from django.tasks import task

from jobs.context import current_job
from jobs.hooks import JobOutcome

_state = {"value": "pristine"}
_leaked: list[bytes] = []


@task()
def crash_once(path: str, how: str) -> int:
    """Append "<attempt> <pid> <parent pid>" to `path`; on the first attempt, die `how`: "segfault",
    "exit" (os._exit(3)) or "kill" (SIGKILL to itself). Returns the attempt."""
    ctx = current_job()
    with open(path, "a") as f:
        f.write(f"{ctx.attempt} {os.getpid()} {os.getppid()}\n")
    if ctx.attempt == 1:
        if how == "segfault":
            ctypes.string_at(0)
        elif how == "exit":
            os._exit(3)
        else:
            os.kill(os.getpid(), signal.SIGKILL)
    return ctx.attempt


@task()
def change_global(value: str, leak_mb: int = 0) -> list:
    """Set a module global (and keep `leak_mb` MB for good); return [the value found, this pid]."""
    found = _state["value"]
    _state["value"] = value
    if leak_mb:
        _leaked.append(b"x" * (leak_mb * 1024 * 1024))
    return [found, os.getpid()]


@task()
def deaf_sleep(seconds: float, started_path: str = "") -> float:
    """Sleep with the hard-stop signals (SIGALRM, SIGUSR1, SIGINT) blocked: only a kill stops it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGUSR1, signal.SIGINT})
    if started_path:
        Path(started_path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@task()
def wait_for_file(started_path: str, release_path: str) -> int:
    """Note this pid in `started_path`, then wait until `release_path` exists; return the pid."""
    Path(started_path).write_text(str(os.getpid()))
    while not Path(release_path).exists():
        time.sleep(0.02)
    return os.getpid()


def record_outcome(outcome: JobOutcome) -> None:
    """A hook: append "<kind> <job id> <status> <attempt> <error message>" to $JOBDECK_TEST_HOOK_LOG."""
    with open(os.environ["JOBDECK_TEST_HOOK_LOG"], "a") as f:
        f.write(f"{outcome.kind} {outcome.job_id} {outcome.status} {outcome.attempt} {outcome.error_message}\n")


@task(max_attempts=2, on_retry=record_outcome, on_failure=record_outcome)
def crash_hooked() -> None:
    """Die of a segfault on every attempt: the slot records each crash, then runs the hooks."""
    ctypes.string_at(0)
