"""The cold moves, through the ORM: transition(), cancel requests, lease renewal and rescue,
promotion of due jobs, and the release of a draining worker's jobs.

Each is a conditional UPDATE whose row count is checked, with its history rows written by
jobs/states/history.py in the same transaction.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from jobs.database import Hot, is_postgres, notify_new_jobs
from jobs.models import Attempt, Job
from jobs.states import decisions, dependencies, history, passing, sql
from jobs.states.records import Failure
from jobs.status import FINISHED, Status, cancelled_when_due

logger = logging.getLogger(__name__)


def transition(job: Job, to: str, *, reason: str = "", actor: str = "", **fields: Any) -> bool:
    """Move `job` from the status (and attempt) it was read with to `to`, recording a JobEvent.

    Returns False if the row changed since it was read (another worker, a racing cancel):
    nothing is written and the caller decides what that means. Raises InvalidTransition if
    the state machine forbids the move.
    """
    decisions.check_move(job.pk, job.status, to)
    now = timezone.now()
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, status=job.status, attempt=job.attempt).update(status=to, **fields)
        if changed:
            history.write_events(
                [
                    history.event_row(
                        job_id=job.pk,
                        queue=job.queue,
                        old=job.status,
                        new=to,
                        attempt=job.attempt,
                        reason=reason,
                        actor=actor,
                        at=now,
                    )
                ]
            )
            if to == Status.QUEUED:
                notify_new_jobs()
            elif to in FINISHED:
                dependencies.release_children(Hot(), parent_id=job.pk, status=to)
    if changed:
        job.status = to
        for name, value in fields.items():
            setattr(job, name, value)
    return changed == 1


def request_cancel(job: Job, *, actor: str = "") -> bool:
    """Flag a running job for cancellation; its worker sees the flag and ends it `cancelled`."""
    now = timezone.now()
    with transaction.atomic():
        changed = Job.objects.filter(
            pk=job.pk, status=Status.RUNNING, attempt=job.attempt, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now)
        if changed:
            history.write_events(
                [
                    history.event_row(
                        job_id=job.pk,
                        queue=job.queue,
                        old=Status.RUNNING,
                        new=Status.RUNNING,
                        attempt=job.attempt,
                        reason="cancel requested",
                        actor=actor,
                        at=now,
                    )
                ]
            )
    return changed == 1


def renew_leases(*, worker: str, claims: Iterable[tuple[int, int]], lease_seconds: float) -> int:
    """Extend the leases of the (job id, attempt) claims this process still runs. Returns rows renewed."""
    claims = list(claims)
    if not claims:
        return 0
    renewed = 0
    expires = Now() + datetime.timedelta(seconds=lease_seconds)
    for job_id, attempt in claims:
        renewed += Job.objects.filter(pk=job_id, status=Status.RUNNING, attempt=attempt, worker=worker).update(
            lease_expires_at=expires
        )
    return renewed


def rescue_expired(*, limit: int = 200) -> int:
    """Requeue running jobs whose lease expired (worker killed or lost); fail those out of attempts.

    Expiry is judged on the database clock. Each rescue re-checks the lease in its UPDATE, so a
    heartbeat that lands first wins and the job is left alone. Returns the number rescued.
    """
    rows = list(
        Job.objects.lease_expired(Now())
        .order_by("lease_expires_at")
        .values_list(
            "pk",
            "queue",
            "attempt",
            "interrupted",
            "snoozes",
            "max_attempts",
            "worker",
            "started_at",
            "cancel_requested_at",
            "progress",
            "progress_message",
        )[:limit]
    )
    rescued = 0
    for (
        job_id,
        queue,
        attempt,
        interrupted,
        snoozes,
        max_attempts,
        worker,
        started_at,
        cancel_at,
        progress,
        message,
    ) in rows:
        now = timezone.now()
        to, reason, fields = decisions.rescue_move(
            cancel_requested=cancel_at is not None,
            attempt=attempt,
            interrupted=interrupted,
            snoozes=snoozes,
            max_attempts=max_attempts,
            now=now,
        )
        with transaction.atomic():
            changed = Job.objects.filter(
                pk=job_id, status=Status.RUNNING, attempt=attempt, lease_expires_at__lt=Now()
            ).update(**fields)
            if not changed:
                continue
            history.write_events(
                [
                    history.event_row(
                        job_id=job_id,
                        queue=queue,
                        old=Status.RUNNING,
                        new=to,
                        attempt=attempt,
                        reason=reason,
                        actor="rescuer",
                        at=now,
                    )
                ]
            )
            lost = Failure(
                outcome=Attempt.Outcome.LOST,
                error_class="jobs.context.WorkerLost",
                message=f"lease expired while held by {worker}",
            )
            history.write_attempts(
                [
                    history.attempt_row(
                        job_id=job_id,
                        number=attempt,
                        worker=worker,
                        started_at=started_at or now,
                        finished_at=now,
                        failure=lost,
                        progress=progress,
                        progress_message=message,
                    )
                ]
            )
            if to == Status.QUEUED:
                notify_new_jobs()
            elif to in FINISHED:
                dependencies.release_children(Hot(), parent_id=job_id, status=to)
        rescued += 1
        logger.warning("rescued job %s from %s", job_id, worker, extra={"job_id": job_id, "action": "rescued"})
    return rescued


def _due(now: datetime.datetime, limit: int, *, lock: bool) -> list[tuple[Any, ...]]:
    """(id, status, queue, attempt, failed_parent, after_failure, last_error, result_input) of the
    jobs that fall due by `now`, oldest run_at first, through job_due_ready_idx; with `lock` on
    PostgreSQL locked, skipping rows another process holds (SQLite: the caller's transaction holds
    the database)."""
    if is_postgres():
        qs = Job.objects.due(now).order_by("run_at")
        if lock:
            qs = qs.select_for_update(skip_locked=True)
        return list(
            qs.values_list(
                "pk", "status", "queue", "attempt", "failed_parent", "after_failure", "last_error", "result_input"
            )[:limit]
        )
    with connection.cursor() as cursor:
        cursor.execute(sql.due_sqlite(connection.alias), [connection.ops.adapt_datetimefield_value(now), limit])
        rows = cursor.fetchall()
    # The raw read gives result_input as JSON text; the ORM's (PostgreSQL above) decodes it.
    return [(*row[:7], None if row[7] is None else json.loads(row[7])) for row in rows]


def promote_due(*, limit: int = 1000) -> int:
    """Move scheduled and retrying jobs whose run_at has come (and, for a job with parents, whose
    parents are done) to queued; cancel those a failed parent cancels (dependencies). Returns how
    many moved."""
    now = timezone.now()
    if not _due(now, 1, lock=False):  # a cheap read first, so idle probes never take the write lock
        return 0
    with transaction.atomic():
        rows = _due(now, limit, lock=True)
        ends = [cancelled_when_due(failed_parent=r[4], after_failure=r[5]) for r in rows]
        events = _cancel_for_parents([r for r, end in zip(rows, ends, strict=True) if end], now)
        promoted = [r[:4] for r, end in zip(rows, ends, strict=True) if not end]
        # Chains passing results: the parents' results become the first argument (jobs.states.passing).
        takers = {r[0]: r[7] for r, end in zip(rows, ends, strict=True) if r[7] is not None and not end}
        if takers:
            passing.fill_args(takers)
        for status in (Status.SCHEDULED, Status.RETRYING):
            picked = [r for r in promoted if r[1] == status]
            if not picked:
                continue
            # Rows are locked (PostgreSQL) or the database is (SQLite), so every picked row changes.
            Job.objects.filter(pk__in=[r[0] for r in picked], status=status).update(status=Status.QUEUED)
            events += [
                history.event_row(
                    job_id=pk,
                    queue=queue,
                    old=status,
                    new=Status.QUEUED,
                    attempt=n,
                    reason="due",
                    actor="scheduler",
                    at=now,
                )
                for pk, _, queue, n in picked
            ]
        history.write_events(events)
        if events:
            notify_new_jobs()
    return len(events)


def _cancel_for_parents(rows: list[tuple[Any, ...]], now: datetime.datetime) -> list[list[Any]]:
    """Cancel due jobs whose parent failed or was cancelled (after_failure "cancel"; last_error
    holds the reason, "dependency #12 failed"), or none of whose parents did (after_failure "only":
    it runs only after a failure), releasing their own children. Rows are locked (PostgreSQL) or
    the database is (SQLite). Returns their events."""
    events = []
    for pk, status, queue, attempt, _, after_failure, reason, *_ in rows:
        if after_failure == "only":
            reason = dependencies.no_failure_reason(pk)
        Job.objects.filter(pk=pk, status=status).update(status=Status.CANCELLED, finished_at=now, last_error=reason)
        dependencies.release_children(Hot(), parent_id=pk, status=Status.CANCELLED)
        events.append(
            history.event_row(
                job_id=pk,
                queue=queue,
                old=status,
                new=Status.CANCELLED,
                attempt=attempt,
                reason=reason,
                actor="dependencies",
                at=now,
            )
        )
    return events


def _past_deadline(now: datetime.datetime, limit: int) -> list[Job]:
    """Waiting jobs whose expires_at has come (id, status, queue, attempt and expires_at loaded),
    oldest deadline first; on PostgreSQL locked, skipping rows another process holds."""
    if is_postgres():
        qs = Job.objects.past_deadline(now).order_by("expires_at").select_for_update(skip_locked=True)
        return list(qs.only("pk", "status", "queue", "attempt", "expires_at")[:limit])
    adapted = connection.ops.adapt_datetimefield_value(now)
    return list(Job.objects.raw(sql.past_deadline_sqlite(connection.alias), [adapted, limit]))


def expire_due(*, limit: int = 1000) -> int:
    """End waiting jobs whose expires_at has come: cancelled, with the reason "expired: not started
    by <time>" (decisions.expired_reason) in their event and last_error. Returns how many ended.

    The claim never takes such a job (its WHERE checks expires_at), so this only makes the ending
    visible; it runs on the workers' housekeeping tick. A retrying job whose deadline passes ends
    the same way: the deadline is for the start of any attempt.
    """
    now = timezone.now()
    # A cheap read first (job_expiry_idx, empty without expiry), so idle ticks never take the write lock.
    if not (Job.objects.past_deadline(now).exists() if is_postgres() else _past_deadline(now, 1)):
        return 0
    events = []
    with transaction.atomic():
        for job in _past_deadline(now, limit):
            reason = decisions.expired_reason(job.expires_at)
            # Rows are locked (PostgreSQL) or the database is (SQLite): the status read still holds.
            Job.objects.filter(pk=job.pk, status=job.status).update(
                status=Status.CANCELLED, finished_at=now, last_error=reason
            )
            dependencies.release_children(Hot(), parent_id=job.pk, status=Status.CANCELLED)
            events.append(
                history.event_row(
                    job_id=job.pk,
                    queue=job.queue,
                    old=job.status,
                    new=Status.CANCELLED,
                    attempt=job.attempt,
                    reason=reason,
                    actor="expiry",
                    at=now,
                )
            )
        history.write_events(events)
    if events:
        logger.info("%d jobs expired before they started", len(events), extra={"action": "expired"})
    return len(events)


def release_worker_jobs(*, worker: str, reason: str) -> int:
    """Requeue every job still running under `worker` (a draining shutdown). Returns how many."""
    released = 0
    for job in Job.objects.filter(status=Status.RUNNING, worker=worker).only(
        "pk", "status", "attempt", "queue", "started_at", "progress", "progress_message", "interrupted"
    ):
        now = timezone.now()
        with transaction.atomic():
            # An interrupted attempt is not spent (attempts_spent()).
            interrupted = F("interrupted") + 1
            if transition(
                job, Status.QUEUED, reason=reason, actor=worker, lease_expires_at=None, interrupted=interrupted
            ):
                history.write_attempts(
                    [
                        history.attempt_row(
                            job_id=job.pk,
                            number=job.attempt,
                            worker=worker,
                            started_at=job.started_at or now,
                            finished_at=now,
                            failure=Failure(outcome=Attempt.Outcome.INTERRUPTED, message=reason),
                            progress=job.progress,
                            progress_message=job.progress_message,
                        )
                    ]
                )
                released += 1
    return released


def record_note(*, job_id: int, queue: str, status: str, attempt: int, reason: str, actor: str) -> None:
    """A timeline entry that moves nothing (old status == new status): something happened to the
    job that its history should show, such as a hook that raised (jobs.hooks)."""
    history.write_events(
        [
            history.event_row(
                job_id=job_id,
                queue=queue,
                old=status,
                new=status,
                attempt=attempt,
                reason=reason,
                actor=actor,
                at=timezone.now(),
            )
        ]
    )
