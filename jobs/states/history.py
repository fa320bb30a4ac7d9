"""The one writer of job history: JobEvent and Attempt rows, one column list and one truncation policy each.

The hot moves send these rows inside their own statements (hot.py: an INSERT into EVENT_TARGET or
ATTEMPT_TARGET); the cold moves write them here through the ORM. Both build the values with
event_row() and attempt_row(), so the columns, their order and the caps are stated once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobs.models import Attempt, JobEvent

if TYPE_CHECKING:
    from jobs.states.records import Failure

EVENT_COLUMNS = ("job_id", "queue", "old_status", "new_status", "attempt", "reason", "actor", "created_at")
ATTEMPT_COLUMNS = (
    "job_id",
    "number",
    "worker",
    "started_at",
    "finished_at",
    "outcome",
    "error_class",
    "error_message",
    "traceback",
    "progress",
    "progress_message",
)
EVENT_TARGET = f"{JobEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)})"
ATTEMPT_TARGET = f"{Attempt._meta.db_table} ({', '.join(ATTEMPT_COLUMNS)})"

# The truncation policy: text is cut to its column's max_length, and free text (error messages,
# tracebacks) to a size a page can still show.
REASON_CHARS = 500
ACTOR_CHARS = 200  # also a worker's name
ERROR_CLASS_CHARS = 255
ERROR_CHARS = 10_000  # an attempt's error message, and the job's last_error
TRACEBACK_CHARS = 100_000


def clip_actor(actor: str) -> str:
    """Who made a move (a user, a token, a worker), as stored in JobEvent.actor."""
    return actor[:ACTOR_CHARS]


def clip_error(text: str) -> str:
    """An error message as stored (Attempt.error_message, Job.last_error)."""
    return text[:ERROR_CHARS]


def event_row(
    *, job_id: Any, queue: Any, old: str, new: str, attempt: Any, reason: str, actor: str, at: Any
) -> list[Any]:
    """A JobEvent's values in EVENT_COLUMNS order. Raw writers may pass column references for
    job_id, queue and attempt, and `at` already adapted for their database."""
    return [job_id, queue, old, new, attempt, reason[:REASON_CHARS], clip_actor(actor), at]


def attempt_row(
    *,
    job_id: Any,
    number: int,
    worker: str,
    started_at: Any,
    finished_at: Any,
    failure: Failure | None,
    progress: Any,
    progress_message: Any,
) -> list[Any]:
    """An Attempt's values in ATTEMPT_COLUMNS order: done unless `failure` says how it failed."""
    outcome: str
    if failure is None:
        outcome, error_class, message, traceback = Attempt.Outcome.DONE, "", "", ""
    else:
        outcome = failure.outcome
        error_class = failure.error_class[:ERROR_CLASS_CHARS]
        message = clip_error(failure.message)
        traceback = failure.traceback[:TRACEBACK_CHARS]
    return [
        job_id,
        number,
        clip_actor(worker),
        started_at,
        finished_at,
        outcome,
        error_class,
        message,
        traceback,
        progress,
        progress_message,
    ]


def write_events(rows: Sequence[list[Any]]) -> None:
    """Insert JobEvent rows built by event_row() (one statement, none for no rows)."""
    if rows:
        JobEvent.objects.bulk_create([JobEvent(**dict(zip(EVENT_COLUMNS, row, strict=True))) for row in rows])


def write_attempts(rows: Sequence[list[Any]]) -> None:
    """Insert Attempt rows built by attempt_row(): attempts that did not finish on their own (lost,
    interrupted); a finished attempt's row travels with its finish (hot.py)."""
    if rows:
        Attempt.objects.bulk_create([Attempt(**dict(zip(ATTEMPT_COLUMNS, row, strict=True))) for row in rows])
