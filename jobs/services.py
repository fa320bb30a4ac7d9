"""The write side: every entry point (API, dashboard, admin, CLI, tasks backend) changes jobs through these."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from jobs import database, states, taskresults
from jobs.conf import engine_settings, size_limits
from jobs.dbguard import write_service
from jobs.exceptions import (
    Conflict,
    InvalidJob,
    InvalidQueue,
    InvalidTransition,
    JobdeckError,
    JobNotFound,
    PayloadTooLarge,
)
from jobs.models import PRIORITY_MAX, PRIORITY_MIN, Attempt, Job, JobEvent, JobLog, Queue, WorkerProcess
from jobs.registry import get_task
from jobs.status import FINISHED, WAITING, Status

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
MAX_ATTEMPTS_LIMIT = 1000
MAX_BULK = 10_000


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue; None means "the task's default"."""

    task_name: str
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    run_at: datetime.datetime | None = None
    delay: float | None = None
    idempotency_key: str | None = None
    timeout: float | None = None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def build_job(
    spec: JobSpec, now: datetime.datetime, default_max_attempts: int, max_payload_bytes: int | None = None
) -> states.NewJob:
    """Validate one spec against the registry and the contract; return the row to insert.

    `max_payload_bytes`: the payload limit, read once by a caller building many (settings are read
    when used, and reading them per job cost a bulk enqueue a fifth of its speed)."""
    registered = get_task(spec.task_name)
    task = registered.task
    if not isinstance(spec.args, list | tuple):
        raise InvalidJob("args must be a list")
    if not isinstance(spec.kwargs, dict):
        raise InvalidJob("payload must be a JSON object")
    try:
        # A round trip stores exactly what the task will receive (tuples become lists, keys strings).
        args_json = json.dumps(list(spec.args), ensure_ascii=False, allow_nan=False)
        kwargs_json = json.dumps(spec.kwargs, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidJob(f"payload is not JSON-serialisable: {exc}") from None
    # The one payload limit: every entry point enqueues through here.
    size = len(args_json.encode()) + len(kwargs_json.encode())
    limit = size_limits().max_payload_bytes if max_payload_bytes is None else max_payload_bytes
    if size > limit:
        raise PayloadTooLarge(size, limit)
    args, kwargs = json.loads(args_json), json.loads(kwargs_json)

    queue = task.queue_name if spec.queue is None else spec.queue
    if not isinstance(queue, str) or not QUEUE_NAME.match(queue):
        raise InvalidJob("queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'")
    priority = task.priority if spec.priority is None else spec.priority
    if not _is_int(priority) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidJob(f"priority must be a whole number between {PRIORITY_MIN} and {PRIORITY_MAX}")
    max_attempts = spec.max_attempts
    if max_attempts is None:
        max_attempts = getattr(task, "max_attempts", None) or default_max_attempts
    if not _is_int(max_attempts) or not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
        raise InvalidJob(f"max_attempts must be a whole number between 1 and {MAX_ATTEMPTS_LIMIT}")
    timeout = spec.timeout if spec.timeout is not None else getattr(task, "timeout", None)
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        raise InvalidJob("timeout must be a positive number of seconds")

    if spec.run_at is not None and spec.delay is not None:
        raise InvalidJob("give run_at or delay, not both")
    run_at = spec.run_at
    if run_at is not None:
        if not isinstance(run_at, datetime.datetime):
            raise InvalidJob("run_at must be a datetime")
        if timezone.is_naive(run_at):
            raise InvalidJob("run_at must be timezone-aware")
    elif spec.delay is not None:
        if not _is_number(spec.delay) or spec.delay < 0:
            raise InvalidJob("delay must be a non-negative number of seconds")
        run_at = now + datetime.timedelta(seconds=spec.delay)
    else:
        run_at = now
    key = spec.idempotency_key
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 255):
        raise InvalidJob("idempotency_key must be a string of 1-255 characters")

    return states.NewJob(
        queue=queue,
        task_name=registered.name,
        args=args,
        payload=kwargs,
        priority=priority,
        max_attempts=max_attempts,
        run_at=run_at,
        idempotency_key=key,
        timeout=timeout,
    )


