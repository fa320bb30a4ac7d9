"""The running job as seen from inside a task: progress, cancellation, deadline, and the outcomes a
task may ask for (snooze, discard, retry in N seconds)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jobs.exceptions import JobdeckError

_local = threading.local()
_UNREAD = object()  # JobContext's trace context before it is read


class JobCancelled(Exception):  # noqa: N818 - reads as an event, like KeyboardInterrupt
    """Raised inside a task that was cancelled (by check_cancelled(), or a hard stop)."""


class JobTimeout(Exception):  # noqa: N818
    """Raised inside a task that ran past its timeout (hard on process workers)."""


class WorkerLost(Exception):  # noqa: N818
    """Recorded (never raised) for an attempt whose worker died or hung until its lease expired."""


class JobControl(Exception):  # noqa: N818 - control flow, not an error
    """Base of the outcomes a task asks for by raising (snooze(), discard(), retry_in()). The worker
    turns them into the job's outcome; code that catches Exception around them should re-raise them."""


class Snooze(JobControl):
    """Run me again in `seconds`; no attempt used (bounded by the task's max_snoozes)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"snoozed for {seconds:g}s")
        self.seconds = seconds


class Discard(JobControl):
    """Stop now: the job fails with `reason` and is never retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryIn(JobControl):
    """Fail this attempt and retry in `seconds` (an attempt is used; failed if none is left)."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {seconds:g}s")
        self.seconds = seconds
        self.reason = reason


def _seconds(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 365 * 24 * 3600:
        raise ValueError(f"{name}() takes a number of seconds between 0 and one year")
    return float(value)


def snooze(seconds: float) -> NoReturn:
    """Put the running job back to wait `seconds` without using an attempt (raises Snooze)."""
    raise Snooze(_seconds(seconds, "snooze"))


def discard(reason: str = "discarded") -> NoReturn:
    """End the running job as failed with `reason`, no retry (raises Discard)."""
    raise Discard(str(reason) or "discarded")


def retry_in(seconds: float, reason: str = "") -> NoReturn:
    """End this attempt and retry the job in `seconds`, using an attempt (raises RetryIn)."""
    raise RetryIn(_seconds(seconds, "retry_in"), str(reason))


@dataclass
class JobContext:
    job_id: int
    attempt: int
    max_attempts: int
    worker: str
    timeout: float | None
    started: float = field(default_factory=time.monotonic)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    logs: Any = None  # the attempt's captured log lines (a jobs.engine.logcapture.LogBuffer) on a worker
    snoozes: int = 0  # times this job was snoozed before this attempt
    task: str = ""  # the job's task name and queue, for log lines (jobs.logjson)
    queue: str = ""
    _trace: Any = field(default=_UNREAD, repr=False)

    @property
    def deadline(self) -> float | None:
        return None if self.timeout is None else self.started + self.timeout

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_event.is_set()

    def timed_out(self) -> bool:
        deadline = self.deadline
        return deadline is not None and time.monotonic() > deadline

    def check_cancelled(self) -> None:
        """Raise JobCancelled if someone cancelled this job, JobTimeout if its time ran out."""
        if self.cancel_event.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self.timed_out():
            raise JobTimeout(f"job {self.job_id} timed out after {self.timeout}s")

    @property
    def trace_context(self) -> dict[str, str] | None:
        """The W3C trace context the job was enqueued under ({"traceparent": ..., "tracestate": ...}),
        or None; read from the database on first use (one query), never when no one asks."""
        if self._trace is _UNREAD:
            from jobs import selectors, tracing

            self._trace = selectors.job_trace_context(self.job_id) if tracing.enabled() else None
        carrier: dict[str, str] | None = self._trace
        return carrier

    def set_progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0.0 to 1.0) and a short message for the dashboard and API."""
        from jobs import services

        services.set_progress(job_id=self.job_id, attempt=self.attempt, fraction=fraction, message=message)


def current_job() -> JobContext:
    """The context of the job running in this thread; raises JobdeckError outside a job."""
    ctx: JobContext | None = getattr(_local, "job", None)
    if ctx is None:
        raise JobdeckError("No job is running in this thread")
    return ctx


def current_job_or_none() -> JobContext | None:
    """The context of the job running in this thread, or None."""
    return getattr(_local, "job", None)


def set_current(ctx: JobContext | None) -> None:
    _local.job = ctx


def check_cancelled() -> None:
    """Shortcut for current_job().check_cancelled() that is a no-op outside a job."""
    ctx = getattr(_local, "job", None)
    if ctx is not None:
        ctx.check_cancelled()


def set_progress(fraction: float, message: str = "") -> None:
    """Shortcut for current_job().set_progress() that is a no-op outside a job."""
    ctx = getattr(_local, "job", None)
    if ctx is not None:
        ctx.set_progress(fraction, message)


def trace_context() -> dict[str, str] | None:
    """Shortcut for current_job().trace_context that is None outside a job."""
    ctx = getattr(_local, "job", None)
    return None if ctx is None else ctx.trace_context
