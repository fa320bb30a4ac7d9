"""The read side: stats, lists and details that every entry point shows."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import CharField, Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Concat, Now
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs import dbguard, depth, registry
from jobs.conf import engine_settings
from jobs.database import is_postgres, is_sqlite
from jobs.exceptions import JobNotFound, ScheduleNotFound
from jobs.models import Attempt, Job, JobEvent, JobLog, OutcomeCounter, Queue, Schedule, WorkerProcess
from jobs.status import Status


@dataclass
class QueueStats:
    name: str
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    oldest_waiting_seconds: float | None = None
    paused: bool = False
    concurrency: int | None = None
    retry_policy: dict[str, Any] | None = None  # the queue's default retry policy (jobs.retry)
    capped: set[str] = field(default_factory=set)  # states whose count stopped at the cap ("N+")
    # Back-pressure (jobs.services.backpressure): the limit, what a full queue does, and for a limited
    # queue its waiting jobs counted up to the limit; refused: new jobs refused so far, all processes.
    max_depth: int | None = None
    overflow: str = "refuse"
    block_seconds: float = 5.0
    depth: int | None = None
    refused: int = 0

    @property
    def fill(self) -> float | None:
        """How full the queue is, 0 to 1 (None: no max depth)."""
        if self.max_depth is None or self.depth is None:
            return None
        return min(1.0, self.depth / self.max_depth)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def per_state(self) -> list[tuple[str, int, bool]]:
        """(state, count, capped) in state order; capped: the count stopped at the cap, more exist."""
        return [(status, count, status in self.capped) for status, count in self.counts.items()]


def queue_stats(*, cap: int | None = None) -> dict[str, QueueStats]:
    """Counts per queue and state, the age of the oldest runnable job, queue settings, and for queues
    with a max depth how full they are; refused enqueues per queue.

    Exact counts read every job (a GROUP BY over the whole table). With `cap`, for pages that must
    stay fast at any size, each (queue, state) count stops at `cap` (listed in `capped`): one
    statement of index range scans, each reading at most cap + 1 entries.
    """
    stats: dict[str, QueueStats] = {}
    if cap is None:
        for name, status, count in Job.objects.values_list("queue", "status").annotate(n=Count("id")).order_by():
            stats.setdefault(name, QueueStats(name)).counts[status] = count
    else:
        _capped_counts(stats, queue_names(), cap)
    now = timezone.now()
    for name, oldest in oldest_runnable(list(stats)).items():
        stats[name].oldest_waiting_seconds = max(0.0, (now - oldest).total_seconds())
    # Refusals need a max depth, which lives on the Queue row, so its sum is read with the row.
    for queue in Queue.objects.annotate(refused=depth.refused_total()):
        entry = stats.setdefault(queue.name, QueueStats(queue.name))
        entry.paused, entry.concurrency = queue.paused, queue.concurrency
        entry.retry_policy = queue.retry_policy
        entry.max_depth, entry.overflow, entry.block_seconds = queue.max_depth, queue.overflow, queue.block_seconds
        entry.refused = queue.refused
    # One statement for every queue with a max depth, each count reading at most max_depth entries.
    caps = {name: entry.max_depth for name, entry in stats.items() if entry.max_depth is not None}
    for name, waiting in depth.waiting_depths(caps).items():
        stats[name].depth = waiting
    return dict(sorted(stats.items()))


def queue_names() -> list[str]:
    """Every queue that has jobs, read as a skip scan of job_queue_status_idx: one index probe per
    queue rather than a pass over every job (neither database skips through an index by itself)."""
    table = Job._meta.db_table
    sql = (
        f"WITH RECURSIVE q(name) AS (SELECT MIN(queue) FROM {table} UNION ALL "
        f"SELECT (SELECT MIN(queue) FROM {table} WHERE queue > q.name) FROM q WHERE q.name IS NOT NULL) "
        "SELECT name FROM q WHERE name IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def oldest_runnable(queues: Sequence[str]) -> dict[str, datetime.datetime]:
    """The run_at of the oldest runnable job of each queue that has one: one probe of
    job_queue_waiting_idx per queue, in one statement."""
    if not queues:
        return {}
    table = Job._meta.db_table
    branch = f"SELECT CAST(%s AS TEXT), (SELECT MIN(run_at) FROM {table} WHERE status = 'queued' AND queue = %s)"
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([branch] * len(queues)), [v for name in queues for v in (name, name)])
        rows = cursor.fetchall()
    return {name: _aware(oldest) for name, oldest in rows if oldest is not None}


def _aware(value: datetime.datetime | str) -> datetime.datetime:
    """A datetime read by raw SQL: SQLite gives Django's stored text (UTC), PostgreSQL a datetime."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if parsed is None:
        raise ValueError(f"not a stored datetime: {value!r}")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)


