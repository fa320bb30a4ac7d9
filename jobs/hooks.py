"""Lifecycle hooks: the task's and the project's (JOBDECK_HOOKS) callables run in the worker once a
job's outcome is stored.

Kinds: on_success (done), on_failure (failed: last attempt, discarded, not retryable), on_retry (a
retry is scheduled; a snooze is not a retry) and on_cancel (a cancel the worker recorded: the job was
running; cancelling a waiting job happens in a web process, where no hook runs). Each hook gets a
JobOutcome. A hook that raises is logged and noted on the job's timeline (an event whose status does
not change); it never changes the stored outcome nor stops the next hook or the next job.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from jobs import states
from jobs.conf import HOOK_KINDS, project_hooks
from jobs.models import Attempt
from jobs.status import Status

logger = logging.getLogger(__name__)

Hook = Callable[["JobOutcome"], object]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What a hook is told about the job (read-only; a copy, not the row)."""

    kind: str  # on_success | on_failure | on_retry | on_cancel
    job_id: int
    task_name: str
    queue: str
    attempt: int
    max_attempts: int
    status: str  # the stored status: done | failed | retrying | cancelled
    reason: str  # the event's reason ("done", "attempts exhausted", "discarded: ...")
    result: Any = None  # the task's return value (on_success)
    error_class: str = ""  # dotted name of the exception (failure, retry, cancel)
    error_message: str = ""
    retry_at: datetime.datetime | None = None  # on_retry: when the next attempt may start


def kind_of(end: states.Finish) -> str | None:
    """Which hooks a finish calls, or None (a snooze, a requeue)."""
    if end.to == Status.DONE:
        return "on_success"
    if end.to == Status.FAILED:
        return "on_failure"
    if end.to == Status.CANCELLED:
        return "on_cancel"
    if end.to == Status.RETRYING and not (end.failure and end.failure.outcome == Attempt.Outcome.SNOOZED):
        return "on_retry"
    return None


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def hooks_for(task: object, kind: str) -> list[Any]:
    """The task's hooks of `kind`, then the project's: callables or dotted paths, in call order."""
    return _as_list(getattr(task, kind, None)) + project_hooks().get(kind, [])


def check_hooks(value: object) -> bool:
    """Whether a task's hook option is a callable, a dotted path, or a list of them."""
    return all(callable(h) or (isinstance(h, str) and "." in h) for h in _as_list(value))


@functools.cache
def _imported(path: str) -> Hook:
    hook: Hook = import_string(path)
    return hook


def after_stored(end: states.Finish, task: object) -> Callable[[], None] | None:
    """What to call once `end` is stored: its hooks, or None when there are none (most jobs)."""
    kind = kind_of(end)
    if kind is None:
        return None
    hooks = hooks_for(task, kind)
    if not hooks:
        return None
    claimed, failure = end.claimed, end.failure
    outcome = JobOutcome(
        kind=kind,
        job_id=claimed.id,
        task_name=claimed.task_name,
        queue=claimed.queue,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        status=end.to,
        reason=end.reason,
        result=end.result,
        error_class=failure.error_class if failure else "",
        error_message=failure.message if failure else "",
        retry_at=end.retry_at,
    )
    return functools.partial(run_hooks, outcome, hooks, worker=claimed.worker)


def run_hooks(outcome: JobOutcome, hooks: list[Any], *, worker: str) -> None:
    """Call each hook with `outcome`; a hook that raises (or cannot be imported) is logged and noted
    on the job's timeline."""
    for hook in hooks:
        name = hook if isinstance(hook, str) else getattr(hook, "__qualname__", repr(hook))
        try:
            (_imported(hook) if isinstance(hook, str) else hook)(outcome)
        except Exception as exc:
            logger.exception(
                "hook %s %s of job %s raised",
                outcome.kind,
                name,
                outcome.job_id,
                extra={"job_id": outcome.job_id, "worker_id": worker, "action": "hook_raised"},
            )
            _note(outcome, f"hook {outcome.kind} {name} raised {type(exc).__name__}: {exc}", worker)


def _note(outcome: JobOutcome, reason: str, worker: str) -> None:
    try:
        states.record_note(
            job_id=outcome.job_id,
            queue=outcome.queue,
            status=outcome.status,
            attempt=outcome.attempt,
            reason=reason,
            actor=worker,
        )
    except Exception:  # the database refusing the note must not stop the worker either
        logger.exception("could not note a hook failure on job %s", outcome.job_id, extra={"job_id": outcome.job_id})


__all__ = ["HOOK_KINDS", "JobOutcome", "after_stored", "check_hooks", "hooks_for", "kind_of", "run_hooks"]
