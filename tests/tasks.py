"""Tasks used by the test suite (loaded by workers through JOBDECK_TASK_MODULES=tests.tasks)."""

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from django.tasks import task
from django.tasks.signals import task_finished, task_started

from jobs.context import check_cancelled, current_job, set_progress


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
def append_line(path: str, line: str) -> None:
    """Append `line` to a file (O_APPEND writes of one line are atomic across processes)."""
    with open(path, "a") as f:
        f.write(line + "\n")


@task()
def fail_until(path: str, succeed_on: int) -> int:
    """Record the attempt and time, fail until attempt `succeed_on`."""
    ctx = current_job()
    with open(path, "a") as f:
        f.write(f"{ctx.attempt} {time.time()}\n")
    if ctx.attempt < succeed_on:
        raise ValueError(f"attempt {ctx.attempt} fails on purpose")
    return ctx.attempt


@task()
def probe_concurrency(directory: str, hold: float) -> int:
    """Mark itself running in `directory`, note how many run at once, hold, then unmark."""
    marker = Path(directory) / f"running-{uuid.uuid4().hex}"
    marker.touch()
    try:
        running = sum(1 for p in Path(directory).iterdir() if p.name.startswith("running-"))
        with open(Path(directory) / "observed.txt", "a") as f:
            f.write(f"{running}\n")
        time.sleep(hold)
        return running
    finally:
        marker.unlink()


@task()
def cooperative_sleep(seconds: float, started_path: str = "") -> float:
    """Sleep in small steps, checking for cancellation; touch started_path when it begins."""
    if started_path:
        Path(started_path).write_text(str(os.getpid()))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check_cancelled()
        time.sleep(0.02)
    return seconds


