"""The job state machine: the only code that writes Job.status, each move a conditional UPDATE plus a JobEvent.

Every write here filters on the status (and attempt) the caller read, and checks the row count, so
a duplicate delivery, a late heartbeat, a rescue racing a finish or a racing cancel can never move a
job backwards, revive a finished job, or let two workers run it at once.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from jobs.exceptions import InvalidTransition
from jobs.models import Attempt, Job, JobEvent, Queue
from jobs.rawsql import From, Hot, datetime_value, json_value, update_then_insert
from jobs.status import ALLOWED, Status

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "jobdeck_jobs"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """What a worker needs to run one claimed job; (id, attempt) identifies the claim."""

    id: int
    queue: str
    task_name: str
    args: list[Any]
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    timeout: float | None
    worker: str
    started_at: datetime.datetime
    interrupted: int = 0  # earlier attempts our own shutdown interrupted (see attempts_spent)
    priority: int = 0
    enqueued_at: datetime.datetime | None = None

    @property
    def attempts_spent(self) -> int:
        return attempts_spent(attempt=self.attempt, interrupted=self.interrupted)


def attempts_spent(*, attempt: int, interrupted: int) -> int:
    """The attempts that count against max_attempts: every attempt started, less those our own
    shutdown interrupted. Two deploys in a row must not fail a healthy job, so an interrupted attempt
    is recorded (outcome `interrupted`, Job.interrupted + 1) but not spent. A lease rescue after a
    crash is spent: the job itself may be what killed its worker."""
    return attempt - interrupted


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def notify_new_jobs() -> None:
    """Wake idle PostgreSQL workers when the current transaction commits (SQLite workers probe instead)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


def _event(
    job_id: int, queue: str, old: str, new: str, attempt: int, reason: str, actor: str, now: datetime.datetime
) -> JobEvent:
    return JobEvent(
        job_id=job_id,
        queue=queue,
        old_status=old,
        new_status=new,
        attempt=attempt,
        reason=reason[:500],
        actor=actor[:200],
        created_at=now,
    )


_EVENT_TARGET = f"{JobEvent._meta.db_table} (job_id, queue, old_status, new_status, attempt, reason, actor, created_at)"
_ATTEMPT_TARGET = (
    f"{Attempt._meta.db_table} (job_id, number, worker, started_at, finished_at, outcome, error_class,"
    " error_message, traceback, progress, progress_message)"
)


@dataclass(slots=True)
class NewJob:
    """A validated job about to be inserted (services builds it); create_jobs() fills in the rest.

    A plain record rather than an unsaved Job: bulk enqueue handles thousands per request, and
    model instances cost more to build than the rows cost to insert.
    """

    queue: str
    task_name: str
    args: list[Any]
    payload: dict[str, Any]
    priority: int
    max_attempts: int
    run_at: datetime.datetime
    idempotency_key: str | None = None
    timeout: float | None = None
    pk: int | None = None
    status: str = ""
    created_at: datetime.datetime | None = None

    @classmethod
    def from_job(cls, job: Job) -> NewJob:
        return cls(
            queue=job.queue,
            task_name=job.task_name,
            args=job.args,
            payload=job.payload,
            priority=job.priority,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            idempotency_key=job.idempotency_key,
            timeout=job.timeout,
            pk=job.pk,
            status=job.status,
            created_at=job.created_at,
        )

    def as_job(self) -> Job:
        """The stored row as a Job instance (no query)."""
        job = Job(
            id=self.pk,
            queue=self.queue,
            task_name=self.task_name,
            args=self.args,
            payload=self.payload,
            priority=self.priority,
            max_attempts=self.max_attempts,
            run_at=self.run_at,
            created_at=self.created_at,
            status=self.status,
            idempotency_key=self.idempotency_key,
            timeout=self.timeout,
        )
        job._state.adding, job._state.db = False, DEFAULT_DB_ALIAS
        return job


_JOB_COLUMNS = (
    "queue, task_name, args, payload, status, priority, attempt, max_attempts, run_at, created_at, "
    "idempotency_key, timeout, last_error, worker, progress_message"
)
_INSERT_BATCH = 1000