def _active_with_key(key: str) -> Job | None:
    return Job.objects.active().filter(idempotency_key=key).first()


def _announced(jobs: list[states.NewJob]) -> list[states.NewJob]:
    """Every enqueue path ends here: Django's task_enqueued for each new job, as get_result() reads it."""
    taskresults.send_enqueued(jobs)
    return jobs


@write_service
def enqueue_job(*, spec: JobSpec, actor: str = "") -> Job:
    """Validate and store one job. Joins the caller's transaction when there is one.

    With an idempotency key, returns the existing unfinished job holding that key instead of
    creating a second one (the database's partial unique index settles concurrent enqueues).
    Raises InvalidJob (or UnknownTask) and writes nothing when the spec is wrong.
    """
    job = build_job(spec, timezone.now(), engine_settings().default_max_attempts)
    if job.idempotency_key is None:
        return _announced(states.create_jobs([job], actor=actor))[0].as_job()
    for _ in range(3):
        existing = _active_with_key(job.idempotency_key)
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return _announced(states.create_jobs([job], actor=actor))[0].as_job()
        except IntegrityError:
            job.pk = None  # another enqueue won the race; loop to read its job
    raise InvalidJob("idempotency_key is contended; try again")


@write_service
def enqueue_jobs(*, specs: Sequence[JobSpec], actor: str = "") -> list[states.NewJob]:
    """Validate and store many jobs in one transaction: all are stored or none.

    Returns light records (pk, status, queue, task_name, args, payload...) in the order given,
    not model instances, so thousands per call stay cheap. Raises InvalidJob naming the first
    bad item (by index) and writes nothing.
    """
    if len(specs) > MAX_BULK:
        raise InvalidJob(f"at most {MAX_BULK} jobs per bulk enqueue")
    now = timezone.now()
    default_max_attempts = engine_settings().default_max_attempts
    max_payload_bytes = size_limits().max_payload_bytes
    jobs = []
    for index, spec in enumerate(specs):
        try:
            jobs.append(build_job(spec, now, default_max_attempts, max_payload_bytes))
        except InvalidJob as exc:
            raise InvalidJob(f"job {index}: {exc.message}") from None
    if not any(j.idempotency_key for j in jobs):
        return _announced(states.create_jobs(jobs, actor=actor))
    with transaction.atomic():
        return [states.NewJob.from_job(enqueue_job(spec=spec, actor=actor)) for spec in specs]


def _get(job_id: int) -> Job:
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise JobNotFound(job_id) from None


@write_service
def cancel_job(*, job_id: int, actor: str = "") -> Job:
    """Cancel a job: waiting jobs end `cancelled` at once and never start; a running job is
    flagged and its worker ends it (cooperatively, or by a hard stop on process workers).

    Returns the job as it now stands. Raises JobNotFound, or InvalidTransition when finished.
    """
    for _ in range(5):  # the job may move under us (claimed, promoted); re-read and decide again
        job = _get(job_id)
        if job.status in WAITING:
            if states.transition(job, Status.CANCELLED, reason="cancelled", actor=actor, finished_at=timezone.now()):
                return job
        elif job.status == Status.RUNNING:
            if job.cancel_requested_at is not None or states.request_cancel(job, actor=actor):
                return _get(job_id)
        else:
            raise InvalidTransition(job.pk, job.status, Status.CANCELLED)
    raise InvalidTransition(job_id, "changing", Status.CANCELLED)


