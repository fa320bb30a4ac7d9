"""Django Tasks backend (django.tasks) storing tasks as Jobdeck jobs, run by `runworkers`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, signals
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_finished, task_started
from django.utils.json import normalize_json

from jobs import registry, selectors, services, taskresults
from jobs.exceptions import InvalidJob, JobNotFound
from jobs.models import Job
from jobs.status import FINISHED, Status
from jobs.taskresults import DJANGO_STATUS

if TYPE_CHECKING:
    from jobs.states import ClaimedJob, Finish

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobdeckTask(Task):
    """Django's Task plus the options Django's API lacks, set as `@task(max_attempts=5, timeout=60)`.

    The names follow Django's open proposals for retries and timeouts, so a later move is painless.
    """

    max_attempts: int | None = None  # None: JOBDECK_DEFAULT_MAX_ATTEMPTS
    timeout: float | None = None  # seconds per attempt; None: no limit


class InvalidTaskArguments(InvalidTask, TypeError):
    """Arguments that are not JSON. Django's own backends raise TypeError here, so code written for
    them (`except TypeError`) works unchanged; it is an InvalidTask too, as Jobdeck raised before."""


class DatabaseBackend(BaseTaskBackend):
    task_class = JobdeckTask
    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = True

    def validate_task(self, task: Task) -> None:
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and (not isinstance(max_attempts, int) or max_attempts < 1):
            raise InvalidTask("max_attempts must be a whole number of at least 1.")
        timeout = getattr(task, "timeout", None)
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidTask("timeout must be a positive number of seconds.")

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        registry.register(task)
        try:
            # What Django's TaskResult does with the arguments on every backend: tuples become
            # lists, bytes text (undecodable bytes raise ValueError, as there), anything else TypeError.
            args, kwargs = normalize_json(args), normalize_json(kwargs)
        except TypeError as exc:
            raise InvalidTaskArguments(str(exc)) from exc
        spec = services.JobSpec(
            task_name=task.module_path,
            args=list(args),
            kwargs=dict(kwargs),
            queue=task.queue_name,
            priority=task.priority,
            run_at=task.run_after,
        )
        try:
            job = services.enqueue_job(spec=spec, actor="django.tasks")  # sends task_enqueued
        except InvalidJob as exc:
            raise InvalidTask(exc.message) from exc
        return self._result(job, task)

    def get_result(self, result_id: str) -> TaskResult:
        try:
            job = selectors.job_detail(int(result_id))
        except (JobNotFound, ValueError, TypeError):
            raise TaskResultDoesNotExist(result_id) from None
        task = registry.resolve_for_execution(job.task_name).task
        return self._result(job, task)

    def _result(self, job: Job, task: Task) -> TaskResult:
        attempts = selectors.job_attempts(job.pk) if job.attempt else []
        reason = ""
        if job.status == Status.CANCELLED and not any(a.error_class for a in attempts):
            reason = next((e.reason for e in reversed(selectors.job_events(job.pk)) if e.new_status == job.status), "")
        return taskresults.build(
            task=task,
            job_id=job.pk,
            status=job.status,
            queue=job.queue,
            priority=job.priority,
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            args=job.args,
            kwargs=job.payload,
            attempts=attempts,
            worker=job.worker,
            result=job.result,
            cancel_reason=reason,
            backend=self.alias,
        )


@dataclass(frozen=True, slots=True)
class _EndedAttempt:
    worker: str
    error_class: str
    traceback: str


def earlier_attempts(claimed: ClaimedJob) -> list[Any]:
    """The ended attempts of a claimed job, for its TaskResult: one query, and only on a retry."""
    return selectors.job_attempts(claimed.id) if claimed.attempt > 1 else []


def claimed_result(task: Task, claimed: ClaimedJob, earlier: Sequence[Any] = ()) -> TaskResult:
    """The running job's TaskResult (as get_result() gives it while the job runs), for its
    TaskContext and task_started; `earlier` is earlier_attempts()."""
    return taskresults.build(
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


def finished_result(task: Task, outcome: Finish, earlier: Sequence[Any] = ()) -> TaskResult:
    """The TaskResult of a job once `outcome` is stored (as get_result() gives it then)."""
    claimed, failure = outcome.claimed, outcome.failure
    ended = _EndedAttempt(claimed.worker, failure.error_class if failure else "", failure.traceback if failure else "")
    return taskresults.build(
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


def _ours(task: Task) -> DatabaseBackend | None:
    backend = task.get_backend()
    return backend if isinstance(backend, DatabaseBackend) else None


def notify_started(task: Task, result: TaskResult) -> None:
    """Send Django's task_started for a job a worker is about to run (`result`: its claimed_result)."""
    backend = _ours(task)
    if backend is not None:
        task_started.send(type(backend), task_result=result)


def notify_finished(task: Task, outcome: Finish, earlier: Sequence[Any] = ()) -> None:
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
    if not taskresults.has_receivers_besides(task_finished, log_task_finished):
        return
    result = finished_result(task, outcome, earlier)
    for receiver, error in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(error, Exception):
            logger.error("task_finished receiver %r failed: %s", receiver, error, extra={"job_id": outcome.claimed.id})


def log_task_finished(sender: type, task_result: TaskResult, **kwargs: Any) -> None:
    """Django's logging receiver for task_finished, except for our jobs: notify_finished() logs
    those with the state stored (Django would log a cancelled job as an ERROR, state=FAILED)."""
    if not issubclass(sender, DatabaseBackend):
        signals.log_task_finished(sender, task_result=task_result, **kwargs)
