"""Enqueue's insert: new job rows, each scheduled or queued by its run_at, with a creation event each."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs.database import NOTIFY_CHANNEL, Hot
from jobs.states import dependencies, passing, sql
from jobs.states.history import clip_actor
from jobs.states.records import NewJob
from jobs.status import Status

_INSERT_BATCH = 1000  # rows per INSERT: SQLite allows 32,766 parameters a statement, 27 a row


def _insert_sqlite(hot: Hot, batch: Sequence[NewJob], created_at: Any, actor: str) -> list[tuple[Any, ...]]:
    params: list[Any] = []
    for job in batch:
        params += [
            job.queue,
            job.task_name,
            job.task_version,
            hot.json(job.args),
            hot.json(job.payload),
            job.status,
            job.priority,
            0,
            job.max_attempts,
            hot.dt(job.run_at),
            created_at,
            job.idempotency_key,
            job.timeout,
            job.last_error,
            "",
            "",
            hot.json(job.retry_policy),
            job.unique_for,
            job.key_held,
            hot.dt(job.expires_at),
            job.concurrency_key,
            job.concurrency_limit,
            job.pending_parents,
            job.after_failure,
            job.failed_parent,
            hot.json(job.trace_context),
            job.batch_id,
            job.has_dependents,
        ]
    rows = hot.execute(sql.insert_jobs_sqlite(len(batch)), params).fetchall()
    ids = [row[0] for row in rows]
    hot.execute(sql.insert_events_sqlite(len(ids)), [actor, *ids])
    return rows


def _insert_pg(hot: Hot, batch: Sequence[NewJob], created_at: Any, actor: str) -> list[tuple[Any, ...]]:
    rows = json.dumps(
        [
            [
                j.queue,
                j.task_name,
                j.args,
                j.payload,
                j.status,
                j.priority,
                j.max_attempts,
                j.run_at.isoformat(),
                j.idempotency_key,
                j.timeout,
                j.retry_policy,  # r->10
                j.task_version,  # r->>11: the columns before it keep their places
                j.unique_for,
                j.key_held,
                None if j.expires_at is None else j.expires_at.isoformat(),
                j.concurrency_key,  # r->>15
                j.concurrency_limit,
                j.pending_parents,  # r->>17
                j.after_failure,
                j.failed_parent,
                j.last_error,  # r->>20
                j.trace_context,  # r->21
                j.batch_id,  # r->>22
                j.has_dependents,
            ]
            for j in batch
        ]
    )
    return hot.execute(sql.INSERT_JOBS_PG, [created_at, rows, actor, NOTIFY_CHANNEL]).fetchall()


def create_jobs(jobs: Sequence[NewJob], *, actor: str = "") -> list[NewJob]:
    """Insert new jobs, each scheduled or queued by its run_at, with a creation event each.

    Returns the same records with pk, status and created_at set. Multi-row INSERT ... RETURNING
    in batches keeps bulk enqueue to a few statements per thousand jobs. On PostgreSQL the NOTIFY
    that wakes workers travels in the same statement.
    """
    now = timezone.now()
    actor = clip_actor(actor)
    with transaction.atomic():
        hot = Hot()
        created_at = hot.dt(now)
        for start in range(0, len(jobs), _INSERT_BATCH):
            batch = jobs[start : start + _INSERT_BATCH]
            dependent = [job for job in batch if job.after or job.after_refs]
            parents = dependencies.lock_parents(hot, dependent)  # before the insert: see its docstring
            dependencies.plan_waits(dependent, parents)
            for job in batch:
                # A job waiting for parents is scheduled and blocked: promotion skips it. One that
                # takes its parents' results is scheduled too: promotion writes them into its args.
                waits = job.run_at > now or job.blocked or job.result_input is not None
                job.status = Status.SCHEDULED if waits else Status.QUEUED
                job.created_at = now
            rows = (_insert_pg if hot.pg else _insert_sqlite)(hot, batch, created_at, actor)
            # Both databases return the ids in insertion order (Django's bulk_create relies on it too).
            for job, row in zip(batch, rows, strict=True):
                job.pk = row[0]
            if dependent:
                dependencies.insert_links(hot, dependent, parents, jobs)
                passing.store_result_inputs(dependent, jobs)
    return list(jobs)