@write_service
def retry_job(*, job_id: int, actor: str = "") -> Job:
    """Queue a finished job (done, failed or cancelled) again for one more attempt; history is kept.

    Raises JobNotFound, or InvalidTransition when the job is not finished.
    """
    job = _get(job_id)
    if job.status not in FINISHED:
        raise InvalidTransition(job.pk, job.status, Status.QUEUED)
    now = timezone.now()
    fields = {
        "run_at": now,
        "finished_at": None,
        "result": None,
        "cancel_requested_at": None,
        "max_attempts": max(job.max_attempts, job.attempts_spent + 1),
    }
    try:
        moved = states.transition(job, Status.QUEUED, reason="manual retry", actor=actor, **fields)
    except IntegrityError:
        raise Conflict(
            f"Job {job.pk} cannot be retried: an unfinished job holds its idempotency key '{job.idempotency_key}'"
        ) from None
    if not moved:
        raise InvalidTransition(job.pk, _get(job_id).status, Status.QUEUED)
    return job


@write_service
def run_job_now(*, job_id: int, actor: str = "") -> Job:
    """Make a scheduled or retrying job runnable now instead of at its run_at.

    A queued job is returned as it is (it already runs as soon as a worker is free). Raises
    JobNotFound, or InvalidTransition for a running or finished job.
    """
    for _ in range(5):  # promoted or claimed under us: re-read and decide again
        job = _get(job_id)
        if job.status == Status.QUEUED:
            return job
        if not job.can_run_now:
            raise InvalidTransition(job.pk, job.status, Status.QUEUED)
        if states.transition(job, Status.QUEUED, reason="run now", actor=actor, run_at=timezone.now()):
            return job
    raise InvalidTransition(job_id, "changing", Status.QUEUED)


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: how many jobs it was given, how many it changed, and why others not."""

    matched: int
    changed: int
    skipped: int
    errors: dict[int, str] = field(default_factory=dict)  # job id -> why it was skipped (first 100)


def _bulk(ids: Sequence[int], action: Any, actor: str) -> BulkResult:
    if len(ids) > MAX_BULK:
        raise JobdeckError(f"At most {MAX_BULK} jobs per bulk action")
    changed, errors, skipped = 0, {}, 0
    for job_id in dict.fromkeys(ids):  # unique, in the order given
        try:
            action(job_id=job_id, actor=actor)
            changed += 1
        except JobdeckError as exc:
            skipped += 1
            if len(errors) < 100:
                errors[job_id] = exc.message
    return BulkResult(matched=changed + skipped, changed=changed, skipped=skipped, errors=errors)


@write_service
def delete_job(*, job_id: int, actor: str = "") -> None:
    """Delete a finished job with its history. Raises JobNotFound, or InvalidTransition when the
    job is not finished (the status is checked again in the DELETE: a job retried meanwhile stays)."""
    job = _get(job_id)
    if job.status not in FINISHED:
        raise InvalidTransition(job.pk, job.status, "deleted")
    deleted, _ = Job.objects.filter(pk=job.pk, status__in=sorted(FINISHED)).delete()
    if not deleted:
        raise InvalidTransition(job.pk, _get(job_id).status, "deleted")


@write_service
def delete_jobs(*, ids: Sequence[int], actor: str = "") -> BulkResult:
    """delete_job() for each id; unfinished jobs are counted as skipped."""
    return _bulk(ids, delete_job, actor)


@write_service
def cancel_jobs(*, ids: Sequence[int], actor: str = "") -> BulkResult:
    """cancel_job() for each id; jobs that cannot be cancelled are counted as skipped."""
    return _bulk(ids, cancel_job, actor)


@write_service
def retry_jobs(*, ids: Sequence[int], actor: str = "") -> BulkResult:
    """retry_job() for each id; jobs that cannot be retried are counted as skipped."""
    return _bulk(ids, retry_job, actor)


@write_service
def run_jobs_now(*, ids: Sequence[int], actor: str = "") -> BulkResult:
    """run_job_now() for each id; running and finished jobs are counted as skipped."""
    return _bulk(ids, run_job_now, actor)


def _queue_name(name: str) -> str:
    if not isinstance(name, str) or not QUEUE_NAME.match(name):
        raise InvalidQueue("queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'")
    return name


@write_service
def pause_queue(*, name: str) -> Queue:
    """Stop workers claiming from `name` (running jobs finish). Returns the queue's settings."""
    queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"paused": True})
    return queue