def _capped_counts(stats: dict[str, QueueStats], names: Sequence[str], cap: int) -> None:
    pairs = [(name, status.value) for name in names for status in Status]
    if not pairs:
        return
    table = Job._meta.db_table
    # Each branch walks job_queue_status_idx for one (queue, state) and stops after cap + 1 entries.
    # PostgreSQL's planner may prefer a sequential scan for a common pair (fast, it stops early) and
    # for a rare one (a pass over the table), so it is told to use the index for this statement.
    indexed_by = "INDEXED BY job_queue_status_idx" if is_sqlite() else ""
    branch = (
        "SELECT CAST(%s AS TEXT), CAST(%s AS TEXT), (SELECT COUNT(*) FROM ("
        f"SELECT 1 FROM {table} {indexed_by} WHERE queue = %s AND status = %s LIMIT %s) t)"
    )
    sql = " UNION ALL ".join([branch] * len(pairs))
    params = [value for name, status in pairs for value in (name, status, name, status, cap + 1)]
    if is_postgres():
        with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL lasts until its commit
            cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    for name, status, count in rows:
        entry = stats.setdefault(name, QueueStats(name))
        entry.counts[status] = min(count, cap)
        if count > cap:
            entry.capped.add(status)


def has_runnable(queues: Sequence[str], tasks: Sequence[str] | None = None) -> bool:
    """Whether any job in `queues` is runnable now (paused or full queues included), of a task in
    `tasks` (refs, "name" or "name@version"; None: any task)."""
    runnable = Job.objects.runnable().filter(queue__in=queues)
    if tasks is not None:
        key = Concat("task_name", Value("@"), "task_version", output_field=CharField())
        runnable = runnable.alias(key=key).filter(key__in=registry.claim_keys(tasks))
    return runnable.exists()


def job_detail(job_id: int) -> Job:
    """One job. Raises JobNotFound."""
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise JobNotFound(job_id) from None


def job_trace_context(job_id: int) -> dict[str, str] | None:
    """The trace context job `job_id` was enqueued under (jobs.tracing), or None. One query."""
    value = Job.objects.filter(pk=job_id).values_list("trace_context", flat=True).first()
    return value if isinstance(value, dict) else None


def job_attempts(job_id: int) -> list[Attempt]:
    return list(Attempt.objects.filter(job_id=job_id).order_by("number", "id"))


def job_events(job_id: int, *, after_id: int = 0) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job_id=job_id, id__gt=after_id).order_by("id"))


def jobs_detail(job_ids: Sequence[int]) -> dict[int, tuple[Job, list[Attempt], list[JobEvent]]]:
    """job_detail(), job_attempts() and job_events() of each of `job_ids` that exists, in three queries
    (the live dashboard renders many watched jobs per tick)."""
    found: dict[int, tuple[Job, list[Attempt], list[JobEvent]]] = {
        job.pk: (job, [], []) for job in Job.objects.filter(pk__in=job_ids)
    }
    for attempt in Attempt.objects.filter(job_id__in=list(found)).order_by("job_id", "number", "id"):
        found[attempt.job_id][1].append(attempt)
    for event in JobEvent.objects.filter(job_id__in=list(found)).order_by("job_id", "id"):
        found[event.job_id][2].append(event)
    return found


def job_logs(job_id: int, *, attempt: int | None = None, after_id: int = 0, limit: int = 1000) -> list[JobLog]:
    """A job's log lines in the order written, optionally of one attempt; at most `limit` after `after_id`."""
    qs = JobLog.objects.filter(job_id=job_id, id__gt=after_id)
    if attempt is not None:
        qs = qs.filter(attempt=attempt)
    return list(qs.order_by("id")[:limit])


