"""The worker's hot moves on a raw connection: claim, finish (late or not), and both in one transaction.

Each runs a fixed number of statements per job on jobs.database.Hot; on PostgreSQL they travel in
one pipeline, so a statement's reply is read only after the pipeline's Sync (see Reply).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs import registry
from jobs.database import Hot, RawCursor, datetime_value, json_value
from jobs.states import decisions, dependencies, sql
from jobs.states.history import ATTEMPT_TARGET, EVENT_TARGET, attempt_row, event_row
from jobs.states.records import ClaimedJob, Finish
from jobs.states.sql import From
from jobs.status import FINISHED, Status

logger = logging.getLogger(__name__)


class Reply:
    """The row an UPDATE ... RETURNING matched, or None: read after the batch it was sent in, since
    a PostgreSQL pipeline answers at its Sync (SQLite has answered already)."""

    __slots__ = ("_cursor", "_row")

    def __init__(self, *, cursor: RawCursor | None = None, row: tuple[Any, ...] | None = None) -> None:
        self._cursor, self._row = cursor, row

    def row(self) -> tuple[Any, ...] | None:
        return self._row if self._cursor is None else self._cursor.fetchone()


def _update_with_history(
    hot: Hot,
    update_sql: str,
    params: list[Any],
    returning: Sequence[str],
    inserts: list[tuple[str, list[Any]]],
    rate_starts_at: float | None = None,
) -> Reply:
    """Run `update_sql ... RETURNING returning` and, if it matched a row, the history INSERTs that hang
    off it, in the caller's transaction. PostgreSQL gets one statement with data-modifying CTEs;
    SQLite runs them one by one (calls into a library, no network). With `rate_starts_at` (a claim),
    the job's RateStart rows too (sql.rate_start_sql())."""
    update_sql = f"{update_sql} RETURNING {', '.join(returning)}"
    if hot.pg:
        extra: tuple[str, list[object]] | None = None
        if rate_starts_at is not None:
            extra = (sql.rate_start_sql(pg=True), [rate_starts_at])
        statement, values = sql.with_inserts_pg(update_sql, inserts, extra)
        return Reply(cursor=hot.execute(statement, [*params, *values]))
    row = hot.execute(update_sql, params).fetchone()
    if row is not None:
        for target, items in inserts:
            values = [row[returning.index(v.column)] if isinstance(v, From) else v for v in items]
            hot.execute(sql.insert_sql(target, len(values)), values)
        if rate_starts_at is not None:
            job = [row[returning.index(name)] for name in ("queue", "task_name", "concurrency_key")]
            hot.execute(sql.rate_start_sql(pg=False), [rate_starts_at, *job])
    return Reply(row=row)


def claim_next(
    *, queues: Sequence[str], worker: str, lease_seconds: float, tasks: Sequence[str] | None = None
) -> ClaimedJob | None:
    """Claim the next runnable job in `queues` (not paused, under its concurrency limit) whose task
    and version are in `tasks` ("module.path" or "module.path@version"; None: any task).

    Order: highest priority, then oldest run_at, then id. Returns None when nothing is runnable.
    PostgreSQL skips rows other claimers hold (SKIP LOCKED); SQLite's IMMEDIATE transaction
    serialises claimers. The claim, its event and its lease commit together.
    """
    if not queues:
        return None
    with transaction.atomic():
        now = timezone.now()  # once the transaction holds SQLite's write lock
        reply = send_claim(Hot(), queues=queues, worker=worker, lease_seconds=lease_seconds, now=now, tasks=tasks)
        return claimed_job(reply, worker, now)


def claim_keys(tasks: Sequence[str], *, pg: bool) -> list[str] | str:
    """The claim's task parameter for a worker's task refs (registry.claim_keys()), as a list for
    PostgreSQL or a JSON array for SQLite; built once per worker, not per claim."""
    return _claim_keys(tuple(tasks), pg)


@functools.cache
def _claim_keys(tasks: tuple[str, ...], pg: bool) -> list[str] | str:
    keys = registry.claim_keys(tasks)
    return keys if pg else json.dumps(keys)


