"""Re-arming a workflow's failed part (issue 13): its failed jobs, and the jobs a failed parent
cancelled, go back to waiting so that no job runs before its parents have run again.

Kept apart from dependencies.py (the links and their release) because it is the one move that
undoes a release: a re-armed child's links to its re-armed parents are un-resolved and its
pending_parents recomputed, so each parent's next finish is counted on it again, once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.database import is_postgres
from jobs.models import Job, JobDependency
from jobs.states.orm import transition
from jobs.status import FINISHED, Status, attempts_spent

_CHUNK = 500
_COLUMNS = (
    "pk",
    "status",
    "queue",
    "attempt",
    "interrupted",
    "snoozes",
    "max_attempts",
    "last_error",
    "failed_parent",
    "after_failure",
)


def cancelled_by_parent(job: Job) -> bool:
    """Whether a cancelled job was cancelled because a parent failed or was cancelled (promote_due
    writes that reason, "dependency #12 failed", into last_error)."""
    if job.status != Status.CANCELLED or job.failed_parent is None:
        return False
    return job.last_error.startswith("dependency #")


def _locked(ids: list[int]) -> dict[int, Job]:
    """The jobs `ids`, read under their row locks taken in id order (PostgreSQL; SQLite's write lock
    holds the whole database): a parent finishing now either finished first or waits for this
    transaction, and then releases the re-armed children it finds."""
    jobs: dict[int, Job] = {}
    for start in range(0, len(ids), _CHUNK):
        qs = Job.objects.filter(pk__in=ids[start : start + _CHUNK]).order_by("pk").only(*_COLUMNS)
        if is_postgres():
            qs = qs.select_for_update()
        jobs.update((job.pk, job) for job in qs)
    return jobs


def rearm_failed(ids: Sequence[int], *, actor: str = "") -> list[int]:
    """Re-arm the failed part of the jobs `ids` (a workflow, as jobs.workflow_graph reads it). Returns the
    ids re-armed, in order.

    A job is re-armed when it failed, or when a failed parent cancelled it and that parent is
    re-armed too. One that a parent would cancel again at once (a parent that stays failed or
    cancelled, with after_failure "cancel") is left as it is, and so are its children. A re-armed
    job waits `scheduled` for its parents still to run (re-armed, or not finished yet), or is
    `queued` when it has none; a person's retry, so its attempts and deadline are as retry_job()
    sets them.
    """
    wanted = sorted(set(ids))
    with transaction.atomic():
        parents: dict[int, list[tuple[int, bool]]] = defaultdict(list)  # child -> (parent, resolved)
        for start in range(0, len(wanted), _CHUNK):
            rows = JobDependency.objects.filter(child_id__in=wanted[start : start + _CHUNK])
            for child, parent, resolved in rows.values_list("child_id", "parent_id", "resolved"):
                parents[child].append((parent, resolved))
        jobs = _locked(sorted(set(wanted) | {p for ps in parents.values() for p, _ in ps}))
        now = timezone.now()
        rearmed: list[int] = []
        # A child's id is above its parents' (they exist before it), so id order decides each
        # parent before its children.
        for pk in wanted:
            job = jobs.get(pk)
            if job is None:
                continue
            by_parent = cancelled_by_parent(job) and job.failed_parent in rearmed
            if job.status != Status.FAILED and not by_parent:
                continue
            pending, failed_parent = 0, None
            for parent, resolved in sorted(parents[pk]):
                status = jobs[parent].status if parent in jobs else Status.DONE
                # A parent not finished counts when its finish is still to be counted: a link
                # resolved already (a parent retried by hand after it finished) never counts again.
                if parent in rearmed or (status not in FINISHED and not resolved):
                    pending += 1
                elif status != Status.DONE and failed_parent is None:
                    failed_parent = parent
            if failed_parent is not None and job.after_failure == "cancel":
                continue  # it would be cancelled again at once: leave it, with its reason
            spent = attempts_spent(attempt=job.attempt, interrupted=job.interrupted, snoozes=job.snoozes)
            fields: dict[str, Any] = {
                "run_at": now,
                "finished_at": None,
                "result": None,
                "cancel_requested_at": None,
                "max_attempts": max(job.max_attempts, spent + 1),
                "expires_at": None,
                "pending_parents": pending,
                "failed_parent": failed_parent,
            }
            if by_parent:
                fields["last_error"] = ""  # never ran: the old reason no longer holds
            to = Status.SCHEDULED if pending else Status.QUEUED
            reason = f"workflow retry: waits for {pending} job(s)" if pending else "workflow retry"
            try:
                moved = transition(job, to, reason=reason, actor=actor, **fields)
            except IntegrityError:  # another job holds its idempotency key: left failed, as retry_job would
                continue
            if moved:
                rearmed.append(pk)
        # Each re-armed parent's next finish must count on its re-armed children again (once).
        armed = set(rearmed)
        for start in range(0, len(rearmed), _CHUNK):
            chunk = rearmed[start : start + _CHUNK]
            JobDependency.objects.filter(child_id__in=chunk, parent_id__in=armed, resolved=True).update(resolved=False)
    return rearmed
