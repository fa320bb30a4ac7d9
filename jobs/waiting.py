"""Why a waiting job has not started yet, in one line for the job page and the API's job detail
(None: nothing to say).

One function; each area of issues 12 and 13 adds its case in a block of its own (snoozed, retry N of M,
waiting for a worker that has the task, a deadline); several that hold at once are joined.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.utils import timezone

from jobs import limit_selectors, registry
from jobs.batch_selectors import batch_of_callback
from jobs.conf import engine_settings
from jobs.exceptions import UnknownTask
from jobs.models import Attempt, Job, JobDependency, RateLimit, WorkerProcess
from jobs.registry import get_task
from jobs.status import WAITING, Status, cancelled_when_due


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _max_snoozes(job: Job) -> int:
    """The job's own limit (kept in its retry_policy), else its task's, else the setting's."""
    limit = (job.retry_policy or {}).get("max_snoozes")
    if limit is None:
        try:
            limit = getattr(get_task(job.task_name).task, "max_snoozes", None)
        except UnknownTask:
            limit = None
    return engine_settings().max_snoozes if limit is None else int(limit)


def waiting_reason(job: Job, *, workers: list[tuple[Any, Any]] | None = None) -> str | None:
    """Why `job` waits, or what ends its wait; None when it is not waiting or nothing needs saying.
    A retrying job costs one query; a queued one two (the live workers, unless given as `workers`,
    see alive_worker_tasks(); the rate limits), and one more when it has a concurrency key."""
    if job.status not in WAITING:
        return None
    reasons: list[str] = []
    # Retry policy: a retrying job waits for its backoff, or for the time it snoozed until.
    if job.status == Status.RETRYING:
        last = Attempt.objects.filter(job_id=job.pk).order_by("-number", "-id").values_list("outcome", flat=True)
        if last.first() == Attempt.Outcome.SNOOZED:
            reasons.append(f"snoozed until {_when(job.run_at)} (snooze {job.snoozes} of {_max_snoozes(job)})")
        else:
            reasons.append(f"retry {job.attempts_spent + 1} of {job.max_attempts} at {_when(job.run_at)}")
    # Versioned tasks: a worker claims only jobs whose task and version it has.
    if job.status == Status.QUEUED:
        missing = missing_task_reason(job, workers=workers)
        if missing is not None:
            reasons.append(missing)
        # Concurrency per key (issue 13): the claim skips the job while its key is full.
        key = key_reason(job)
        if key is not None:
            reasons.append(key)
        # Rate limits (issue 13): the claim skips the job while a limit of its queue, task or key
        # has had its starts for the period.
        rate = rate_reason(job)
        if rate is not None:
            reasons.append(rate)
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


def key_reason(job: Job) -> str | None:
    """ "waiting for key customer:42 (1 of 1 running)" while a queued job's key has as many running
    jobs as its limit (one count through job_running_key_idx); None when it has no key or room."""
    if job.concurrency_key is None or job.concurrency_limit is None:
        return None
    running = Job.objects.filter(status=Status.RUNNING, concurrency_key=job.concurrency_key).count()
    if running < job.concurrency_limit:
        return None
    return f"waiting for key {job.concurrency_key} ({running} of {job.concurrency_limit} running)"


def rate_reason(job: Job) -> str | None:
    """ "rate limit: next start in 3 s (queue default: 10 per 60 s)" while a limit that applies to the
    job has no start left in its window; None when none applies or all have room."""
    applies = [("queue", job.queue), ("task", job.task_name)]
    if job.concurrency_key is not None:
        applies.append(("key", job.concurrency_key))
    now = timezone.now().timestamp()
    waits = []
    for limit in RateLimit.objects.filter(scope__in=[s for s, _ in applies], name__in=[n for _, n in applies]):
        if (limit.scope, limit.name) not in applies:
            continue
        _, free = limit_selectors.frees_at(limit, now=now)
        if free is not None:
            waits.append((free - now, limit))
    if not waits:
        return None
    wait, limit = max(waits, key=lambda w: w[0])
    return (
        f"rate limit: next start in {max(1, math.ceil(wait))} s "
        f"({limit.scope} {limit.name}: {limit.max_starts} per {limit.period:g} s)"
    )


def alive_worker_tasks() -> list[tuple[Any, Any]]:
    """(queues, tasks) of each live worker: what missing_task_reason() reads, read once for many jobs
    (the live dashboard renders the pages of many queued jobs in one tick). One query."""
    return list(WorkerProcess.objects.alive().values_list("queues", "tasks"))


def missing_task_reason(job: Job, *, workers: list[tuple[Any, Any]] | None = None) -> str | None:
    """ "Waiting for a worker that has task X@v" when no live worker serving the job's queue has the
    job's task at its version (a rolling deploy in progress, or a task no deployed code has); None
    when one has it, or when a worker from before versioned tasks (no task list) serves the queue,
    since that one claims any task."""
    ref = registry.task_ref(job.task_name, job.task_version)
    others: set[str] = set()
    for queues, tasks in alive_worker_tasks() if workers is None else workers:
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
    """ "waiting for 2 of 3 jobs (#12, #15)" while parents are unfinished ("waiting for 12 of 500
    jobs of batch 7" for a batch's callback); "dependency #12 failed: ends cancelled" once a parent's
    failure cancels the job; None for a job without parents."""
    if job.failed_parent is not None and job.after_failure == "cancel":
        return f"{job.last_error}: ends cancelled without running"
    if job.pending_parents == 0:
        if cancelled_when_due(failed_parent=job.failed_parent, after_failure=job.after_failure):
            return "no dependency failed: ends cancelled without running"  # after_failure "only"
        return None
    # A batch's callback waits for every member: say which batch, not a list of thousands of ids.
    batch = batch_of_callback(job.pk)
    if batch is not None:
        return f"waiting for {job.pending_parents} of {batch.total} jobs of batch {batch.pk}"
    links = JobDependency.objects.filter(child_id=job.pk)
    total = links.count()
    unfinished = links.filter(resolved=False).order_by("parent_id").values_list("parent_id", flat=True)
    waiting = list(unfinished[:_LISTED_PARENTS])
    listed = ", ".join(f"#{pk}" for pk in waiting) + (", ..." if job.pending_parents > len(waiting) else "")
    return f"waiting for {job.pending_parents} of {total} jobs ({listed})"


def parent_ids(job: Job) -> list[int]:
    """The ids of the jobs `job` waits for (its `after`), in id order."""
    return parents_of([job.pk]).get(job.pk, [])


def parents_of(job_ids: list[int]) -> dict[int, list[int]]:
    """parent_ids() of many jobs in one query (the live dashboard renders many job pages a tick);
    a job without parents is absent."""
    parents: dict[int, list[int]] = {}
    links = JobDependency.objects.filter(child_id__in=job_ids).order_by("child_id", "parent_id")
    for child, parent in links.values_list("child_id", "parent_id"):
        parents.setdefault(child, []).append(parent)
    return parents


def child_ids(job: Job, *, limit: int = 100) -> list[int]:
    """The ids of the jobs waiting for `job` (at most `limit`), in id order."""
    if not job.has_dependents:
        return []
    links = JobDependency.objects.filter(parent_id=job.pk).order_by("child_id")
    return list(links.values_list("child_id", flat=True)[:limit])