def _insert_sqlite(hot: Hot, batch: Sequence[NewJob], created_at: Any, actor: str) -> list[tuple]:
    params: list[Any] = []
    for job in batch:
        params += [
            job.queue,
            job.task_name,
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
            "",
            "",
            "",
        ]
    values = ", ".join(["(" + ", ".join(["%s"] * 15) + ")"] * len(batch))
    rows = hot.execute(
        f"INSERT INTO {Job._meta.db_table} ({_JOB_COLUMNS}) VALUES {values} RETURNING id", params
    ).fetchall()
    ids = [row[0] for row in rows]
    hot.execute(
        f"INSERT INTO {_EVENT_TARGET} SELECT id, queue, '', status, 0, 'enqueued', %s, created_at"
        f" FROM {Job._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(ids))})",
        [actor[:200], *ids],
    )
    return rows


def _insert_pg(hot: Hot, batch: Sequence[NewJob], created_at: Any, actor: str) -> list[tuple]:
    # One statement and one parameter: the rows travel as one JSON array (json.dumps is C; psycopg
    # adapting thousands of parameters or array elements is not), the events come from the
    # INSERT's own RETURNING (no second lookup, whose plan would hang on fresh statistics), and the
    # NOTIFY that wakes workers is sent at commit.
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
            ]
            for j in batch
        ]
    )
    sql = (
        f"WITH new AS (INSERT INTO {Job._meta.db_table} ({_JOB_COLUMNS}) "
        "SELECT r->>0, r->>1, r->2, r->3, r->>4, (r->>5)::int, 0, (r->>6)::int, (r->>7)::timestamptz, %s, "
        "r->>8, (r->>9)::float8, '', '', '' "
        "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(r, n) ORDER BY n "
        "RETURNING id, queue, status, created_at), "
        f"events AS (INSERT INTO {_EVENT_TARGET} "
        "SELECT id, queue, '', status, 0, 'enqueued', %s, created_at FROM new), "
        "wake AS (SELECT pg_notify(%s, '') FROM new WHERE status = 'queued' LIMIT 1) "
        "SELECT id, (SELECT count(*) FROM wake) FROM new"
    )
    return hot.execute(sql, [created_at, rows, actor[:200], NOTIFY_CHANNEL]).fetchall()


def create_jobs(jobs: Sequence[NewJob], *, actor: str = "") -> list[NewJob]:
    """Insert new jobs, each scheduled or queued by its run_at, with a creation event each.

    Returns the same records with pk, status and created_at set. Multi-row INSERT ... RETURNING
    in batches keeps bulk enqueue to a few statements per thousand jobs.
    """
    now = timezone.now()
    with transaction.atomic():
        hot = Hot()
        created_at = hot.dt(now)
        for start in range(0, len(jobs), _INSERT_BATCH):
            batch = jobs[start : start + _INSERT_BATCH]
            for job in batch:
                job.status = Status.SCHEDULED if job.run_at > now else Status.QUEUED
                job.created_at = now
            rows = (_insert_pg if hot.pg else _insert_sqlite)(hot, batch, created_at, actor)
            # Both databases return the ids in insertion order (Django's bulk_create relies on it too).
            for job, row in zip(batch, rows, strict=True):
                job.pk = row[0]
    return list(jobs)


def transition(job: Job, to: str, *, reason: str = "", actor: str = "", **fields: Any) -> bool:
    """Move `job` from the status (and attempt) it was read with to `to`, recording a JobEvent.

    Returns False if the row changed since it was read (another worker, a racing cancel):
    nothing is written and the caller decides what that means. Raises InvalidTransition if
    the state machine forbids the move.
    """
    if to not in ALLOWED[job.status]:
        raise InvalidTransition(job.pk, job.status, to)
    now = timezone.now()
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, status=job.status, attempt=job.attempt).update(status=to, **fields)
        if changed:
            JobEvent.objects.create(
                job_id=job.pk,
                queue=job.queue,
                old_status=job.status,
                new_status=to,
                attempt=job.attempt,
                reason=reason[:500],
                actor=actor[:200],
                created_at=now,
            )
            if to == Status.QUEUED:
                notify_new_jobs()
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
            JobEvent.objects.create(
                job_id=job.pk,
                queue=job.queue,
                old_status=Status.RUNNING,
                new_status=Status.RUNNING,
                attempt=job.attempt,
                reason="cancel requested",
                actor=actor[:200],
                created_at=now,
            )
    return changed == 1


