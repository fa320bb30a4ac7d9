"""How a job reads in Django's Tasks API: one TaskResult builder for get_result() and every signal.

The backend's get_result(), the worker's task_started and task_finished and the services'
task_enqueued all build their TaskResult here, from the same facts, so a signal receiver sees what
get_result() returns at that moment: every earlier attempt's error, every worker, the stored state.
"""

from __future__ import annotations

import datetime
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.dispatch import Signal
from django.tasks import Task, TaskResult, TaskResultStatus, signals
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.signals import task_enqueued, task_finished, task_started

from jobs import registry, selectors
from jobs.status import FINISHED, Status

if TYPE_CHECKING:
    from jobs.states import ClaimedJob, Finish

logger = logging.getLogger(__name__)

# Our seven states on Django's four (documented in docs/architecture.md).
DJANGO_STATUS: dict[str, TaskResultStatus] = {  # keyed by Status (str values), looked up by job.status
    Status.SCHEDULED: TaskResultStatus.READY,
    Status.QUEUED: TaskResultStatus.READY,
    Status.RETRYING: TaskResultStatus.READY,
    Status.RUNNING: TaskResultStatus.RUNNING,
    Status.DONE: TaskResultStatus.SUCCESSFUL,
    Status.FAILED: TaskResultStatus.FAILED,
    Status.CANCELLED: TaskResultStatus.FAILED,
}

CANCELLED_ERROR = "jobs.context.JobCancelled"


class AttemptFacts(Protocol):
    """What a TaskResult takes from one ended attempt (an Attempt row has these)."""

    # Read-only members: an Attempt row and a frozen dataclass both match.
    @property
    def worker(self) -> str: ...
    @property
    def error_class(self) -> str: ...
    @property
    def traceback(self) -> str: ...


def build[**P, R](
    *,
    task: Task[P, R],
    job_id: int,
    status: str,
    queue: str,
    priority: int,
    enqueued_at: datetime.datetime | None,
    started_at: datetime.datetime | None,
    finished_at: datetime.datetime | None,
    args: list[Any],
    kwargs: dict[str, Any],
    attempts: Sequence[AttemptFacts],
    worker: str = "",
    result: Any = None,
    cancel_reason: str = "",
    backend: str | None = None,
) -> TaskResult[P, R]:
    """The TaskResult of a job in `status` whose ended attempts are `attempts` (oldest first);
    `worker` runs the current attempt when the job is running."""
    if (task.queue_name, task.priority) != (queue, priority):
        task = task.using(queue_name=queue, priority=priority)
    worker_ids = [a.worker for a in attempts]
    if status == Status.RUNNING:
        worker_ids.append(worker)
    errors = [TaskError(exception_class_path=a.error_class, traceback=a.traceback) for a in attempts if a.error_class]
    if status == Status.CANCELLED and not errors:
        # Django has no "cancelled": it reads FAILED, so the reason goes in errors.
        errors.append(TaskError(exception_class_path=CANCELLED_ERROR, traceback=cancel_reason))
    task_result = TaskResult(
        task=task,
        id=str(job_id),
        status=DJANGO_STATUS[status],
        enqueued_at=enqueued_at,
        started_at=started_at,
        finished_at=finished_at,
        last_attempted_at=started_at,
        args=args,
        kwargs=kwargs,
        backend=backend or task.backend,
        errors=errors,
        worker_ids=worker_ids,
    )
    if status == Status.DONE:
        object.__setattr__(task_result, "_return_value", result)
    return task_result


def has_receivers_besides(signal: Signal, *ignored: Callable[..., Any]) -> bool:
    """Whether `signal` has a receiver other than `ignored` ones, which the caller knows would do
    nothing with this send. Building a TaskResult per job only for those cost a bulk enqueue a
    quarter of its speed. Reads Signal.receivers (entries (lookup key, receiver or weak reference,
    ...) in Django 6.1); anything unexpected there counts as a receiver."""
    try:
        for entry in signal.receivers:
            receiver = entry[1]
            if isinstance(receiver, weakref.ReferenceType):
                receiver = receiver()
            if receiver is not None and receiver not in ignored:
                return True
    except (AttributeError, IndexError, TypeError):
        return signal.has_listeners()
    return False


def _worth_sending() -> bool:
    """Django's own task_enqueued receiver only logs at DEBUG (logger "django.tasks", WARNING here by
    default): alone, it is worth a TaskResult only when that line would be written."""
    if signals.logger.isEnabledFor(logging.DEBUG):
        return task_enqueued.has_listeners()
    return has_receivers_besides(task_enqueued, signals.log_task_enqueued)