@dataclass(frozen=True)
class WorkerRow:
    """A worker process as the pages and the API list it, with the jobs it runs now."""

    id: int
    name: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    worker_type: str
    started_at: datetime.datetime
    last_heartbeat: datetime.datetime  # a heartbeat, or its clean stop
    stopped_at: datetime.datetime | None
    is_alive: bool  # WorkerProcessQuerySet decides, the one rule
    running: list[tuple[int, str]]  # (job id, task) of each job it runs now, oldest first
    # The task refs it can run ("module.path" or "module.path@version"); None: a worker from before
    # versioned tasks, which does not say (and claims any task).
    tasks: list[str] | None = field(default=None, kw_only=True)

    @property
    def running_job_ids(self) -> list[int]:
        return [job_id for job_id, _ in self.running]


def worker_list(*, include_gone: bool = True) -> list[WorkerRow]:
    """Workers, alive ones first, then newest first, each with the jobs it runs now. Two queries.

    Alive or gone is decided by WorkerProcessQuerySet, the one rule. Gone workers (stopped, or
    killed and silent) stay listed until pruned (JOBDECK_WORKER_RETENTION_SECONDS).
    """
    # is_alive is with_liveness()'s annotation, which django-stubs cannot see through a QuerySet method.
    workers = WorkerProcess.objects.with_liveness().order_by("-is_alive", "-started_at", "-id")  # type: ignore[misc]
    if not include_gone:
        workers = workers.filter(is_alive=True)  # type: ignore[misc]
    columns = [f.name for f in dataclass_fields(WorkerRow) if f.name != "running"]
    rows = list(workers.values(*columns))
    running: dict[str, list[tuple[int, str]]] = {}
    jobs = Job.objects.filter(status=Status.RUNNING).order_by("id").values_list("worker", "pk", "task_name")
    for worker, job_id, task in jobs:  # bounded by the workers' slots
        running.setdefault(worker, []).append((job_id, task))
    return [WorkerRow(**row, running=running.get(row["name"], [])) for row in rows]


@dataclass(frozen=True)
class WorkerLiveness:
    alive: bool
    reason: str  # one line, for a probe's log


def worker_liveness(*, name: str | None, host: str) -> WorkerLiveness:
    """Whether the worker named `name`, or else any worker on `host`, is alive, by the one rule
    (WorkerProcessQuerySet: not stopped, heard from within a lease, on the database clock), with a
    line saying why. One query. Raises DatabaseError when the database does not answer.
    """
    silent_for = ExpressionWrapper(Now() - F("last_heartbeat"), output_field=DurationField())
    workers = WorkerProcess.objects.with_liveness().annotate(silent_for=silent_for)
    workers = workers.filter(name=name) if name else workers.filter(host=host)
    # is_alive and silent_for are annotations, which django-stubs cannot see through a QuerySet method.
    fields = ("name", "is_alive", "stopped_at", "silent_for")
    row = workers.order_by("-is_alive", "-last_heartbeat", "-id").values(*fields).first()  # type: ignore[misc]
    if row is None:
        return WorkerLiveness(False, f"no worker named {name!r}" if name else f"no worker on host {host!r}")
    silent = max(0.0, row["silent_for"].total_seconds())
    if row["is_alive"]:
        return WorkerLiveness(True, f"worker {row['name']} is alive (heard from {silent:.1f}s ago)")
    if row["stopped_at"] is not None:
        return WorkerLiveness(False, f"worker {row['name']} stopped {silent:.0f}s ago")
    lease = engine_settings().lease_seconds
    return WorkerLiveness(
        False, f"worker {row['name']} silent for {silent:.0f}s, longer than a lease ({lease:g}s): killed or hung"
    )


def task_workers() -> dict[str, dict[str, list[str]]]:
    """For each task name, the versions live workers have ("" = unversioned), each with the names of
    those workers. Workers from before versioned tasks (no task list) are left out. One query."""
    found: dict[str, dict[str, list[str]]] = {}
    for name, tasks in WorkerProcess.objects.alive().order_by("name").values_list("name", "tasks"):
        for ref in tasks or []:
            task, _, version = ref.partition("@")
            found.setdefault(task, {}).setdefault(version, []).append(name)
    return found


