"""The statement text of the hot moves, per dialect (PostgreSQL, SQLite), in one place to read.

hot.py and create.py fill in the parameters; nothing here runs a statement.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from jobs.models import Attempt, Job, JobDependency, Queue, RateLimit, RateStart, index_condition_sql
from jobs.states.history import EVENT_TARGET

JOB = Job._meta.db_table
ATTEMPT = Attempt._meta.db_table
DEPENDENCY = JobDependency._meta.db_table

# --- claim ------------------------------------------------------------------------------------------

_CLAIM = """
UPDATE {job} SET status = 'running', attempt = attempt + 1, worker = %s, started_at = %s,
    lease_expires_at = {lease}, finished_at = NULL, cancel_requested_at = NULL,
    progress = NULL, progress_message = ''
WHERE status = 'queued' AND id = (
    SELECT j.id FROM {job} j {indexed_by}
    WHERE j.status = 'queued' {not_previous}AND j.queue IN ({queues})
      AND (j.expires_at IS NULL OR j.expires_at > %s) {tasks}
      AND (j.concurrency_key IS NULL OR {key_free})
      AND {rate_free}
      AND j.queue NOT IN (
        SELECT q.name FROM {queue} q
        WHERE q.paused OR (q.concurrency IS NOT NULL AND q.concurrency <= (
            SELECT COUNT(*) FROM {job} r WHERE r.queue = q.name AND r.status = 'running')))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT 1 {lock}
)"""

# The columns the claim returns, in the order hot.claimed_job() reads them.
CLAIM_RETURNING = (
    "id",
    "queue",
    "task_name",
    "task_version",
    "args",
    "payload",
    "attempt",
    "max_attempts",
    "timeout",
    "interrupted",
    "priority",
    "created_at",
    "snoozes",
    "retry_policy",
    "concurrency_key",
)


# Concurrency per key (issue 13): a queued job with a key is skipped while `concurrency_limit` jobs
# with its key run. The test only evaluates for keyed rows (NULL key: the plain claim, same plan),
# counts through job_running_key_idx, and never blocks other keys or the jobs behind it: the walk
# of job_claim_idx moves on to the next row.
#
# SQLite: one writer at a time (the claim's transaction holds the write lock), so the count is exact.
# Without statistics its planner would count through job_status_id_idx (every running job).
_KEY_FREE_SQLITE = (
    "j.concurrency_limit > (SELECT COUNT(*) FROM {job} r INDEXED BY job_running_key_idx "
    "WHERE r.concurrency_key = j.concurrency_key "
    "AND r.status = 'running')"
)
# PostgreSQL: two claimers could both count "one slot free" for the same key from their statement
# snapshots and both claim (SKIP LOCKED lets each take a different row of the key). So the count is
# taken by jobdeck_key_slot_free() (migration 0013), after a per-key advisory lock held to the end
# of the claimer's transaction:
# 1. pg_try_advisory_xact_lock(key): another claimer in a transaction that evaluated this key
#    holds it; the row is skipped (the key waits for a later claim, other keys go on). A try, not a
#    wait: a claimer waiting on a key while holding another could deadlock with one doing the reverse.
# 2. The count is a query of a VOLATILE function, so it runs on a fresh snapshot taken after the lock
#    was granted. The previous holder released the lock at its commit, after its claim became
#    visible, so the count includes every claim of this key that committed; none can be in flight.
# The lock costs one hash and one lock-table entry per keyed row looked at.
_KEY_FREE_PG = "jobdeck_key_slot_free(j.concurrency_key, j.concurrency_limit)"

# Rate limits (issue 13): a queued job is skipped while a RateLimit of its queue, task or key has had
# max_starts starts (RateStart rows, written by the claim: rate_start_sql) in the last period. The
# parameter is the claim's time in epoch seconds. "Jobs over the limit wait in order": the claim
# walks job_claim_idx, so the first job it can take once the window has room is the oldest.
RATE_LIMIT, RATE_START = RateLimit._meta.db_table, RateStart._meta.db_table
_APPLIES = (
    "((rl.scope = 'queue' AND rl.name = {queue}) OR (rl.scope = 'task' AND rl.name = {task}) "
    "OR (rl.scope = 'key' AND rl.name = {key}))"
)
# SQLite: one writer at a time, so the counts are exact. Without limits, one probe of an empty table.
_RATE_FREE_SQLITE = (
    f"NOT EXISTS (SELECT 1 FROM {RATE_LIMIT} rl WHERE "
    + _APPLIES.format(queue="j.queue", task="j.task_name", key="j.concurrency_key")
    + f" AND rl.max_starts <= (SELECT COUNT(*) FROM {RATE_START} rs WHERE rs.rate_limit_id = rl.id "
    "AND rs.at > %s - rl.period))"
)
# PostgreSQL: as for keys, two claimers must not both count "one start left". jobdeck_rate_free()
# (migration 0013) takes a per-limit advisory transaction lock (a try: a held one skips the job) and
# counts on a fresh snapshot taken after it, so every start committed before it is counted; the
# start this claim makes is inserted in the same statement and is visible when the lock is released.
# The uncorrelated EXISTS is computed once per claim: without any limit the function is never called.
# Exact whatever order the claimers' clocks put the starts in: when a start is written, every start
# already in any window that contains it lies after (its time - period), so was counted.
_RATE_FREE_PG = (
    f"(NOT EXISTS (SELECT 1 FROM {RATE_LIMIT}) "
    "OR jobdeck_rate_free(j.queue, j.task_name, j.concurrency_key, %s::float8))"
)


def rate_start_sql(*, pg: bool) -> str:
    """The INSERT of the claimed job's RateStart rows, one per limit that applies to it. PostgreSQL: a
    CTE over the claim's RETURNING row `main`; parameter the time. SQLite: parameters the time, then
    the job's queue, task and key."""
    if pg:
        applies = _APPLIES.format(queue="main.queue", task="main.task_name", key="main.concurrency_key")
        return (
            f"INSERT INTO {RATE_START} (rate_limit_id, at) SELECT rl.id, %s FROM {RATE_LIMIT} rl, main WHERE {applies}"
        )
    applies = _APPLIES.format(queue="%s", task="%s", key="%s")
    return f"INSERT INTO {RATE_START} (rate_limit_id, at) SELECT rl.id, %s FROM {RATE_LIMIT} rl WHERE {applies}"