@write_service
def resume_queue(*, name: str) -> Queue:
    """Let workers claim from `name` again. Returns the queue's settings."""
    with transaction.atomic():
        queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"paused": False})
        database.notify_new_jobs()
    return queue


@write_service
def set_queue_concurrency(*, name: str, limit: int | None) -> Queue:
    """Limit how many jobs of `name` run at once across all workers (None: no limit)."""
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise InvalidQueue("concurrency must be a whole number of at least 1, or null for no limit")
    with transaction.atomic():
        queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"concurrency": limit})
        database.notify_new_jobs()
    return queue


def set_progress(*, job_id: int, attempt: int, fraction: float, message: str = "") -> bool:
    """Record a running job's progress. Returns False if that attempt is no longer running."""
    if not _is_number(fraction) or not 0.0 <= fraction <= 1.0:
        raise InvalidJob("progress must be a number between 0 and 1")
    return bool(
        Job.objects.filter(pk=job_id, status=Status.RUNNING, attempt=attempt).update(
            progress=float(fraction), progress_message=str(message)[:500]
        )
    )


MAX_RETENTION = datetime.timedelta(days=36_500)
MAX_PRUNE_BATCH = 100_000


@dataclass(frozen=True)
class PruneResult:
    """What one prune deleted (or, in a dry run, would delete)."""

    jobs: int
    events: int
    attempts: int
    logs: int
    batches: int


def _retention(value: datetime.timedelta | None, setting_days: float, name: str) -> datetime.timedelta:
    """The retention asked for, else the setting's; refused outside 0..36,500 days."""
    error = JobdeckError(f"{name} must be between 0 and {MAX_RETENTION.days} days")
    if value is None:
        if not _is_number(setting_days) or not 0 <= setting_days <= MAX_RETENTION.days:
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
    if not _is_int(batch_size) or not 1 <= batch_size <= MAX_PRUNE_BATCH:
        raise JobdeckError(f"batch size must be a whole number between 1 and {MAX_PRUNE_BATCH}")
    if max_batches is not None and (not _is_int(max_batches) or max_batches < 0):
        raise JobdeckError("max batches must be a whole number, 0 or more")
    now = timezone.now() if now is None else now
    expired = Job.objects.filter(
        Q(status__in=[Status.DONE, Status.CANCELLED], finished_at__lt=now - retention)
        | Q(status=Status.FAILED, finished_at__lt=now - failed_retention)
    ).order_by("pk")
    if dry_run:
        if max_batches is not None:
            expired = expired[: max_batches * batch_size]
        ids = expired.values("pk")
        jobs = expired.count()
        return PruneResult(
            jobs=jobs,
            events=JobEvent.objects.filter(job_id__in=ids).count(),
            attempts=Attempt.objects.filter(job_id__in=ids).count(),
            logs=JobLog.objects.filter(job_id__in=ids).count(),
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
    return PruneResult(jobs=jobs, events=events, attempts=attempts, logs=logs, batches=batches)


def prune_workers(*, retention: datetime.timedelta | None = None) -> int:
    """Delete gone worker rows (stopped, or silent past the lease) last heard from longer than
    `retention` ago (JOBDECK_WORKER_RETENTION_SECONDS, a day) on the database clock. Alive workers
    are never touched. Returns the number deleted."""
    if retention is None:
        retention = datetime.timedelta(seconds=engine_settings().worker_retention_seconds)
    stale = WorkerProcess.objects.gone().filter(last_heartbeat__lt=Now() - retention)
    deleted, _ = stale.delete()
    return deleted