def worker_counts() -> tuple[int, int]:
    """(alive, gone) worker processes. One query."""
    counts = WorkerProcess.objects.with_liveness().aggregate(
        alive=Count("id", filter=Q(is_alive=True)), total=Count("id")
    )
    return counts["alive"], counts["total"] - counts["alive"]


def database_ok() -> bool:
    """Whether the database answers a trivial query now."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except DatabaseError:
        return False


def runnable_by_queue() -> dict[str, tuple[int, datetime.datetime]]:
    """For each queue with runnable jobs: how many, and the run_at of the oldest (the claim index serves it)."""
    rows = Job.objects.runnable().values_list("queue").annotate(n=Count("id"), oldest=Min("run_at")).order_by()
    return {name: (count, oldest) for name, count, oldest in rows}


def live_worker_queues() -> dict[str, int]:
    """Queues served by alive workers, with how many serve each."""
    served: dict[str, int] = {}
    for queues in WorkerProcess.objects.alive().values_list("queues", flat=True):
        for name in queues:
            served[name] = served.get(name, 0) + 1
    return served


def run_samples(*, limit: int) -> list[tuple[str, float]]:
    """(queue, seconds) of the newest `limit` attempts, any outcome: how long each ran. One query
    (newest attempts by id, their job's queue by primary key)."""
    rows = Attempt.objects.order_by("-id").values_list("job__queue", "started_at", "finished_at")[:limit]
    return [(queue, max(0.0, (finished - started).total_seconds())) for queue, started, finished in rows]


def wait_samples(*, limit: int, scan: int | None = None) -> list[tuple[str, float]]:
    """(queue, seconds) of the newest `limit` started jobs: how long each waited between becoming
    runnable and starting. One query.

    run_at is when the job last became runnable (enqueue, schedule, retry or run-now) and started_at
    the start of its latest attempt; both describe the same attempt only while the job is running or
    ended (a retrying job has already moved run_at on), hence the status filter. With `scan`, only
    the newest `scan` jobs by id are searched, so a larger backlog of unstarted jobs leaves none.
    """
    jobs = Job.objects.filter(status__in=[Status.RUNNING, Status.DONE, Status.FAILED], started_at__isnull=False)
    if scan is not None:
        jobs = jobs.filter(id__gt=Subquery(Job.objects.order_by("-id").values("id")[:1]) - scan)
    rows = jobs.order_by("-id").values_list("queue", "run_at", "started_at")[:limit]
    return [
        (queue, max(0.0, (started - run_at).total_seconds()))
        for queue, run_at, started in rows
        if run_at is not None and started is not None  # started_at is filtered; run_at is always set
    ]


def health_problems(*, max_wait: datetime.timedelta) -> list[str]:
    """Why the system is not healthy, as short sentences that reveal no data; empty when it is.

    1. The database must answer (nothing else can be checked without it).
    2. Every unpaused queue with runnable jobs needs an alive worker (WorkerProcessQuerySet) serving it.
    3. No runnable job in an unpaused queue may have waited longer than `max_wait`.
    Paused queues hold their jobs on purpose and are left out.
    4. The database must not have refused a write in this process lately (disk full, locked...),
       and (SQLite) its filesystem must have JOBDECK_MIN_FREE_DISK_MB free.
    """
    problems = _write_problems()
    if not database_ok():
        return ["database unreachable", *problems]
    try:
        runnable = runnable_by_queue()
        paused = set(Queue.objects.filter(paused=True).values_list("name", flat=True))
        served = live_worker_queues()
    except DatabaseError:
        return ["database unreachable", *problems]
    now = timezone.now()
    for name, (count, oldest) in sorted(runnable.items()):
        if name in paused:
            continue
        if name not in served:
            problems.append(f"queue '{name}' has {count} waiting job(s) and no live worker")
        waited = (now - oldest).total_seconds()
        if waited > max_wait.total_seconds():
            problems.append(f"queue '{name}': oldest waiting job has waited {waited:.0f}s")
    return problems


def _write_problems() -> list[str]:
    problems = []
    refused = dbguard.recent_refusal()
    if refused is not None:
        ago, reason = refused
        problems.append(f"database refused a write {ago:.0f}s ago: {reason}")
    low = dbguard.low_disk_space()
    if low is not None:
        problems.append(f"low disk space for the database: {low}")
    return problems


def schedule_list() -> list[Schedule]:
    """Every schedule, by name."""
    return list(Schedule.objects.order_by("name"))


def schedule_detail(schedule_id: int) -> Schedule:
    """One schedule. Raises ScheduleNotFound."""
    try:
        return Schedule.objects.get(pk=schedule_id)
    except (Schedule.DoesNotExist, ValueError, TypeError):
        raise ScheduleNotFound(schedule_id) from None


def outcome_totals() -> dict[tuple[str, str], int]:
    """Attempts ended so far by (queue, new status), summed over every worker process that ever ran."""
    rows = OutcomeCounter.objects.values_list("queue", "new_status").annotate(total=Sum("count"))
    return {(queue, new_status): int(total) for queue, new_status, total in rows}


# --- The live feed: what changed since a cursor (dashboard fanout and consumers) ------------------


def last_job_id() -> int:
    """The newest Job id (0 when there is none). Uses the primary key."""
    return Job.objects.aggregate(last=Max("id"))["last"] or 0


def last_event_id() -> int:
    """The newest JobEvent id (0 when there is none): the cursor a page is rendered at. Uses the primary key."""
    return JobEvent.objects.aggregate(last=Max("id"))["last"] or 0


def last_log_id() -> int:
    """The newest JobLog id (0 when there is none). Uses the primary key."""
    return JobLog.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(after_id: int, *, limit: int) -> list[tuple[int, int]]:
    """(event id, job id) of the events after `after_id`, oldest first, at most `limit`. An index range scan."""
    return list(JobEvent.objects.filter(id__gt=after_id).order_by("id").values_list("id", "job_id")[:limit])


def events_by_id(ids: Sequence[int]) -> list[tuple[int, int]]:
    """(event id, job id) of the events among `ids` that can be read now, oldest first. By primary key."""
    return list(JobEvent.objects.filter(id__in=list(ids)).order_by("id").values_list("id", "job_id"))


def events_committed_late(cursor: int, *, window: float, limit: int) -> list[tuple[int, int]]:
    """(event id, job id) of the events at or before `cursor` created less than `window` seconds before
    event `cursor`, oldest first, at most `limit`: on PostgreSQL a transaction takes its event id before
    it commits, so these may have committed after a page read `cursor` (a transaction that took its
    id before the cursor's event was created and ran longer than `window` is not looked for).

    Reads back from `cursor` by primary key to the newest event created a second before that (the
    order of ids and creation times may differ by a concurrent transaction or two). Two queries;
    none when the cursor's event is gone (pruned): [] then.
    """
    created = JobEvent.objects.filter(id=cursor).values_list("created_at", flat=True).first()
    if created is None:
        return []
    since = created - datetime.timedelta(seconds=window)
    older = JobEvent.objects.filter(id__lte=cursor, created_at__lt=since - datetime.timedelta(seconds=1))
    floor = Coalesce(Subquery(older.order_by("-id").values("id")[:1]), 0)
    recent = JobEvent.objects.filter(id__lte=cursor, id__gt=floor, created_at__gte=since)
    return list(recent.order_by("id").values_list("id", "job_id")[:limit])


def logs_after(after_id: int, *, job_ids: list[int], limit: int) -> list[tuple[int, int]]:
    """(log id, job id) of log lines after `after_id` of `job_ids`, oldest first, at most `limit`."""
    return list(
        JobLog.objects.filter(id__gt=after_id, job_id__in=job_ids).order_by("id").values_list("id", "job_id")[:limit]
    )


def jobs_by_id(ids: list[int], *, fields: Sequence[str]) -> list[Job]:
    """Jobs `ids` (only `fields` read), newest first. One query."""
    return list(Job.objects.only(*fields).filter(pk__in=ids).order_by("-id"))


def job_progress(job_ids: list[int]) -> dict[int, tuple[str, float | None, str]]:
    """(status, progress, progress message) of each job in `job_ids`. One query by primary key."""
    rows = Job.objects.filter(pk__in=job_ids).values_list("pk", "status", "progress", "progress_message")
    return {pk: (status, progress, message) for pk, status, progress, message in rows}
