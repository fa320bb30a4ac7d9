"""Django Tasks backend (django.tasks) storing tasks as Jobdeck jobs, run by `runworkers`."""

from __future__ import annotations

from typing import Any

from django.tasks import Task, TaskResult, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued

from jobs import registry, selectors, services
from jobs.exceptions import InvalidJob, JobNotFound
from jobs.models import Job
from jobs.status import Status

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


class DatabaseBackend(BaseTaskBackend):
    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = True

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        registry.register(task)
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