# --- The worker's side: claim, finish, renew, rescue, promote -------------------------------------

_CLAIM_SQL = """
UPDATE {job} SET status = 'running', attempt = attempt + 1, worker = %s, started_at = %s,
    lease_expires_at = {lease}, finished_at = NULL, cancel_requested_at = NULL,
    progress = NULL, progress_message = ''
WHERE status = 'queued' AND id = (
    SELECT j.id FROM {job} j {indexed_by}
    WHERE j.status = 'queued' {not_previous}AND j.queue IN ({queues})
      AND j.queue NOT IN (
        SELECT q.name FROM {queue} q
        WHERE q.paused OR (q.concurrency IS NOT NULL AND q.concurrency <= (
            SELECT COUNT(*) FROM {job} r WHERE r.queue = q.name AND r.status = 'running')))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT 1 {lock}
)"""


def claim_next(*, queues: Sequence[str], worker: str, lease_seconds: float) -> ClaimedJob | None:
    """Claim the next runnable job in `queues` (not paused, under its concurrency limit).

    Order: highest priority, then oldest run_at, then id. Returns None when nothing is runnable.
    PostgreSQL skips rows other claimers hold (SKIP LOCKED); SQLite's IMMEDIATE transaction
    serialises claimers. The claim, its event and its lease commit together.
    """
    with transaction.atomic():
        return _claim(Hot(), queues=queues, worker=worker, lease_seconds=lease_seconds)()


@functools.cache
def _claim_sql(*, pg: bool, queue_count: int) -> str:
    return _CLAIM_SQL.format(
        job=Job._meta.db_table,
        queue=Queue._meta.db_table,
        queues=", ".join(["%s"] * queue_count),
        lease="statement_timestamp() + %s * interval '1 second'" if pg else "%s",
        lock="FOR UPDATE SKIP LOCKED" if pg else "",
        # PostgreSQL: never the job whose outcome this transaction writes. If that write finds the
        # job rescued, the late outcome is stored after the pipeline (finish_and_claim()); claiming
        # the requeued job here would start it again first.
        not_previous="AND j.id <> %s " if pg else "",
        # SQLite's planner prefers the (queue, status) index and then sorts every runnable row;
        # the partial claim index is already in claim order, so its first match is the answer.
        indexed_by="" if pg else "INDEXED BY job_claim_idx",
    )


