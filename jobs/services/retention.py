"""Retention: finished jobs and gone worker rows are deleted once past their age, and the Batch rows
(docs/workflows.md, Batches) whose jobs are all gone with them."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from jobs import database, options
from jobs.conf import engine_settings
from jobs.exceptions import JobdeckError
from jobs.models import Attempt, Batch, Job, JobEvent, JobLog, WorkerProcess
from jobs.status import FINISHED, Status

MAX_RETENTION = datetime.timedelta(days=36_500)
MAX_PRUNE_BATCH = 100_000


@dataclass(frozen=True)
class PruneResult:
    """What one prune deleted (or, in a dry run, would delete)."""

    jobs: int
    events: int
    attempts: int
    logs: int
    batches: int  # the delete's own batches of at most batch_size jobs
    job_batches: int = 0  # Batch rows deleted: created before the retention, every job of theirs gone


def _retention(value: datetime.timedelta | None, setting_days: float, name: str) -> datetime.timedelta:
    """The retention asked for, else the setting's; refused outside 0..36,500 days."""
    error = JobdeckError(f"{name} must be between 0 and {MAX_RETENTION.days} days")
    if value is None:
        if not options.is_number(setting_days) or not 0 <= setting_days <= MAX_RETENTION.days:
            raise error
        value = datetime.timedelta(days=setting_days)
    if not isinstance(value, datetime.timedelta) or not datetime.timedelta(0) <= value <= MAX_RETENTION:
        raise error
    return value


def prune_jobs(
    *,
    now: datetime.datetime | None = None,
    retention: datetime.timedelta | None = None,
    failed_retention: datetime.timedelta | None = None,
    batch_size: int | None = None,
    dry_run: bool = False,
    max_batches: int | None = None,
) -> PruneResult:
    """Delete finished jobs past their retention, with their events, attempts and logs, in batches.

    Done and cancelled jobs go `retention` after they finished (JOBDECK_RETENTION_DAYS, 7 days);
    failed ones after `failed_retention` (JOBDECK_FAILED_RETENTION_DAYS, 30 days). Jobs in any
    other state are never touched, however old. Each batch of `batch_size` jobs (JOBDECK_PRUNE_BATCH)
    is its own short transaction; `max_batches` bounds one run; a dry run only counts.
    Returns what was (or would be) deleted. Raises JobdeckError for a retention outside
    0..36,500 days, a batch size outside 1..100,000 or a negative `max_batches`.
    """
    engine = engine_settings()
    retention = _retention(retention, engine.retention_days, "retention")
    failed_retention = _retention(failed_retention, engine.failed_retention_days, "failed retention")
    batch_size = engine.prune_batch if batch_size is None else batch_size
    if not options.is_int(batch_size) or not 1 <= batch_size <= MAX_PRUNE_BATCH:
        raise JobdeckError(f"batch size must be a whole number between 1 and {MAX_PRUNE_BATCH}")
    if max_batches is not None and (not options.is_int(max_batches) or max_batches < 0):
        raise JobdeckError("max batches must be a whole number, 0 or more")
    now = timezone.now() if now is None else now
    expired = Job.objects.filter(
        Q(status__in=[Status.DONE, Status.CANCELLED], finished_at__lt=now - retention)
        | Q(status=Status.FAILED, finished_at__lt=now - failed_retention)
    ).order_by("pk")
    if dry_run:
        if max_batches is not None:
            expired = expired[: max_batches * batch_size]
        expired_ids = expired.values("pk")
        jobs = expired.count()
        return PruneResult(
            jobs=jobs,
            events=JobEvent.objects.filter(job_id__in=expired_ids).count(),
            attempts=Attempt.objects.filter(job_id__in=expired_ids).count(),
            logs=JobLog.objects.filter(job_id__in=expired_ids).count(),
            batches=math.ceil(jobs / batch_size),
        )
    jobs = events = attempts = logs = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            # The batch's rows cannot change before it commits: PostgreSQL locks them (a second
            # pruner skips them; a retry waits, then finds the job gone) and SQLite transactions
            # here are IMMEDIATE, so they hold the write lock from the start.
            locked = expired.select_for_update(skip_locked=True) if database.is_postgres() else expired
            ids = list(locked.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            # Re-check the status in the delete itself. Collecting only the ids, Django's cascade
            # runs one DELETE per child table (job_id IN ids) without loading the children, then
            # deletes the jobs: queries per batch stay the same however many events a job has.
            _, deleted = Job.objects.filter(pk__in=ids, status__in=sorted(FINISHED)).only("pk").delete()
        jobs += deleted.get(Job._meta.label, 0)
        events += deleted.get(JobEvent._meta.label, 0)
        attempts += deleted.get(Attempt._meta.label, 0)
        logs += deleted.get(JobLog._meta.label, 0)
        batches += 1
    job_batches, _ = _emptied_batches(now - retention).delete()
    return PruneResult(jobs=jobs, events=events, attempts=attempts, logs=logs, batches=batches, job_batches=job_batches)


def _emptied_batches(before: datetime.datetime) -> models.QuerySet[Batch]:
    """Batch rows created before `before` none of whose members (job_batch_status_idx) or callbacks
    is left: their jobs were pruned, so the batch says nothing any more."""
    members = Job.objects.filter(batch_id=OuterRef("pk"))
    callbacks = [Job.objects.filter(pk=OuterRef(f"{role}_id")) for role in ("on_success", "on_complete", "on_failure")]
    left = Exists(members) | Exists(callbacks[0]) | Exists(callbacks[1]) | Exists(callbacks[2])
    return Batch.objects.filter(created_at__lt=before).exclude(left)


def prune_workers(*, retention: datetime.timedelta | None = None) -> int:
    """Delete gone worker rows (stopped, or silent past the lease) last heard from longer than
    `retention` ago (JOBDECK_WORKER_RETENTION_SECONDS, a day) on the database clock. Alive workers
    are never touched. Returns the number deleted."""
    if retention is None:
        retention = datetime.timedelta(seconds=engine_settings().worker_retention_seconds)
    stale = WorkerProcess.objects.gone().filter(last_heartbeat__lt=Now() - retention)
    deleted, _ = stale.delete()
    return deleted
