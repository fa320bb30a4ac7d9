"""The running job as seen from inside a task: progress, cancellation, deadline."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jobs.exceptions import JobdeckError

_local = threading.local()


class JobCancelled(Exception):  # noqa: N818 - reads as an event, like KeyboardInterrupt
    """Raised inside a task that was cancelled (by check_cancelled(), or a hard stop)."""


class JobTimeout(Exception):  # noqa: N818
    """Raised inside a task that ran past its timeout (hard on process workers)."""


class WorkerLost(Exception):  # noqa: N818
    """Recorded (never raised) for an attempt whose worker died or hung until its lease expired."""


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