def send_enqueued(jobs: Sequence[Any]) -> None:
    """Send Django's task_enqueued for newly stored jobs (services calls this on every enqueue path:
    the Tasks backend, the API, the CLI, schedules). `jobs`: states.NewJob records or Job rows."""
    if not _worth_sending():
        return
    # A bulk enqueue holds few task names: look each up once.
    tasks: dict[str, tuple[Task[..., Any], type[BaseTaskBackend]]] = {}
    for job in jobs:
        if job.task_name not in tasks:
            task = registry.resolve_for_execution(job.task_name).task
            tasks[job.task_name] = (task, type(task.get_backend()))
        task, sender = tasks[job.task_name]
        task_result = build(
            task=task,
            job_id=job.pk,
            status=job.status,
            queue=job.queue,
            priority=job.priority,
            enqueued_at=job.created_at,
            started_at=None,
            finished_at=None,
            args=job.args,
            kwargs=job.payload,
            attempts=(),
        )
        task_enqueued.send(sender, task_result=task_result)


@dataclass(frozen=True, slots=True)
class _EndedAttempt:
    worker: str
    error_class: str
    traceback: str


def earlier_attempts(claimed: ClaimedJob) -> list[Any]:
    """The ended attempts of a claimed job, for its TaskResult: one query, and only on a retry."""
    return selectors.job_attempts(claimed.id) if claimed.attempt > 1 else []


def claimed_result(task: Task[..., Any], claimed: ClaimedJob, earlier: Sequence[Any] = ()) -> TaskResult[..., Any]:
    """The running job's TaskResult (as get_result() gives it while the job runs), for its
    TaskContext and task_started; `earlier` is earlier_attempts()."""
    return build(
        task=task,
        job_id=claimed.id,
        status=Status.RUNNING,
        queue=claimed.queue,
        priority=claimed.priority,
        enqueued_at=claimed.enqueued_at,
        started_at=claimed.started_at,
        finished_at=None,
        args=claimed.args,
        kwargs=claimed.payload,
        attempts=earlier,
        worker=claimed.worker,
    )


def finished_result(task: Task[..., Any], outcome: Finish, earlier: Sequence[Any] = ()) -> TaskResult[..., Any]:
    """The TaskResult of a job once `outcome` is stored (as get_result() gives it then)."""
    claimed, failure = outcome.claimed, outcome.failure
    ended = _EndedAttempt(claimed.worker, failure.error_class if failure else "", failure.traceback if failure else "")
    return build(
        task=task,
        job_id=claimed.id,
        status=outcome.to,
        queue=claimed.queue,
        priority=claimed.priority,
        enqueued_at=claimed.enqueued_at,
        started_at=claimed.started_at,
        finished_at=outcome.ended_at if outcome.to in FINISHED else None,
        args=claimed.args,
        kwargs=claimed.payload,
        attempts=[*earlier, ended],
        worker=claimed.worker,
        result=outcome.result,
    )


def is_jobdeck_backend(cls: type) -> bool:
    """Whether `cls` is Jobdeck's Tasks backend (jobs.backend.DatabaseBackend or a subclass): a
    class flag, `jobdeck_backend = True`, so the worker needs not import the backend edge."""
    return getattr(cls, "jobdeck_backend", False) is True


def _ours(task: Task[..., Any]) -> BaseTaskBackend | None:
    """The task's backend when it is Jobdeck's: only then does a worker send the signals."""
    backend = task.get_backend()
    return backend if is_jobdeck_backend(type(backend)) else None


def notify_started(task: Task[..., Any], result: TaskResult[..., Any]) -> None:
    """Send Django's task_started for a job a worker is about to run (`result`: its claimed_result)."""
    backend = _ours(task)
    if backend is not None:
        task_started.send(type(backend), task_result=result)


def notify_finished(task: Task[..., Any], outcome: Finish, earlier: Sequence[Any] = ()) -> None:
    """Send Django's task_finished once a job has ended for good and its outcome is stored (the
    worker's storage calls this after the write; not for an attempt that will retry).

    Receivers' errors are logged, not raised: the outcome is already stored.
    """
    backend = _ours(task)
    if backend is None or outcome.to not in FINISHED:
        return
    # Django's own line ("Task id=… state=…"), with the state we stored: a cancel is not an error.
    state = "CANCELLED" if outcome.to == Status.CANCELLED else DJANGO_STATUS[outcome.to]
    level = logging.ERROR if outcome.to == Status.FAILED else logging.INFO
    signals.logger.log(level, "Task id=%s path=%s state=%s", outcome.claimed.id, task.module_path, state)
    # Our own log_task_finished passes our jobs over (the line above is theirs): with no other
    # receiver, the TaskResult is not built at all (a worker's every job comes through here).
    if not has_receivers_besides(task_finished, log_task_finished):
        return
    result = finished_result(task, outcome, earlier)
    for receiver, error in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(error, Exception):
            logger.error("task_finished receiver %r failed: %s", receiver, error, extra={"job_id": outcome.claimed.id})


def log_task_finished(sender: type, task_result: TaskResult[..., Any], **kwargs: Any) -> None:
    """Django's logging receiver for task_finished, except for our jobs: notify_finished() logs
    those with the state stored (Django would log a cancelled job as an ERROR, state=FAILED)."""
    if not is_jobdeck_backend(sender):
        signals.log_task_finished(sender, task_result=task_result, **kwargs)