def send_claim(
    hot: Hot,
    *,
    queues: Sequence[str],
    worker: str,
    lease_seconds: float,
    now: datetime.datetime,
    previous: int = 0,
    tasks: Sequence[str] | None = None,
) -> Reply:
    """Send the claim of the next runnable job (never job `previous`, on PostgreSQL) whose task is
    in `tasks` (None: any); read the reply with claimed_job(). `queues` must not be empty."""
    pg = hot.pg
    if pg:
        hot.execute(sql.CLAIM_SETUP_PG, [list(queues)])
    lease = lease_seconds if pg else hot.dt(now + datetime.timedelta(seconds=lease_seconds))
    params = [worker, hot.dt(now), lease, *([previous] if pg else []), *queues, hot.dt(now)]
    if tasks is not None:
        params.append(claim_keys(tasks, pg=pg))
    epoch = now.timestamp()
    params.append(epoch)
    event = event_row(
        job_id=From("id"),
        queue=From("queue"),
        old=Status.QUEUED,
        new=Status.RUNNING,
        attempt=From("attempt"),
        reason="claimed",
        actor=worker,
        at=hot.dt(now),
    )
    claim = sql.claim_sql(pg=pg, queue_count=len(queues), by_task=tasks is not None)
    return _update_with_history(hot, claim, params, sql.CLAIM_RETURNING, [(EVENT_TARGET, event)], epoch)


def claimed_job(reply: Reply, worker: str, now: datetime.datetime) -> ClaimedJob | None:
    """The job a claim took (see sql.CLAIM_RETURNING), or None if nothing was runnable."""
    row = reply.row()
    if row is None:
        return None
    return ClaimedJob(
        id=row[0],
        queue=row[1],
        task_name=row[2],
        task_version=row[3],
        args=json_value(row[4]),
        payload=json_value(row[5]),
        attempt=row[6],
        max_attempts=row[7],
        timeout=row[8],
        worker=worker,
        started_at=now,
        interrupted=row[9],
        priority=row[10],
        enqueued_at=datetime_value(row[11]),
        snoozes=row[12],
        retry_policy=json_value(row[13]) if row[13] is not None else None,
    )


def send_finish(hot: Hot, end: Finish, *, late: bool = False) -> Reply:
    """Send the finish of one attempt: the job row, its event and its Attempt row. The reply has a
    row if the finish was stored.

    Normally the claim must be current: still running, same attempt. With `late`, the rule for late
    outcomes applies instead (see write_late_finish()).
    """
    claimed, now = end.claimed, end.ended_at
    fields = decisions.finish_fields(end, dt=hot.dt, json=hot.json)
    update = sql.finish_sql(
        fields, interrupted=decisions.counts_as_interrupted(end), late=late, snoozed=decisions.counts_as_snoozed(end)
    )
    if late:
        old, reason = Status.QUEUED, decisions.late_reason(end.reason)
        keys = [claimed.id, claimed.attempt, claimed.id, claimed.attempt]
    else:
        old, reason = Status.RUNNING, end.reason
        keys = [claimed.id, claimed.attempt]
    ended = hot.dt(now)
    event = event_row(
        job_id=From("id"),
        queue=claimed.queue,
        old=old,
        new=end.to,
        attempt=claimed.attempt,
        reason=reason,
        actor=claimed.worker,
        at=ended,
    )
    attempt = attempt_row(
        job_id=From("id"),
        number=claimed.attempt,
        worker=claimed.worker,
        started_at=hot.dt(claimed.started_at),
        finished_at=ended,
        failure=end.failure,
        progress=From("progress"),  # the attempt keeps the progress it reached: it survives a retry
        progress_message=From("progress_message"),
    )
    params = [*fields.values(), *keys]
    reply = _update_with_history(
        hot, update, params, sql.FINISH_RETURNING, [(EVENT_TARGET, event), (ATTEMPT_TARGET, attempt)]
    )
    if end.to == Status.QUEUED:
        hot.notify()
    elif end.to in FINISHED:
        # Dependencies: the children waiting for this job count its finish in this transaction.
        # SQLite has the row already and looks only when the job has dependents; PostgreSQL answers
        # at the pipeline's Sync, so the release goes along and matches nothing without them.
        if hot.pg:
            dependencies.release_children(hot, parent_id=claimed.id, status=end.to)
        else:
            row = reply.row()
            if row is not None and row[sql.FINISH_RETURNING.index("has_dependents")]:
                dependencies.release_children(hot, parent_id=claimed.id, status=end.to)
    return reply


