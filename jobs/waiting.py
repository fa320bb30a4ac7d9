"""Why a waiting job is waiting, in one sentence for the job page and the API (None: nothing to say).

Each kind of wait has its own block (issue 12: retry policy, versioned tasks; other areas add theirs).
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from jobs import registry
from jobs.conf import engine_settings
from jobs.exceptions import UnknownTask
from jobs.models import Attempt, Job, WorkerProcess
from jobs.registry import get_task
from jobs.status import Status


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _max_snoozes(task_name: str) -> int:
    try:
        limit = getattr(get_task(task_name).task, "max_snoozes", None)
    except UnknownTask:
        limit = None
    return engine_settings().max_snoozes if limit is None else int(limit)


def waiting_reason(job: Job) -> str | None:
    """A sentence saying what the job waits for, or None (one query for a retrying or queued job, none else)."""
    # Retry policy: a retrying job waits for its backoff, or for the time it snoozed until.
    if job.status == Status.RETRYING:
        last = Attempt.objects.filter(job_id=job.pk).order_by("-number", "-id").values_list("outcome", flat=True)
        if last.first() == Attempt.Outcome.SNOOZED:
            return f"snoozed until {_when(job.run_at)} (snooze {job.snoozes} of {_max_snoozes(job.task_name)})"
        return f"retry {job.attempts_spent + 1} of {job.max_attempts} at {_when(job.run_at)}"
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