def _claim(
    hot: Hot, *, queues: Sequence[str], worker: str, lease_seconds: float, previous: int = 0
) -> Callable[[], ClaimedJob | None]:
    """Send the claim (never of job `previous`, on PostgreSQL); the returned function gives the
    claimed job or None."""
    if not queues:
        return lambda: None
    now = timezone.now()
    pg = hot.pg
    sql = _claim_sql(pg=pg, queue_count=len(queues))
    lease = lease_seconds if pg else hot.dt(now + datetime.timedelta(seconds=lease_seconds))
    if pg:
        # Claimers of concurrency-limited queues take turns, so two never both see "one slot free"
        # (the claim is a later statement, so its snapshot includes the previous holder's claim).
        # A claim lost in a server crash leaves the job queued, so it need not wait for the WAL flush.
        # enable_sort off: the claim must walk job_claim_idx, which is already in claim order. With
        # stale statistics (a queue that filled since the last ANALYZE) the planner otherwise picks a
        # (queue, ...) index and sorts every queued job of the queue on each claim: O(backlog) per job.
        hot.execute(
            "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_sort', 'off', true), "
            "(SELECT count(*) FROM ("
            f"SELECT 1 FROM {Queue._meta.db_table} WHERE name = ANY(%s) AND concurrency IS NOT NULL "
            "ORDER BY name FOR UPDATE) AS limited)",
            [list(queues)],
        )
    returning = [
        "id",
        "queue",
        "task_name",
        "args",
        "payload",
        "attempt",
        "max_attempts",
        "timeout",
        "interrupted",
        "priority",
        "created_at",
    ]
    event = [
        From("id"),
        From("queue"),
        Status.QUEUED,
        Status.RUNNING,
        From("attempt"),
        "claimed",
        worker[:200],
        hot.dt(now),
    ]
    params = [worker, hot.dt(now), lease, *([previous] if pg else []), *queues]
    fetch = update_then_insert(hot, sql, params, returning, [(_EVENT_TARGET, event)])

    def claimed() -> ClaimedJob | None:
        row = fetch()
        if row is None:
            return None
        return ClaimedJob(
            id=row[0],
            queue=row[1],
            task_name=row[2],
            args=json_value(row[3]),
            payload=json_value(row[4]),
            attempt=row[5],
            max_attempts=row[6],
            timeout=row[7],
            worker=worker,
            started_at=now,
            interrupted=row[8],
            priority=row[9],
            enqueued_at=datetime_value(row[10]),
        )

    return claimed


