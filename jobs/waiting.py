"""Why a waiting job has not started yet, in one line for the job page and the API's job detail
(None: nothing to say).

One function; each area of issues 12 and 13 adds its case in a block of its own (snoozed, retry N of M,
waiting for a worker that has the task, a deadline); several that hold at once are joined.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from jobs import registry
from jobs.conf import engine_settings
from jobs.exceptions import UnknownTask
from jobs.models import Attempt, Job, JobDependency, WorkerProcess
from jobs.registry import get_task
from jobs.status import WAITING, Status


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _max_snoozes(task_name: str) -> int:
    try:
        limit = getattr(get_task(task_name).task, "max_snoozes", None)
    except UnknownTask:
        limit = None
    return engine_settings().max_snoozes if limit is None else int(limit)


def waiting_reason(job: Job) -> str | None:
    """Why `job` waits, or what ends its wait; None when it is not waiting or nothing needs saying.
    One query for a retrying or queued job, none else."""
    if job.status not in WAITING:
        return None
    reasons: list[str] = []
    # Retry policy: a retrying job waits for its backoff, or for the time it snoozed until.
    if job.status == Status.RETRYING:
        last = Attempt.objects.filter(job_id=job.pk).order_by("-number", "-id").values_list("outcome", flat=True)
        if last.first() == Attempt.Outcome.SNOOZED:
            reasons.append(f"snoozed until {_when(job.run_at)} (snooze {job.snoozes} of {_max_snoozes(job.task_name)})")
        else:
            reasons.append(f"retry {job.attempts_spent + 1} of {job.max_attempts} at {_when(job.run_at)}")
    # Versioned tasks: a worker claims only jobs whose task and version it has.
    if job.status == Status.QUEUED:
        missing = missing_task_reason(job)
        if missing is not None:
            reasons.append(missing)
    # Dependencies (issue 13): parents not finished yet, or a parent that failed and cancels this job.
    if job.status == Status.SCHEDULED:
        parents = parents_reason(job)
        if parents is not None:
            reasons.append(parents)
    # Expiry: a deadline to start by. Past it, the claim skips the job and the workers' housekeeping
    # ends it cancelled within a tick.
    if job.expires_at is not None:
        if job.expires_at <= timezone.now():
            reasons.append(f"expired at {_when(job.expires_at)}: ends cancelled without running")
        else:
            reasons.append(f"expires at {_when(job.expires_at)} if not started")
    return "; ".join(reasons) or None


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


_LISTED_PARENTS = 10


def parents_reason(job: Job) -> str | None:
    """ "waiting for 2 of 3 jobs (#12, #15)" while parents are unfinished; "dependency #12 failed:
    ends cancelled" once a parent's failure cancels the job; None for a job without parents."""
    if job.failed_parent is not None and job.after_failure == "cancel":
        return f"{job.last_error}: ends cancelled without running"
    if job.pending_parents == 0:
        return None
    links = JobDependency.objects.filter(child_id=job.pk)
    total = links.count()
    unfinished = links.filter(resolved=False).order_by("parent_id").values_list("parent_id", flat=True)
    waiting = list(unfinished[:_LISTED_PARENTS])
    listed = ", ".join(f"#{pk}" for pk in waiting) + (", ..." if job.pending_parents > len(waiting) else "")
    return f"waiting for {job.pending_parents} of {total} jobs ({listed})"


def parent_ids(job: Job) -> list[int]:
    """The ids of the jobs `job` waits for (its `after`), in id order."""
    return list(JobDependency.objects.filter(child_id=job.pk).order_by("parent_id").values_list("parent_id", flat=True))


def child_ids(job: Job, *, limit: int = 100) -> list[int]:
    """The ids of the jobs waiting for `job` (at most `limit`), in id order."""
    if not job.has_dependents:
        return []
    links = JobDependency.objects.filter(parent_id=job.pk).order_by("child_id")
    return list(links.values_list("child_id", flat=True)[:limit])
