"""Batches (issue 13): a batch's insert, its members and callbacks in one transaction, each callback
linked to every member through the dependencies' JobDependency rows.

A callback is an ordinary job waiting for the members, so the dependencies' release (exact across
hosts, once per parent's finish) decides when it runs; its after_failure picks which outcome it runs
on. The links are written by one INSERT ... SELECT over the members (job_batch_status_idx), not a
row per parameter, so a batch is not held to the MAX_PARENTS of a job's `after`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from jobs.database import Hot
from jobs.models import Batch
from jobs.states import sql
from jobs.states.create import create_jobs
from jobs.states.history import clip_actor
from jobs.states.records import NewJob

# What a parent's failure does to each callback (jobs.status.AFTER_FAILURE_MODES): on_success is
# cancelled by a failed member, on_complete runs whatever happened, on_failure runs only after one.
CALLBACK_MODES = {"on_success": "cancel", "on_complete": "run", "on_failure": "only"}


def create_batch(
    *, members: Sequence[NewJob], callbacks: dict[str, NewJob], description: str = "", actor: str = ""
) -> Batch:
    """Insert a Batch, its members (Job.batch set) and its callbacks (keyed by CALLBACK_MODES' names),
    all or nothing; the records get their pk and status as create_jobs() sets them.

    1. The Batch row, for the members' batch_id.
    2. The members, each with has_dependents set when there are callbacks (their finish releases
       the callbacks; set in the insert, so no second write of each member).
    3. The callbacks after them (a child's id is above its parents', the order every lock follows),
       each scheduled and blocked with pending_parents = the member count: members are new and
       uncommitted, so none has finished yet.
    4. The links, one statement per callback.
    """
    with transaction.atomic():
        batch = Batch.objects.create(
            description=description, created_at=timezone.now(), total=len(members), actor=clip_actor(actor)
        )
        for job in members:
            job.batch_id, job.has_dependents = batch.pk, bool(callbacks)
        create_jobs(members, actor=actor)
        for role, job in callbacks.items():
            job.after, job.after_failure, job.pending_parents = (), CALLBACK_MODES[role], len(members)
        create_jobs(list(callbacks.values()), actor=actor)
        hot = Hot()
        for job in callbacks.values():
            hot.execute(sql.LINK_BATCH, [job.pk, batch.pk])
        for role, job in callbacks.items():
            setattr(batch, f"{role}_id", job.pk)
        if callbacks:
            batch.save(update_fields=[f"{role}_id" for role in callbacks])
    return batch
