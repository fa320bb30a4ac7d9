"""What an operator does to jobs already stored: cancel, retry, run now, delete (one or many), and
what a running task reports (its progress)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from jobs import options, states
from jobs.dbguard import write_service
from jobs.exceptions import Conflict, InvalidJob, InvalidTransition, JobdeckError, JobNotFound
from jobs.models import Job
from jobs.status import FINISHED, WAITING, Status


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
    Its deadline (expires_at) is cleared: retrying is a person's decision to run it now, expired or not.

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
        "expires_at": None,
    }
    try:
        moved = states.transition(job, Status.QUEUED, reason="manual retry", actor=actor, **fields)
    except IntegrityError:
        raise Conflict(
            f"Job {job.pk} cannot be retried: another job holds its idempotency key '{job.idempotency_key}'"
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
    if len(ids) > options.MAX_BULK:
        raise JobdeckError(f"At most {options.MAX_BULK} jobs per bulk action")
    changed, skipped = 0, 0
    errors: dict[int, str] = {}
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


def set_progress(*, job_id: int, attempt: int, fraction: float, message: str = "") -> bool:
    """Record a running job's progress. Returns False if that attempt is no longer running."""
    if not options.is_number(fraction) or not 0.0 <= fraction <= 1.0:
        raise InvalidJob("progress must be a number between 0 and 1")
    return bool(
        Job.objects.filter(pk=job_id, status=Status.RUNNING, attempt=attempt).update(
            progress=float(fraction), progress_message=str(message)[:500]
        )
    )