@task()
def stubborn_sleep(seconds: float, started_path: str = "") -> float:
    """Sleep without ever checking for cancellation (only a hard stop ends it early)."""
    if started_path:
        Path(started_path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


@task()
def progress_steps(steps: int) -> int:
    for step in range(steps):
        set_progress((step + 1) / steps, f"step {step + 1}")
    return steps


@task(takes_context=True)
def with_context(context, fail_until_attempt: int = 0) -> int:  # noqa: ANN001 - Django passes TaskContext
    if context.attempt < fail_until_attempt:
        raise RuntimeError(f"attempt {context.attempt}")
    return context.attempt


@task()
def echo_arguments(*args: object, **kwargs: object) -> dict:
    """Return the arguments as the task received them."""
    return {"args": list(args), "kwargs": kwargs}


@task()
def returns_chars(count: int) -> str:
    return "x" * count


@task()
def returns_unserialisable() -> object:
    return object()


@task()
def record_run(path: str) -> int:
    """Append "<job id> <attempt>" to a file: the test counts executions per job."""
    ctx = current_job()
    with open(path, "a") as f:
        f.write(f"{ctx.job_id} {ctx.attempt}\n")
    return ctx.job_id


@task(max_attempts=4, timeout=30)
def with_options() -> str:
    """Declares Jobdeck's extra task options (max_attempts, timeout)."""
    return "ok"


@task()
def log_then_fail_once(wait_path: str = "") -> int:
    """Log lines and report progress; attempt 1 logs an exception and fails, attempt 2 succeeds.

    With `wait_path`, attempt 2 waits (checking for cancellation) until that file exists, so a
    test can look at its log while it runs.
    """
    ctx = current_job()
    log = logging.getLogger("tests.tasks.logging")
    log.info("attempt %s starts", ctx.attempt)
    log.debug("debug lines are below the capture level")
    set_progress(0.5, f"halfway through attempt {ctx.attempt}")
    if ctx.attempt == 1:
        try:
            raise KeyError("missing thing")
        except KeyError:
            log.exception("attempt 1 could not find the thing")
        raise ValueError("attempt 1 fails on purpose")
    log.warning("attempt %s recovered", ctx.attempt)
    while wait_path and not Path(wait_path).exists():
        check_cancelled()
        time.sleep(0.02)
    return ctx.attempt


@task()
async def async_add(a: int, b: int) -> int:
    """An async task: the worker runs it to completion on its own event loop."""
    await asyncio.sleep(0.01)
    return a + b


@task()
def chatty(lines: int, width: int = 10) -> int:
    """Log `lines` lines of `width` characters (tests the per-attempt limits)."""
    log = logging.getLogger("tests.tasks.chatty")
    for n in range(lines):
        log.info("%s", f"{n:04d}".ljust(width, "x"))
    return lines


def _facts(result: object) -> tuple:
    """Everything a TaskResult tells a receiver (the return value only once successful)."""
    r: Any = result
    errors = [(e.exception_class_path, e.traceback) for e in r.errors]
    value = getattr(r, "_return_value", None) if r.status == "SUCCESSFUL" else None
    times = (r.enqueued_at, r.started_at, r.finished_at, r.last_attempted_at)
    return (r.id, r.status, errors, r.worker_ids, times, r.args, r.kwargs, value, r.task.queue_name, r.task.priority)


class UnprintableError(Exception):
    """An exception that breaks whatever tries to describe it, chosen by `mode`."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.mode = mode

    def __str__(self) -> str:
        if self.mode in ("str", "both"):
            raise RuntimeError("__str__ is broken")
        return "printable after all"

    def __repr__(self) -> str:
        if self.mode in ("repr", "both"):
            raise RuntimeError("__repr__ is broken")
        return "UnprintableError()"

    @property
    def __notes__(self) -> list[str]:  # read by traceback formatting, which lets this escape
        if self.mode == "traceback":
            raise RuntimeError("__notes__ is broken")
        raise AttributeError("__notes__")


@task()
def raise_unprintable(mode: str) -> None:
    raise UnprintableError(mode)


@task()
def spawn_and_linger(pids_path: str, linger: float = 0.0) -> int:
    """Start `sleep 600` twice (a plain child, and a double-forked daemon in its own session),
    write "<worker pid> <child pid> <daemon pid>" to `pids_path`, then sleep `linger` seconds."""
    import subprocess

    child = subprocess.Popen(["sleep", "600"])  # noqa: S607 - the test's own helper
    daemon_pid_path = f"{pids_path}.daemon"
    # setsid sh forks the sleep into the background and exits: the sleep's parent is gone.
    subprocess.run(["setsid", "sh", "-c", f"sleep 600 & echo $! > {daemon_pid_path}"], check=True)  # noqa: S607
    daemon_pid = int(Path(daemon_pid_path).read_text())
    Path(pids_path).write_text(f"{os.getpid()} {child.pid} {daemon_pid}")
    time.sleep(linger)
    return child.pid


@task()
def record_pid(path: str, seconds: float = 0.0, leak_mb: int = 0) -> int:
    """Append "<job id> <attempt> <pid>" to a file, then sleep `seconds`: the test sees which process
    ran what. With `leak_mb`, keep that much memory for good. Returns the pid."""
    if leak_mb:
        _leaked.append(b"x" * (leak_mb * 1024 * 1024))
    ctx = current_job()
    with open(path, "a") as f:
        f.write(f"{ctx.job_id} {ctx.attempt} {os.getpid()}\n")
    time.sleep(seconds)
    return os.getpid()


_leaked: list[bytes] = []


def _log_signal(name: str, task_result: object) -> None:
    """Log "<signal> <id> <status> <attempts> <errors> <same>": `same` tells whether the signal's
    TaskResult matches what get_result() returns at that moment ("-" on a backend without get_result,
    such as Django's ImmediateBackend in tests/jobs/test_tasks_differential.py)."""
    path = os.environ.get("JOBDECK_TEST_SIGNAL_LOG")
    if path:
        r: Any = task_result
        backend = r.task.get_backend()
        same = _facts(r) == _facts(backend.get_result(r.id)) if backend.supports_get_result else "-"
        with open(path, "a") as f:
            f.write(f"{name} {r.id} {r.status} {r.attempts} {len(r.errors)} {same}\n")


def _on_started(sender: object, task_result: object, **kwargs: object) -> None:
    _log_signal("started", task_result)


def _on_finished(sender: object, task_result: object, **kwargs: object) -> None:
    _log_signal("finished", task_result)


task_started.connect(_on_started)
task_finished.connect(_on_finished)


@task()
def held_then_flaky(started_path: str, release_path: str, failed_path: str) -> int:
    """Note its pid, wait (never checking for cancellation) until `release_path` exists, then fail
    once (creating `failed_path`) and succeed on every later run."""
    ctx = current_job()
    Path(started_path).write_text(str(os.getpid()))
    while not Path(release_path).exists():
        time.sleep(0.02)
    if not Path(failed_path).exists():
        Path(failed_path).touch()
        raise RuntimeError("a transient failure")
    return ctx.attempt


@task()
def run_once_released(runs_path: str, started_path: str, release_path: str) -> int:
    """Append "<job id> <attempt>" to `runs_path`, then wait (never checking for cancellation) until
    `release_path` exists and return the job id: a test decides when the job finishes."""
    ctx = current_job()
    with open(runs_path, "a") as f:
        f.write(f"{ctx.job_id} {ctx.attempt}\n")
    Path(started_path).touch()
    while not Path(release_path).exists():
        time.sleep(0.02)
    return ctx.job_id


@task(concurrency_key="customer:{customer_id}", concurrency_limit=2)
def keyed_sync(customer_id: int, hold: float = 0) -> int:
    """Concurrency per key from a template: at most two syncs of one customer at once."""
    time.sleep(hold)
    return customer_id


@task()
def record_interval(path: str, hold: float) -> None:
    """Append "<job id> <start> <end>" (wall-clock seconds) for the run: a check of what ran at once
    that does not rely on the database's own timestamps."""
    start = time.time()
    time.sleep(hold)
    with open(path, "a") as log:
        log.write(f"{current_job().job_id} {start} {time.time()}\n")


@task()
def trace_info(enqueue_child: bool = False) -> dict:
    """The trace context the job sees (jobs.context), the OpenTelemetry trace id it runs under when
    that is installed, and with `enqueue_child` the id of a job it enqueued (which should join the trace)."""
    from jobs import services
    from jobs.context import trace_context

    info: dict[str, Any] = {"trace_context": trace_context(), "otel_trace_id": None}
    try:
        from opentelemetry import trace
    except ImportError:
        pass
    else:
        span_context = trace.get_current_span().get_span_context()
        info["otel_trace_id"] = format(span_context.trace_id, "032x") if span_context.is_valid else None
    if enqueue_child:
        info["child"] = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2])).pk
    logging.getLogger("tests.tasks.trace").info("trace info of job %s", current_job().job_id)
    return info


def _total(value: object) -> int:
    return sum(_total(v) for v in value) if isinstance(value, list) else int(value or 0)  # type: ignore[call-overload]


@task()
def chain_step(*previous: object, log: str, add: int, meet: str = "", meet_count: int = 0) -> int:
    """A chain step for the workers' test: returns `add` plus the results passed in (a number or a
    group's list), and appends "<job id> <start> <end>" to `log`. With `meet`, first waits (up to
    60 s) until `meet_count` steps have arrived there: steps that all arrive ran at the same time."""
    start = time.time()
    if meet:
        Path(meet, str(current_job().job_id)).touch()
        deadline = time.monotonic() + 60
        while len(os.listdir(meet)) < meet_count and time.monotonic() < deadline:
            time.sleep(0.01)
    total = add + sum(_total(value) for value in previous)
    with open(log, "a") as out:
        out.write(f"{current_job().job_id} {start} {time.time()}\n")
    return total


@task(concurrency_key="customer:{customer_id}", on_conflict="drop")
def refresh_customer(customer_id: int) -> int:
    """Unique per key: while one refresh of a customer waits or runs, another enqueue returns it."""
    return customer_id
