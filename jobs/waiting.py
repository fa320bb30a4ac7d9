"""Why a job is waiting: one sentence for the job page and the API's job detail, or None.

Each capability that can hold a job back adds its own case below, in a block of its own.
"""

from __future__ import annotations

from jobs import registry
from jobs.models import Job, WorkerProcess
from jobs.status import Status


def waiting_reason(job: Job) -> str | None:
    """Why `job` is not running yet, when that is something beyond its place in the queue; None
    otherwise. Costs a query only for a queued job."""
    # Versioned tasks: a worker claims only jobs whose task and version it has.
    if job.status == Status.QUEUED:
        reason = missing_task_reason(job)
        if reason is not None:
            return reason
    return None


def missing_task_reason(job: Job) -> str | None:
    """ "Waiting for a worker that has task X@v" when no live worker serving the job's queue has the
    job's task at its version (a rolling deploy in progress, or a task no deployed code has); None
    when one has it, or when a worker from before versioned tasks (no task list) serves the queue,
    since that one claims any task."""
    ref = registry.task_ref(job.task_name, job.task_version)
    others: set[str] = set()
    for queues, tasks in WorkerProcess.objects.alive().values_list("queues", "tasks"):
        if job.queue not in queues:
            continue
        if tasks is None or ref in tasks:
            return None
        others.update(t for t in tasks if t.partition("@")[0] == job.task_name)
    reason = f"Waiting for a worker that has task {ref}"
    if others:
        reason += f" (workers serving '{job.queue}' have {', '.join(sorted(others))})"
    return reason