# Versioned tasks: only jobs whose task and version the worker has (hot.claim_keys() gives the keys,
# "name@version", "name@" for an unversioned task). One parameter whatever the number of tasks, so
# the statement text (and PostgreSQL's prepared plan) is one per queue count. The test runs on the
# rows job_claim_idx yields in claim order, usually the first: a set lookup, not a scan.
_TASKS_PG = "AND (j.task_name || '@' || j.task_version) = ANY(%s::text[]) "
_TASKS_SQLITE = "AND (j.task_name || '@' || j.task_version) IN (SELECT value FROM json_each(%s)) "


@functools.cache
def claim_sql(*, pg: bool, queue_count: int, by_task: bool = False) -> str:
    """The claim UPDATE for `queue_count` queues. Parameters: worker, started_at, the lease (seconds
    on PostgreSQL, the expiry on SQLite), on PostgreSQL the job not to claim, the queues, the claim's
    time again (a job past its expires_at is never claimed: states.expire_due ends it), then with
    `by_task` the worker's task keys (a list on PostgreSQL, a JSON array on SQLite), then the claim's
    time in epoch seconds (rate limits)."""
    return _CLAIM.format(
        tasks=(_TASKS_PG if pg else _TASKS_SQLITE) if by_task else "",
        key_free=_KEY_FREE_PG if pg else _KEY_FREE_SQLITE.format(job=JOB),
        rate_free=_RATE_FREE_PG if pg else _RATE_FREE_SQLITE,
        job=JOB,
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


# PostgreSQL, before the claim. Claimers of concurrency-limited queues take turns, so two never
# both see "one slot free" (the claim is a later statement, so its snapshot includes the previous
# holder's claim). A claim lost in a server crash leaves the job queued, so it need not wait for the
# WAL flush. enable_sort off: the claim must walk job_claim_idx, which is already in claim order.
# With stale statistics (a queue that filled since the last ANALYZE) the planner otherwise picks a
# (queue, ...) index and sorts every queued job of the queue on each claim: O(backlog) per job.
# Parameter: the list of queues.
CLAIM_SETUP_PG = (
    "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_sort', 'off', true), "
    "(SELECT count(*) FROM ("
    f"SELECT 1 FROM {Queue._meta.db_table} WHERE name = ANY(%s) AND concurrency IS NOT NULL "
    "ORDER BY name FOR UPDATE) AS limited)"
)

# --- finish -----------------------------------------------------------------------------------------

# Only while the claim is current: still running, same attempt. Parameters: id, attempt.
CURRENT_CLAIM = " WHERE id = %s AND status = 'running' AND attempt = %s"
# Rescued (requeued with the rescuer's 'lost' record of this attempt) and not claimed since.
# Parameters: id, attempt, id, attempt.
RESCUED_CLAIM = (
    " WHERE id = %s AND status = 'queued' AND attempt = %s AND EXISTS ("
    f"SELECT 1 FROM {ATTEMPT} a WHERE a.job_id = %s AND a.number = %s AND a.outcome = 'lost')"
)
FINISH_RETURNING = ("id", "progress", "progress_message", "has_dependents")
DELETE_LOST_ATTEMPT = f"DELETE FROM {ATTEMPT} WHERE job_id = %s AND number = %s AND outcome = 'lost'"


def finish_sql(columns: Iterable[str], *, interrupted: bool, late: bool, snoozed: bool = False) -> str:
    """The UPDATE that ends an attempt: `columns` set from parameters, then the claim's WHERE."""
    assignments = [f"{name} = %s" for name in columns]
    if interrupted:
        assignments.append("interrupted = interrupted + 1")  # not spent: see attempts_spent()
    if snoozed:
        assignments.append("snoozes = snoozes + 1")  # not spent either
    return f"UPDATE {JOB} SET {', '.join(assignments)}{RESCUED_CLAIM if late else CURRENT_CLAIM}"


# --- due jobs ---------------------------------------------------------------------------------------


@functools.cache
def due_sqlite(alias: str) -> str:
    """SQLite: scheduled and retrying jobs whose run_at has come and whose parents are done, oldest
    first, through job_due_ready_idx. Without statistics SQLite's planner prefers the (status, id)
    index and reads every scheduled job (most of them due later) on each tick. Parameters: now, limit."""
    condition = index_condition_sql(alias, "job_due_ready_idx")
    return (
        f"SELECT id, status, queue, attempt, failed_parent, after_failure, last_error, result_input FROM {JOB}"
        f" INDEXED BY job_due_ready_idx WHERE {condition} AND run_at <= %s ORDER BY run_at LIMIT %s"
    )


@functools.cache
def next_due_sqlite(alias: str) -> str:
    """SQLite: the earliest run_at of job_due_ready_idx's rows (see due_sqlite). No parameters."""
    condition = index_condition_sql(alias, "job_due_ready_idx")
    return f"SELECT id, run_at FROM {JOB} INDEXED BY job_due_ready_idx WHERE {condition} ORDER BY run_at LIMIT 1"


# --- expiry -----------------------------------------------------------------------------------------


@functools.cache
def past_deadline_sqlite(alias: str) -> str:
    """SQLite: waiting jobs past their expires_at, oldest deadline first, through job_expiry_idx.
    Without statistics SQLite's planner prefers the (status, id) index and reads every waiting
    job on each tick; INDEXED BY needs the index's condition word for word. Parameters: now, limit."""
    condition = index_condition_sql(alias, "job_expiry_idx")
    return (
        f"SELECT id, status, queue, attempt, expires_at FROM {JOB} INDEXED BY job_expiry_idx"
        f" WHERE {condition} AND expires_at <= %s ORDER BY expires_at LIMIT %s"
    )


# --- a row and the history rows that hang off it ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class From:
    """In an INSERT that hangs off an UPDATE: a value taken from the row the UPDATE returned."""

    column: str


def with_inserts_pg(
    update_sql: str, inserts: list[tuple[str, list[object]]], extra: tuple[str, list[object]] | None = None
) -> tuple[str, list[object]]:
    """PostgreSQL: one statement, the INSERTs as data-modifying CTEs over the UPDATE's RETURNING row
    (`extra`: one more, as statement text over `main` and its parameters). Returns the statement and
    the INSERTs' own parameters (after the UPDATE's)."""
    ctes, values = [], []
    if extra is not None:
        ctes.append(f"x AS ({extra[0]})")
        values += extra[1]
    for n, (target, items) in enumerate(inserts):
        exprs = [f"main.{v.column}" if isinstance(v, From) else "%s" for v in items]
        ctes.append(f"i{n} AS (INSERT INTO {target} SELECT {', '.join(exprs)} FROM main)")
        values += [v for v in items if not isinstance(v, From)]
    return f"WITH main AS ({update_sql}), {', '.join(ctes)} SELECT * FROM main", values


def insert_sql(target: str, count: int) -> str:
    """SQLite: a one-row INSERT into `target` of `count` values."""
    return f"INSERT INTO {target} VALUES ({', '.join(['%s'] * count)})"


# --- enqueue ----------------------------------------------------------------------------------------

JOB_COLUMNS = (
    "queue, task_name, task_version, args, payload, status, priority, attempt, max_attempts, run_at, created_at, "
    "idempotency_key, timeout, last_error, worker, progress_message, retry_policy, unique_for, key_held, expires_at, "
    "concurrency_key, concurrency_limit, pending_parents, after_failure, failed_parent, trace_context, batch_id, "
    "has_dependents"
)
JOB_COLUMN_COUNT = 28


def insert_jobs_sqlite(count: int) -> str:
    """`count` job rows of JOB_COLUMNS values each, returning their ids in insertion order."""
    values = ", ".join(["(" + ", ".join(["%s"] * JOB_COLUMN_COUNT) + ")"] * count)
    return f"INSERT INTO {JOB} ({JOB_COLUMNS}) VALUES {values} RETURNING id"


def insert_events_sqlite(count: int) -> str:
    """The creation events of `count` new jobs, by id. Parameters: the actor, then the ids."""
    return (
        f"INSERT INTO {EVENT_TARGET} SELECT id, queue, '', status, 0, 'enqueued', %s, created_at"
        f" FROM {JOB} WHERE id IN ({', '.join(['%s'] * count)})"
    )


# One statement and one parameter for the rows: they travel as one JSON array (json.dumps is C;
# psycopg adapting thousands of parameters or array elements is not), the events come from the
# INSERT's own RETURNING (no second lookup, whose plan would hang on fresh statistics), and the
# NOTIFY that wakes workers is sent at commit. Parameters: created_at, the rows, the actor, the
# channel. Returns (id, notified) per job, in insertion order.
INSERT_JOBS_PG = (
    f"WITH new AS (INSERT INTO {JOB} ({JOB_COLUMNS}) "
    "SELECT r->>0, r->>1, r->>11, r->2, r->3, r->>4, (r->>5)::int, 0, (r->>6)::int, (r->>7)::timestamptz, %s, "
    "r->>8, (r->>9)::float8, r->>20, '', '', NULLIF(r->10, 'null'::jsonb), (r->>12)::float8, (r->>13)::boolean, "
    "(r->>14)::timestamptz, r->>15, (r->>16)::int, (r->>17)::int, r->>18, (r->>19)::bigint, "
    "NULLIF(r->21, 'null'::jsonb), (r->>22)::bigint, (r->>23)::boolean "
    "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(r, n) ORDER BY n "
    "RETURNING id, queue, status, created_at), "
    f"events AS (INSERT INTO {EVENT_TARGET} "
    "SELECT id, queue, '', status, 0, 'enqueued', %s, created_at FROM new), "
    "wake AS (SELECT pg_notify(%s, '') FROM new WHERE status = 'queued' LIMIT 1) "
    "SELECT id, (SELECT count(*) FROM wake) FROM new"
)


# --- dependencies -----------------------------------------------------------------------------------

# A finished parent's children: each unresolved link is resolved once (a conditional UPDATE), and
# its child counts the parent: one parent fewer to wait for, or, for a parent that failed or was
# cancelled and a child with after_failure "cancel", none (promote_due then cancels the child,
# with last_error as the reason; a child with "run" or "only" counts it as one fewer, and
# promote_due then decides by jobs.status.cancelled_when_due). Only a parent that is finished and
# has dependents matches, so the statement may be sent whenever a move may have finished a job: it
# does nothing otherwise, and twice is once.
#
# PostgreSQL: one statement, and a statement of its own (not a CTE of the finish): an enqueue
# that locked the parent first commits its links before the finish's UPDATE gets the row, and
# only a later statement's snapshot sees them. Parameters: the parent's id.
_CHILD_COUNTS = """
    pending_parents = CASE WHEN {status} <> 'done' AND c.after_failure = 'cancel' THEN 0
                           ELSE c.pending_parents - 1 END,
    failed_parent = CASE WHEN {status} <> 'done' AND c.failed_parent IS NULL THEN {parent}
                         ELSE c.failed_parent END,
    last_error = CASE WHEN {status} <> 'done' AND c.failed_parent IS NULL AND c.after_failure = 'cancel'
                      THEN 'dependency #' || {parent} || ' ' || {status} ELSE c.last_error END"""

#
# The children are locked in id order first: two parents finishing at once that share children
# then take their rows in the same order, never in a deadlock. (A child's id is above its
# parents', and an enqueue locks parents in id order too, so no cycle forms with it either.)
RELEASE_CHILDREN_PG = (
    f"WITH d AS (UPDATE {DEPENDENCY} l SET resolved = true FROM {JOB} p "
    "WHERE l.parent_id = %s AND NOT l.resolved AND p.id = l.parent_id AND p.has_dependents "
    "AND p.status IN ('done', 'failed', 'cancelled') RETURNING l.child_id, p.id AS parent, p.status), "
    f"locked AS (SELECT id FROM {JOB} WHERE id IN (SELECT child_id FROM d) ORDER BY id FOR UPDATE) "
    f"UPDATE {JOB} c SET {_CHILD_COUNTS.format(status='d.status', parent='d.parent')} "
    "FROM d WHERE c.id = d.child_id AND c.id IN (SELECT id FROM locked) AND c.pending_parents > 0"
)

# SQLite: the write lock serialises enqueues and finishes, so two statements; the caller knows the
# parent finished as `status`. Parameters: the parent's id; then COUNT_PARENT_ORDER ("status" or
# "parent") and the child ids as a JSON array.
RESOLVE_LINKS_SQLITE = f"UPDATE {DEPENDENCY} SET resolved = 1 WHERE parent_id = %s AND NOT resolved RETURNING child_id"
COUNT_PARENT_SQLITE = (
    f"UPDATE {JOB} AS c SET {_CHILD_COUNTS.format(status='%s', parent='%s')} "
    "WHERE c.id IN (SELECT value FROM json_each(%s)) AND c.pending_parents > 0"
)
COUNT_PARENT_ORDER = ("status", "status", "parent", "status", "parent", "status")

# Enqueue: lock the parents (PostgreSQL, in id order so two enqueues never deadlock), mark them as
# having dependents, and read their status after the lock. Parameter: the parent ids.
LOCK_PARENTS_PG = f"SELECT id FROM {JOB} WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
MARK_PARENTS_PG = f"UPDATE {JOB} SET has_dependents = true WHERE id = ANY(%s) RETURNING id, status"
MARK_PARENTS_SQLITE = (
    f"UPDATE {JOB} SET has_dependents = 1 WHERE id IN (SELECT value FROM json_each(%s)) RETURNING id, status"
)
INSERT_LINKS = f"INSERT INTO {DEPENDENCY} (child_id, parent_id, resolved) VALUES "

# Batches: link a callback to every member of its batch in one statement (an index range of
# job_batch_status_idx). Parameters: the callback's id, the batch's id.
LINK_BATCH = (
    f"INSERT INTO {DEPENDENCY} (child_id, parent_id, resolved) "
    f"SELECT %s, j.id, false FROM {JOB} j WHERE j.batch_id = %s"
)
