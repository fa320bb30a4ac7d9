"""Keep the log lines a task writes (Python logging inside the task) with its attempt, bounded in size.

One handler on the root logger of a worker process picks the records emitted on a thread that is
running a job and adds them to that attempt's LogBuffer. The lease keeper writes buffered lines
about once a second (so a running job's log is visible live), and execute() writes the rest when
the attempt ends. Tasks never wait on the database to log.
"""

from __future__ import annotations

import datetime
import logging
import threading
from dataclasses import dataclass

from jobs.context import current_job_or_none
from jobs.models import JobLog

CAPTURE_LEVEL = logging.INFO
IGNORED_LOGGERS = ("huey", "jobs.engine", "django.tasks")  # lines about the job, not from it
_formatter = logging.Formatter()


@dataclass(frozen=True)
class Limits:
    max_lines: int  # lines kept per attempt; later ones are counted, and a note says how many
    max_line_chars: int


class LogBuffer:
    """The lines of one attempt not yet written. Thread-safe: the task adds, the keeper writes."""

    def __init__(self, *, job_id: int, attempt: int, limits: Limits) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.limits = limits
        self.lock = threading.Lock()  # guards the fields below; held only briefly
        self.write_lock = threading.Lock()  # one writer at a time keeps lines in order
        self.pending: list[JobLog] = []
        self.accepted = 0
        self.dropped = 0

    def add(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{_formatter.formatException(record.exc_info)}"
        if len(message) > self.limits.max_line_chars:
            message = message[: self.limits.max_line_chars - 1] + "…"
        line = JobLog(
            job_id=self.job_id,
            attempt=self.attempt,
            created_at=datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC),
            level=record.levelno,
            logger=record.name[:200],
            message=message,
        )
        with self.lock:
            if self.accepted >= self.limits.max_lines:
                self.dropped += 1
                return
            self.accepted += 1
            self.pending.append(line)

    def write(self, *, final: bool = False) -> int:
        """Insert the pending lines; on the final write, a note of any lines over the limit.

        Lines leave the buffer only once inserted, so a failed write is retried by the next one.
        Returns the number of rows inserted.
        """
        with self.write_lock:
            with self.lock:
                lines = list(self.pending)
                note = [self._dropped_note()] if final and self.dropped else []
            if not lines and not note:
                return 0
            JobLog.objects.bulk_create(lines + note)
            with self.lock:
                del self.pending[: len(lines)]  # lines added meanwhile stay for the next write
                if note:
                    self.dropped = 0
            return len(lines) + len(note)

    def _dropped_note(self) -> JobLog:
        return JobLog(
            job_id=self.job_id,
            attempt=self.attempt,
            created_at=datetime.datetime.now(tz=datetime.UTC),
            level=logging.WARNING,
            logger="jobdeck",
            message=f"{self.dropped} more log lines were not kept (limit {self.limits.max_lines} per attempt)",
        )


class AttemptLogHandler(logging.Handler):
    """Routes records emitted while a job runs on this thread to that attempt's buffer."""

    def emit(self, record: logging.LogRecord) -> None:
        ctx = current_job_or_none()
        if ctx is None or ctx.logs is None or record.name.startswith(IGNORED_LOGGERS):
            return
        try:
            ctx.logs.add(record)
        except Exception:
            self.handleError(record)


def install() -> None:
    """Add the handler to the root logger once per process (forked workers inherit it)."""
    root = logging.getLogger()
    if not any(isinstance(handler, AttemptLogHandler) for handler in root.handlers):
        root.addHandler(AttemptLogHandler(level=CAPTURE_LEVEL))