def record(end: Finish) -> bool:
    """Write a Finish in a transaction of its own; late if its claim is gone (write_late_finish()).

    Writes the job row, its event and the Attempt row together. Returns False (writing nothing)
    when the claim is no longer current and the late rule does not apply either.
    """
    with transaction.atomic():
        hot = Hot()
        return send_finish(hot, end).row() is not None or write_late_finish(hot, end)


def write_late_finish(hot: Hot, end: Finish) -> bool:
    """The rule for late outcomes, in the caller's transaction. Returns whether the outcome was stored.

    A worker keeps an attempt's outcome until the database takes it (disk full, write lock held,
    connection lost), but while the database refuses writes it cannot renew the lease either, so the
    rescuer may requeue the job first. The late outcome of attempt N is still stored if the job was
    rescued and no attempt N+1 has started: status queued, attempt N, and the rescuer's 'lost'
    Attempt row for N present. That row is replaced by the real one and the job moves from queued to
    the outcome (its event says it was stored late), so whoever writes first once the database
    accepts writes again, the job's real outcome wins and it does not run twice. Otherwise (attempt
    N+1 started, the job was cancelled, or the rescuer failed it for want of attempts) the outcome
    is discarded: a later decision stands.

    Only reached when the normal write found its claim gone, so the hot path costs nothing more.
    """
    if send_finish(hot, end, late=True).row() is None:
        return False
    claimed = end.claimed
    hot.execute(sql.DELETE_LOST_ATTEMPT, [claimed.id, claimed.attempt])
    logger.warning(
        "job %s attempt %s: outcome stored after its lease had run out and the job was requeued",
        claimed.id,
        claimed.attempt,
        extra={"job_id": claimed.id, "worker_id": claimed.worker, "action": "stored_late"},
    )
    return True


def finish_and_claim(
    previous: Finish | None,
    *,
    queues: Sequence[str],
    worker: str,
    lease_seconds: float,
    tasks: Sequence[str] | None = None,
) -> tuple[bool | None, ClaimedJob | None]:
    """Record a worker's previous outcome and claim its next job in one transaction.

    A worker's loop is "finish one, claim the next"; one commit for both halves the write
    transactions per job, which is what bounds throughput on SQLite. Returns (whether the
    outcome was written, or None without one; the claimed job or None).
    """
    # On PostgreSQL the claim's setup sets synchronous_commit off for this transaction: an outcome
    # lost in a server crash leaves the job leased, so it is rescued and runs again, never lost.
    hot = Hot()
    stored: bool | None = None
    written: Reply | None = None
    claim: Reply | None = None
    with hot.transaction():
        if previous is not None:
            written = send_finish(hot, previous)
            if not hot.pg:
                # SQLite answers at once: a late outcome is stored before this worker claims again.
                stored = written.row() is not None or write_late_finish(hot, previous)
        now = timezone.now()
        if queues:
            previous_id = 0 if previous is None else previous.claimed.id
            claim = send_claim(
                hot,
                queues=queues,
                worker=worker,
                lease_seconds=lease_seconds,
                now=now,
                previous=previous_id,
                tasks=tasks,
            )
    claimed = None if claim is None else claimed_job(claim, worker, now)
    if previous is not None and written is not None and hot.pg:
        stored = written.row() is not None
        if not stored:
            # The pipeline reads the outcome's row only at its Sync, after the claim was sent: the
            # late rule runs in a transaction of its own, before the claimed job starts.
            with transaction.atomic():
                stored = write_late_finish(Hot(), previous)
    return stored, claimed
