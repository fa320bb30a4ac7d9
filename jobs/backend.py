"""Django Tasks backend (django.tasks) storing tasks as Jobdeck jobs, run by `runworkers`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils.json import normalize_json

from jobs import registry, selectors, services
from jobs.exceptions import InvalidJob, JobNotFound
from jobs.models import Job
from jobs.status import FINISHED, Status

if TYPE_CHECKING:
    from jobs.states import ClaimedJob, Outcome

logger = logging.getLogger(__name__)

# Our seven states on Django's four (documented in docs/architecture.md).
DJANGO_STATUS = {
    Status.SCHEDULED: TaskResultStatus.READY,
    Status.QUEUED: TaskResultStatus.READY,
    Status.RETRYING: TaskResultStatus.READY,
    Status.RUNNING: TaskResultStatus.RUNNING,
    Status.DONE: TaskResultStatus.SUCCESSFUL,
    Status.FAILED: TaskResultStatus.FAILED,
    Status.CANCELLED: TaskResultStatus.FAILED,
}


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
            job = services.enqueue_job(spec=spec, actor="django.tasks")
        except InvalidJob as exc:
            raise InvalidTask(exc.message) from exc
        result = self._result(job, task)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        try:
            job = selectors.job_detail(int(result_id))
        except (JobNotFound, ValueError, TypeError):
            raise TaskResultDoesNotExist(result_id) from None
        task = registry.resolve_for_execution(job.task_name).task
        return self._result(job, task)

    def _result(self, job: Job, task: Task) -> TaskResult:
        attempts = selectors.job_attempts(job.pk) if job.attempt else []
        worker_ids = [a.worker for a in attempts]
        if job.status == Status.RUNNING:
            worker_ids.append(job.worker)
        result = TaskResult(
            task=task.using(queue_name=job.queue, priority=job.priority),
            id=str(job.pk),
            status=DJANGO_STATUS[job.status],
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            last_attempted_at=job.started_at,
            args=job.args,
            kwargs=job.payload,
            backend=self.alias,
            errors=[
                TaskError(exception_class_path=a.error_class, traceback=a.traceback) for a in attempts if a.error_class
            ],
            worker_ids=worker_ids,
        )
        if job.status == Status.CANCELLED and not result.errors:
            # Django has no "cancelled": it reads FAILED, so the reason goes in errors.
            reason = next((e.reason for e in reversed(selectors.job_events(job.pk)) if e.new_status == job.status), "")
            result.errors.append(TaskError(exception_class_path="jobs.context.JobCancelled", traceback=reason))
        if job.status == Status.DONE:
            object.__setattr__(result, "_return_value", job.result)
        return result


def claimed_result(task: Task, claimed: ClaimedJob) -> TaskResult:
    """The running job's TaskResult a worker hands to TaskContext and to the started/finished signals
    (no query); notify_finished() brings it up to date."""
    return TaskResult(
        task=task,
        id=str(claimed.id),
        status=TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=claimed.started_at,
        finished_at=None,
        last_attempted_at=claimed.started_at,
        args=claimed.args,
        kwargs=claimed.payload,
        backend=task.backend,
        errors=[],
        worker_ids=[claimed.worker] * claimed.attempt,
    )


def _ours(task: Task) -> DatabaseBackend | None:
    backend = task.get_backend()
    return backend if isinstance(backend, DatabaseBackend) else None


def notify_started(task: Task, result: TaskResult) -> None:
    """Send Django's task_started for a job a worker is about to run (`result`: its claimed_result)."""
    backend = _ours(task)
    if backend is not None:
        task_started.send(type(backend), task_result=result)


def notify_finished(task: Task, result: TaskResult, outcome: Outcome) -> None:
    """Send Django's task_finished once a job has ended for good (not for an attempt that will retry).

    `result` is the object task_started carried, brought up to date as Django's own backends do
    with theirs. Receivers' errors are logged, not raised: the outcome is already decided.
    """
    backend = _ours(task)
    if backend is None or outcome.to not in FINISHED:
        return
    object.__setattr__(result, "status", DJANGO_STATUS[outcome.to])
    object.__setattr__(result, "finished_at", outcome.ended_at)
    if outcome.failure is not None and outcome.failure.error_class:
        result.errors.append(
            TaskError(exception_class_path=outcome.failure.error_class, traceback=outcome.failure.traceback)
        )
    if outcome.to == Status.DONE:
        object.__setattr__(result, "_return_value", outcome.result)
    for receiver, error in task_finished.send_robust(type(backend), task_result=result):
        if isinstance(error, Exception):
            logger.error("task_finished receiver %r failed: %s", receiver, error, extra={"job_id": outcome.claimed.id})
