"""The state machine's decisions, with no database: which moves are allowed, and what a finish, a
rescue or a release sets. The modules that write (hot.py, orm.py) apply them."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobs.exceptions import InvalidTransition
from jobs.models import Attempt
from jobs.states.history import clip_error
from jobs.status import ALLOWED, Status, attempts_spent

if TYPE_CHECKING:
    from jobs.states.records import Finish


def _same(value: Any) -> Any:
    return value


def check_move(job_id: int | None, old: str, to: str) -> None:
    """Raise InvalidTransition unless the state machine allows `old` -> `to`."""
    if to not in ALLOWED[old]:
        raise InvalidTransition(job_id, old, to)


def finish_fields(
    end: Finish, *, dt: Callable[[Any], Any] = _same, json: Callable[[Any], Any] = _same
) -> dict[str, Any]:
    """The job columns a finish sets, in order, with datetimes passed through `dt` and the result
    through `json` (the raw writer adapts them for its database). Raises InvalidTransition if a
    running job cannot move to `end.to`."""
    to, failure = end.to, end.failure
    check_move(end.claimed.id, Status.RUNNING, to)
    fields: dict[str, Any] = {"status": to, "lease_expires_at": None}
    if to == Status.DONE:
        fields.update(result=json(end.result), finished_at=dt(end.ended_at), last_error="", progress=1.0)
    elif to in (Status.FAILED, Status.CANCELLED):
        fields["finished_at"] = dt(end.ended_at)
    if end.retry_at is not None:
        fields["run_at"] = dt(end.retry_at)
    if failure is not None and failure.message:
        fields["last_error"] = clip_error(f"{failure.error_class}: {failure.message}")
    return fields


def counts_as_interrupted(end: Finish) -> bool:
    """Whether the finish adds one to Job.interrupted: the attempt is recorded but not spent."""
    return end.failure is not None and end.failure.outcome == Attempt.Outcome.INTERRUPTED


def counts_as_snoozed(end: Finish) -> bool:
    """Whether the finish adds one to Job.snoozes: the task asked to run later, the attempt is not spent."""
    return end.failure is not None and end.failure.outcome == Attempt.Outcome.SNOOZED


def late_reason(reason: str) -> str:
    """The event reason of an outcome stored after its job was rescued (see hot.write_late_finish())."""
    return f"{reason} (stored late: its lease had run out)"


def rescue_move(
    *,
    cancel_requested: bool,
    attempt: int,
    interrupted: int,
    max_attempts: int,
    now: datetime.datetime,
    snoozes: int = 0,
) -> tuple[str, str, dict[str, Any]]:
    """Where a job whose lease expired goes: (status, event reason, job columns to set).

    Cancelled if someone asked; failed once its attempts are spent (so a job that kills its worker
    cannot loop forever); else queued again.
    """
    if cancel_requested:
        to, reason = Status.CANCELLED, "worker lost after cancel was requested"
    elif attempts_spent(attempt=attempt, interrupted=interrupted, snoozes=snoozes) >= max_attempts:
        to, reason = Status.FAILED, "worker lost"
    else:
        to, reason = Status.QUEUED, "worker lost; requeued"
    fields: dict[str, Any] = {"status": to, "lease_expires_at": None, "last_error": "worker lost"}
    if to != Status.QUEUED:
        fields["finished_at"] = now
    return to, reason, fields


def expired_reason(expires_at: datetime.datetime | None) -> str:
    """Why a job past its deadline ended cancelled: its event reason and last_error."""
    if expires_at is None:
        return "expired"
    return f"expired: not started by {expires_at.astimezone(datetime.UTC).isoformat(timespec='seconds')}"