@dataclass(frozen=True, slots=True)
class Failure:
    """How an attempt failed, as recorded on its Attempt row."""

    outcome: str  # an Attempt.Outcome value
    error_class: str = ""
    message: str = ""
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt of a claimed job ended: the move finish() will write."""

    claimed: ClaimedJob
    to: str  # done | retrying | failed | cancelled | queued
    reason: str
    result: Any = None
    failure: Failure | None = None
    retry_at: datetime.datetime | None = None
    ended_at: datetime.datetime = field(default_factory=timezone.now)


_LOST_ATTEMPT = f"SELECT 1 FROM {Attempt._meta.db_table} a WHERE a.job_id = %s AND a.number = %s AND a.outcome = 'lost'"


def _write_outcome(hot: Hot, outcome: Outcome, *, late: bool = False) -> Callable[[], bool]:
    """Send the finish of one attempt; the returned function tells whether it was stored.

    Normally the claim must be current: still running, same attempt. With `late`, the rule for late
    outcomes applies instead (see _write_late_outcome()).
    """
    claimed, to, failure, now = outcome.claimed, outcome.to, outcome.failure, outcome.ended_at
    if to not in ALLOWED[Status.RUNNING]:
        raise InvalidTransition(claimed.id, Status.RUNNING, to)
    fields: dict[str, Any] = {"status": to, "lease_expires_at": None}
    if to == Status.DONE:
        fields.update(result=hot.json(outcome.result), finished_at=hot.dt(now), last_error="", progress=1.0)
    elif to in (Status.FAILED, Status.CANCELLED):
        fields["finished_at"] = hot.dt(now)
    if outcome.retry_at is not None:
        fields["run_at"] = hot.dt(outcome.retry_at)
    if failure is not None and failure.message:
        fields["last_error"] = f"{failure.error_class}: {failure.message}"[:10_000]
    assignments = [f"{name} = %s" for name in fields]
    if failure is not None and failure.outcome == Attempt.Outcome.INTERRUPTED:
        assignments.append("interrupted = interrupted + 1")  # not spent: see attempts_spent()
    if late:
        # Rescued (requeued with the rescuer's 'lost' record of this attempt) and not claimed since.
        old, reason = Status.QUEUED, f"{outcome.reason} (stored late: its lease had run out)"
        where = f" WHERE id = %s AND status = 'queued' AND attempt = %s AND EXISTS ({_LOST_ATTEMPT})"
        keys = [claimed.id, claimed.attempt, claimed.id, claimed.attempt]
    else:
        # Only while the claim is current: still running, same attempt.
        old, reason = Status.RUNNING, outcome.reason
        where = " WHERE id = %s AND status = 'running' AND attempt = %s"
        keys = [claimed.id, claimed.attempt]
    sql = f"UPDATE {Job._meta.db_table} SET {', '.join(assignments)}{where}"
    ended = hot.dt(now)
    event = [
        From("id"),
        claimed.queue,
        old,
        to,
        claimed.attempt,
        reason[:500],
        claimed.worker[:200],
        ended,
    ]
    attempt = [
        From("id"),
        claimed.attempt,
        claimed.worker,
        hot.dt(claimed.started_at),
        ended,
        failure.outcome if failure else Attempt.Outcome.DONE,
        failure.error_class[:255] if failure else "",
        failure.message[:10_000] if failure else "",
        failure.traceback[:100_000] if failure else "",
        From("progress"),  # the attempt keeps the progress it reached: it survives a retry
        From("progress_message"),
    ]
    params = [*fields.values(), *keys]
    returning = ["id", "progress", "progress_message"]
    row = update_then_insert(hot, sql, params, returning, [(_EVENT_TARGET, event), (_ATTEMPT_TARGET, attempt)])
    if to == Status.QUEUED and hot.pg:
        hot.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])  # delivered only if we commit
    return lambda: row() is not None


def finish(
    claimed: ClaimedJob,
    to: str,
    *,
    reason: str,
    result: Any = None,
    failure: Failure | None = None,
    retry_at: datetime.datetime | None = None,
) -> bool:
    """End one attempt of a claimed job: running -> done | retrying | failed | cancelled | queued.

    Writes the job row, its event and the Attempt row together. Returns False (writing nothing)
    when the claim is no longer current: the job was rescued, or finished by someone else.
    """
    outcome = Outcome(claimed, to, reason, result=result, failure=failure, retry_at=retry_at)
    return record(outcome)


def record(outcome: Outcome) -> bool:
    """Write an Outcome on its own (see finish()), late if its claim is gone (_write_late_outcome())."""
    with transaction.atomic():
        hot = Hot()
        return _write_outcome(hot, outcome)() or _write_late_outcome(hot, outcome)


def _write_late_outcome(hot: Hot, outcome: Outcome) -> bool:
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
    if not _write_outcome(hot, outcome, late=True)():
        return False
    claimed = outcome.claimed
    hot.execute(
        f"DELETE FROM {Attempt._meta.db_table} WHERE job_id = %s AND number = %s AND outcome = 'lost'",
        [claimed.id, claimed.attempt],
    )
    logger.warning(
        "job %s attempt %s: outcome stored after its lease had run out and the job was requeued",
        claimed.id,
        claimed.attempt,
        extra={"job_id": claimed.id, "worker_id": claimed.worker, "action": "stored_late"},
    )
    return True


def finish_and_claim(
    previous: Outcome | None, *, queues: Sequence[str], worker: str, lease_seconds: float
) -> tuple[bool | None, ClaimedJob | None]:
    """Record a worker's previous outcome and claim its next job in one transaction.

    A worker's loop is "finish one, claim the next"; one commit for both halves the write
    transactions per job, which is what bounds throughput on SQLite. Returns (whether the
    outcome was written, or None without one; the claimed job or None).
    """
    # On PostgreSQL _claim() sets synchronous_commit off for this transaction: an outcome lost
    # in a server crash leaves the job leased, so it is rescued and runs again, never lost.
    hot = Hot()
    stored: bool | None = None
    written: Callable[[], bool] = lambda: False  # noqa: E731
    with hot.transaction():
        if previous is not None:
            written = _write_outcome(hot, previous)
            if not hot.pg:
                # SQLite answers at once: a late outcome is stored before this worker claims again.
                stored = written() or _write_late_outcome(hot, previous)
        previous_id = 0 if previous is None else previous.claimed.id
        claim = _claim(hot, queues=queues, worker=worker, lease_seconds=lease_seconds, previous=previous_id)
    claimed = claim()
    if previous is not None and hot.pg:
        stored = written()
        if not stored:
            # The pipeline reads the outcome's row only at its Sync, after the claim was sent: the
            # late rule runs in a transaction of its own, before the claimed job starts.
            with transaction.atomic():
                stored = _write_late_outcome(Hot(), previous)
    return stored, claimed


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


def cancel_requested(claims: Iterable[tuple[int, int]]) -> set[int]:
    """Ids among the given running claims that someone asked to cancel."""
    ids = [job_id for job_id, _ in claims]
    if not ids:
        return set()
    return set(
        Job.objects.filter(pk__in=ids, status=Status.RUNNING, cancel_requested_at__isnull=False).values_list(
            "pk", flat=True
        )
    )


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
            "max_attempts",
            "worker",
            "started_at",
            "cancel_requested_at",
            "progress",
            "progress_message",
        )[:limit]
    )
    rescued = 0
    for job_id, queue, attempt, interrupted, max_attempts, worker, started_at, cancel_at, progress, message in rows:
        now = timezone.now()
        if cancel_at is not None:
            to, reason = Status.CANCELLED, "worker lost after cancel was requested"
        elif attempts_spent(attempt=attempt, interrupted=interrupted) >= max_attempts:
            to, reason = Status.FAILED, "worker lost"
        else:
            to, reason = Status.QUEUED, "worker lost; requeued"
        fields: dict[str, Any] = {"status": to, "lease_expires_at": None, "last_error": "worker lost"}
        if to != Status.QUEUED:
            fields["finished_at"] = now
        with transaction.atomic():
            changed = Job.objects.filter(
                pk=job_id, status=Status.RUNNING, attempt=attempt, lease_expires_at__lt=Now()
            ).update(**fields)
            if not changed:
                continue
            JobEvent.objects.create(
                job_id=job_id,
                queue=queue,
                old_status=Status.RUNNING,
                new_status=to,
                attempt=attempt,
                reason=reason,
                actor="rescuer",
                created_at=now,
            )
            Attempt.objects.create(
                job_id=job_id,
                number=attempt,
                worker=worker,
                started_at=started_at or now,
                finished_at=now,
                outcome=Attempt.Outcome.LOST,
                error_class="jobs.context.WorkerLost",
                error_message=f"lease expired while held by {worker}",
                progress=progress,
                progress_message=message,
            )
            if to == Status.QUEUED:
                notify_new_jobs()
        rescued += 1
        logger.warning("rescued job %s from %s", job_id, worker, extra={"job_id": job_id, "action": "rescued"})
    return rescued


def promote_due(*, limit: int = 1000) -> int:
    """Move scheduled and retrying jobs whose run_at has come to queued. Returns how many moved."""
    now = timezone.now()
    if not Job.objects.due(now).exists():  # a cheap read first, so idle probes never take the write lock
        return 0
    with transaction.atomic():
        qs = Job.objects.due(now).order_by("run_at")
        if is_postgres():
            qs = qs.select_for_update(skip_locked=True)
        rows = list(qs.values_list("pk", "status", "queue", "attempt")[:limit])
        events = []
        for status in (Status.SCHEDULED, Status.RETRYING):
            picked = [r for r in rows if r[1] == status]
            if not picked:
                continue
            # Rows are locked (PostgreSQL) or the database is (SQLite), so every picked row changes.
            Job.objects.filter(pk__in=[r[0] for r in picked], status=status).update(status=Status.QUEUED)
            events += [_event(r[0], r[2], status, Status.QUEUED, r[3], "due", "scheduler", now) for r in picked]
        JobEvent.objects.bulk_create(events)
        if events:
            notify_new_jobs()
    return len(events)


def next_due_at() -> datetime.datetime | None:
    """The earliest run_at among scheduled and retrying jobs, or None."""
    return (
        Job.objects.filter(status__in=[Status.SCHEDULED, Status.RETRYING])
        .order_by("run_at")
        .values_list("run_at", flat=True)
        .first()
    )


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
                Attempt.objects.create(
                    job_id=job.pk,
                    number=job.attempt,
                    worker=worker,
                    started_at=job.started_at or now,
                    finished_at=now,
                    outcome=Attempt.Outcome.INTERRUPTED,
                    error_message=reason,
                    progress=job.progress,
                    progress_message=job.progress_message,
                )
                released += 1
    return released
