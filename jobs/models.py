"""Tables: Job, Attempt, JobDependency, Batch, JobEvent, JobLog, Queue, RefusalCounter, WorkerProcess, Schedule,
ScheduleRun, ApiToken, OutcomeCounter, TaskOutcomeCounter, RateLimit, RateStart."""

from __future__ import annotations

import datetime
import functools
import logging
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.db.models import BooleanField, Case, F, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

from jobs.conf import engine_settings
from jobs.options import PRIORITY_MAX, PRIORITY_MIN
from jobs.status import ACTIVE, ALLOWED, FINISHED, WAITING, Status, attempts_spent

__all__ = ["PRIORITY_MAX", "PRIORITY_MIN"]  # re-exported: the range every edge checks against


def key_holding() -> Q:
    """The condition of the job_idempotency_key_held index: a job in it holds its idempotency key
    (unfinished, or finished with unique_for and not yet released)."""
    return Q(idempotency_key__isnull=False) & (Q(status__in=sorted(ACTIVE)) | Q(key_held=True))


@functools.cache
def index_condition_sql(alias: str, name: str) -> str:
    """The condition of the job table's partial index or unique constraint `name`, as the database's
    schema editor wrote it into the index."""
    connection = connections[alias]
    index = next(i for i in [*Job._meta.indexes, *Job._meta.constraints] if i.name == name)
    # Django's own rendering (private, used for CREATE INDEX): the same text, literals included.
    return str(index._get_condition_sql(Job, connection.SchemaEditorClass(connection)))


def _as_indexed(queryset: JobQuerySet, name: str, condition: Q) -> JobQuerySet:
    """`queryset` filtered on a partial index's condition, in a form the database matches to it.

    SQLite uses a partial index only when the query states its condition word for word, with
    literals rather than parameters; PostgreSQL proves that the ORM's form implies it.
    """
    if connections[queryset.db].vendor != "sqlite":
        return queryset.filter(condition)
    sql = index_condition_sql(queryset.db, name)
    return queryset.filter(RawSQL(sql, [], output_field=BooleanField()))  # noqa: S611 - Django's own text


def expiry_condition() -> Q:
    """The condition of the job_expiry_idx index: waiting jobs with a deadline."""
    return Q(status__in=sorted(WAITING)) & Q(expires_at__isnull=False)


def due_ready_condition() -> Q:
    """The condition of the job_due_ready_idx index: scheduled and retrying jobs not waiting for parents."""
    return Q(status__in=[Status.SCHEDULED, Status.RETRYING], pending_parents=0)


class JobQuerySet(models.QuerySet["Job"]):
    def runnable(self) -> JobQuerySet:
        return self.filter(status=Status.QUEUED)

    def ready_later(self) -> JobQuerySet:
        """Scheduled and retrying jobs not waiting for parents: job_due_ready_idx's rows."""
        return _as_indexed(self, "job_due_ready_idx", due_ready_condition())

    def due(self, now: datetime.datetime) -> JobQuerySet:
        """Scheduled and retrying jobs whose run_at has come, not waiting for parents."""
        return self.ready_later().filter(run_at__lte=now)

    def waiting(self) -> JobQuerySet:
        return self.filter(status__in=WAITING)

    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE)

    def running_keyed(self) -> JobQuerySet:
        """Running jobs with a concurrency key, through job_running_key_idx."""
        running = _as_indexed(self, "job_running_key_idx", Q(status=Status.RUNNING))
        return running.filter(concurrency_key__isnull=False)

    def queued_keyed(self) -> JobQuerySet:
        """Queued jobs with a concurrency key, through job_queued_key_idx."""
        queued = _as_indexed(self, "job_queued_key_idx", Q(status=Status.QUEUED))
        return queued.filter(concurrency_key__isnull=False)

    def finished(self) -> JobQuerySet:
        return self.filter(status__in=FINISHED)

    def dead(self) -> JobQuerySet:
        return self.filter(status=Status.FAILED)

    def lease_expired(self, now: Any) -> JobQuerySet:
        return self.filter(status=Status.RUNNING, lease_expires_at__lt=now)

    def key_holder(self, key: str) -> JobQuerySet:
        """The job holding idempotency key `key` (at most one: job_idempotency_key_held): unfinished,
        or finished with unique_for and not yet released, found through that index."""
        return _as_indexed(self.filter(idempotency_key=key), "job_idempotency_key_held", key_holding())

    def past_deadline(self, now: datetime.datetime) -> JobQuerySet:
        """Waiting jobs whose expires_at has come: they must never start (states.expire_due, which
        names job_expiry_idx on SQLite)."""
        return self.filter(expiry_condition(), expires_at__lte=now)


class Job(models.Model):
    queue = models.CharField(max_length=100, default="default")
    task_name = models.CharField(max_length=255)
    # The task version the job was enqueued for ("" = unversioned): only a worker with this task at
    # this version claims it. db_default: older code inserting rows keeps working.
    task_version = models.CharField(max_length=64, blank=True, default="", db_default="")
    args = models.JSONField(default=list, blank=True)  # positional arguments
    payload = models.JSONField(default=dict, blank=True)  # keyword arguments
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    priority = models.SmallIntegerField(default=0)  # higher runs first
    attempt = models.PositiveIntegerField(default=0)  # executions started so far
    max_attempts = models.PositiveIntegerField(default=3)
    # Attempts our own shutdown interrupted: started, but not counted against max_attempts
    # (states.attempts_spent). db_default: older code inserting rows keeps working.
    interrupted = models.PositiveIntegerField(default=0, db_default=0)
    # Retry policy (issue 12): attempts the task snoozed (not spent either), and the job's own
    # retry policy ({"backoff", "retry_on", "discard_on"}, jobs.retry), None: the task's or queue's.
    snoozes = models.PositiveIntegerField(default=0, db_default=0)
    retry_policy = models.JSONField(null=True, blank=True)
    run_at = models.DateTimeField()  # not before this time
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)  # start of the latest attempt
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")  # WorkerProcess.name holding it
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    # Unique jobs and expiry (issue 12). unique_for: seconds the key keeps answering with this job
    # after it finished; key_held: the job holds its key even when finished, until an enqueue finds
    # finished_at + unique_for passed and releases it (job_idempotency_key_held makes that race-free).
    # expires_at: not started by then, the job ends cancelled ("expired") and never runs.
    # db_default: older code inserting rows keeps working.
    unique_for = models.FloatField(null=True, blank=True)
    key_held = models.BooleanField(default=False, db_default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Concurrency per key (issue 13, point 2): at most concurrency_limit jobs with the same
    # concurrency_key run at once, across all workers (the claim checks it). NULL: no key.
    concurrency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    timeout = models.FloatField(null=True, blank=True)  # seconds per attempt
    progress = models.FloatField(null=True, blank=True)  # 0.0 .. 1.0
    progress_message = models.CharField(max_length=500, blank=True, default="")
    # Dependencies (issue 13): the job waits for other jobs (JobDependency rows). pending_parents:
    # parents not finished yet; a scheduled job with any is blocked (promotion skips it, so it is
    # never queued). has_dependents: some job waits for this one, so its finish releases them
    # (the plain finish path looks for children only when set). after_failure: what a parent that
    # failed or was cancelled does to this job, "cancel" or "run"; failed_parent: the first such.
    # db_default: older code inserting rows keeps working.
    pending_parents = models.PositiveIntegerField(default=0, db_default=0)
    has_dependents = models.BooleanField(default=False, db_default=False)
    after_failure = models.CharField(max_length=8, default="cancel", db_default="cancel")
    failed_parent = models.BigIntegerField(null=True, blank=True)
    # The W3C trace context the job was enqueued under, {"traceparent": ..., "tracestate": ...}
    # (jobs.tracing); NULL: none. Read by the worker only to open a span, else when a task asks.
    trace_context = models.JSONField(null=True, blank=True)
    # Result passing (chains, docs/workflows.md): which parents' results become this job's first
    # argument, a parent's id or a (nested) list of ids. Written into args, and cleared, when the
    # job is promoted after its parents; NULL: none (nullable, so older code's inserts keep working).
    result_input = models.JSONField(null=True, blank=True)
    # Batches (issue 13): the id of the Batch this job is a member of (its callbacks are not members).
    # A plain column, not a foreign key: adding one to the job table would validate it under a lock
    # (tests/test_migrations.py). Indexed with the status by job_batch_status_idx, which a batch's
    # progress counts through.
    batch_id = models.BigIntegerField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="job_status_valid"),
            models.CheckConstraint(
                condition=Q(priority__gte=PRIORITY_MIN, priority__lte=PRIORITY_MAX), name="job_priority_range"
            ),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="job_max_attempts_positive"),
            # "Same key while unfinished (or held for unique_for after) returns the first job",
            # enforced by the database itself.
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=key_holding(),
                name="job_idempotency_key_held",
            ),
        ]
        indexes = [
            # Matches the claim query's ORDER BY, over runnable rows only.
            models.Index(F("priority").desc(), "run_at", "id", condition=Q(status=Status.QUEUED), name="job_claim_idx"),
            # The oldest runnable job of each queue (waiting age), one index probe per queue.
            models.Index("queue", "run_at", condition=Q(status=Status.QUEUED), name="job_queue_waiting_idx"),
            # Finds scheduled and retrying jobs whose time has come. Not the children still waiting for
            # parents (pending_parents > 0): their run_at has usually passed, and promote_due would
            # otherwise walk every one of them on each tick (a 10,000-job chain: 10,000 rows a second).
            models.Index(
                "run_at",
                condition=due_ready_condition(),
                name="job_due_ready_idx",
            ),
            # Finds running jobs whose lease expired (rescue).
            models.Index("lease_expires_at", condition=Q(status=Status.RUNNING), name="job_lease_idx"),
            # Stats per queue and state; concurrency counts of running jobs per queue.
            models.Index(fields=["queue", "status"], name="job_queue_status_idx"),
            # Lists filtered by state, newest first.
            models.Index(fields=["status", "-id"], name="job_status_id_idx"),
            models.Index(fields=["task_name", "-id"], name="job_task_id_idx"),
            # Finds waiting jobs whose deadline has come (states.expire_due); empty without expiry.
            models.Index("expires_at", condition=expiry_condition(), name="job_expiry_idx"),
            # Running jobs per concurrency key: the claim counts them for a keyed candidate.
            models.Index("concurrency_key", condition=Q(status=Status.RUNNING), name="job_running_key_idx"),
            # A batch's members by state: its progress is one index-only count (partial: jobs
            # outside batches cost it nothing).
            models.Index(
                fields=["batch_id", "status"], condition=Q(batch_id__isnull=False), name="job_batch_status_idx"
            ),
            # Queued jobs per concurrency key: the waiting count of the busiest keys (limit_selectors).
            models.Index("concurrency_key", condition=Q(status=Status.QUEUED), name="job_queued_key_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task_name} ({self.status})"

    @property
    def unique_until(self) -> datetime.datetime | None:
        """When a finished job with unique_for stops answering for its key (None: not finished, or
        no unique_for). The job keeps the key until an enqueue after this time releases it."""
        if self.unique_for is None or self.finished_at is None or self.status not in FINISHED:
            return None
        return self.finished_at + datetime.timedelta(seconds=self.unique_for)

    @property
    def attempts_spent(self) -> int:
        """Attempts counted against max_attempts (the rule: jobs.status.attempts_spent)."""
        return attempts_spent(attempt=self.attempt, interrupted=self.interrupted, snoozes=self.snoozes)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def can_cancel(self) -> bool:
        return Status.CANCELLED in ALLOWED[self.status]

    @property
    def can_retry(self) -> bool:
        return self.status in FINISHED and Status.QUEUED in ALLOWED[self.status]

    @property
    def can_run_now(self) -> bool:
        """Waiting for its run_at (scheduled, or retrying after a backoff), not for parent jobs nor
        for its parents' results to be written in (promotion does that): services.run_job_now applies."""
        waits_for_parents = self.pending_parents > 0 or self.result_input is not None
        return self.status in (Status.SCHEDULED, Status.RETRYING) and not waits_for_parents


class Attempt(models.Model):
    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # raised; retried if attempts remain
        TIMEOUT = "timeout", "Timed out"
        CANCELLED = "cancelled", "Cancelled"
        LOST = "lost", "Worker lost"  # lease expired: the worker died or hung
        INTERRUPTED = "interrupted", "Interrupted by shutdown"
        SNOOZED = "snoozed", "Snoozed"  # the task asked to run again later; not spent

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_class = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    progress = models.FloatField(null=True, blank=True)  # the job's progress when the attempt ended
    progress_message = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["job_id", "number", "id"]

    def __str__(self) -> str:
        return f"job {self.job_id} attempt {self.number}: {self.outcome}"

    @property
    def duration(self) -> datetime.timedelta:
        return self.finished_at - self.started_at


class JobDependency(models.Model):
    """Job `child` waits for job `parent` (issue 13). resolved: the parent's finish has been counted
    on the child (set once, by a conditional UPDATE, so a parent retried and finished again is not
    counted twice)."""

    child = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="parent_links")
    parent = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="child_links")
    resolved = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["child", "parent"], name="jobdependency_unique")]
        indexes = [models.Index(fields=["parent", "resolved"], name="jobdependency_parent_idx")]

    def __str__(self) -> str:
        return f"job {self.child_id} after job {self.parent_id}"


class Batch(models.Model):
    """A tracked set of jobs (its members, Job.batch_id) with up to three callbacks (issue 13).

    Each callback is an ordinary job that depends on every member (JobDependency rows), so the
    dependency release decides when it runs, exactly once: on_success waits with after_failure
    "cancel", on_complete with "run", on_failure with "only". The callbacks' ids are plain columns,
    not foreign keys: pruning a finished callback job leaves the batch readable."""

    description = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    total = models.PositiveIntegerField()  # members, fixed at creation
    on_success_id = models.BigIntegerField(null=True, blank=True)
    on_complete_id = models.BigIntegerField(null=True, blank=True)
    on_failure_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [
            # A callback's waiting reason finds its batch by the callback's id.
            models.Index(fields=["on_success_id"], name="batch_on_success_idx"),
            models.Index(fields=["on_complete_id"], name="batch_on_complete_idx"),
            models.Index(fields=["on_failure_id"], name="batch_on_failure_idx"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.total} jobs)"

    @property
    def callback_ids(self) -> dict[str, int | None]:
        return {"on_success": self.on_success_id, "on_complete": self.on_complete_id, "on_failure": self.on_failure_id}


class JobEvent(models.Model):
    """One row per state change: the job's history and the feed for live updates."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    queue = models.CharField(max_length=100)
    old_status = models.CharField(max_length=16, blank=True, default="")  # "" when the job was created
    new_status = models.CharField(max_length=16)
    attempt = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=500, blank=True, default="")
    actor = models.CharField(max_length=200, blank=True, default="")  # user, token or worker
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.old_status or 'new'} -> {self.new_status}"


class Overflow(models.TextChoices):
    """What an enqueue into a full queue does (Queue.max_depth)."""

    REFUSE = "refuse", "Refuse"  # QueueFull at once
    BLOCK = "block", "Block"  # wait up to Queue.block_seconds for room, then QueueFull


class Queue(models.Model):
    """Settings of a named queue. A queue without a row is unpaused and unlimited."""

    name = models.CharField(max_length=100, unique=True)
    paused = models.BooleanField(default=False)
    concurrency = models.PositiveIntegerField(null=True, blank=True)  # max running at once, all hosts
    # The default retry policy of the queue's jobs ({"backoff", "retry_on", "discard_on"}, jobs.retry).
    retry_policy = models.JSONField(null=True, blank=True)
    # Back-pressure (issue 13): at most max_depth waiting jobs (scheduled, queued, retrying); past it a
    # new job is refused (overflow "refuse") or its enqueue waits up to block_seconds for room
    # ("block"). None: no limit. db_default: older code inserting rows keeps working.
    max_depth = models.PositiveIntegerField(null=True, blank=True)
    overflow = models.CharField(max_length=8, choices=Overflow.choices, default=Overflow.REFUSE, db_default="refuse")
    block_seconds = models.FloatField(default=5.0, db_default=5.0)

    def __str__(self) -> str:
        return self.name


class RefusalCounter(models.Model):
    """How many new jobs one process refused per queue because the queue was full (back-pressure).

    Refusals happen in web processes as well as workers, so the count lives in the database; each
    process increments only its own rows, so processes never contend on them. The sum over all rows
    only grows: a Prometheus counter (/metrics' jobdeck_enqueue_refused_total).
    """

    process = models.CharField(max_length=220)  # host:pid of the refusing process
    queue = models.CharField(max_length=100)
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["process", "queue"], name="refusal_counter_unique")]

    def __str__(self) -> str:
        return f"{self.process} {self.queue}: {self.count}"


class RateLimit(models.Model):
    """At most max_starts job starts per period seconds for a queue, a task or a concurrency key,
    across all workers (issue 13, point 3). The claim checks it; jobs over it wait, in order."""

    class Scope(models.TextChoices):
        QUEUE = "queue", "Queue"
        TASK = "task", "Task"
        KEY = "key", "Concurrency key"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    name = models.CharField(max_length=255)  # the queue name, the task's module path, or the key
    max_starts = models.PositiveIntegerField()
    period = models.FloatField()  # seconds

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "name"], name="ratelimit_scope_name"),
            models.CheckConstraint(condition=Q(max_starts__gte=1), name="ratelimit_max_starts_positive"),
            models.CheckConstraint(condition=Q(period__gt=0), name="ratelimit_period_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.name}: {self.max_starts} per {self.period:g} s"


class RateStart(models.Model):
    """One job start under a RateLimit, written by the claim that made it. `at` is in epoch seconds,
    so the window test (at > now - period) is the same arithmetic on both databases."""

    rate_limit = models.ForeignKey(RateLimit, on_delete=models.CASCADE, related_name="starts", db_index=False)
    at = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["rate_limit", "at"], name="ratestart_limit_at_idx")]

    def __str__(self) -> str:
        return f"{self.rate_limit_id} at {self.at}"


class WorkerProcessQuerySet(models.QuerySet["WorkerProcess"]):
    """Whether a worker is alive: the one rule every page, the API, /metrics, /health and the admin use.

    A worker is alive while it has not stopped and its last heartbeat is younger than a lease
    (JOBDECK_LEASE_SECONDS): the same window after which its jobs' leases expire and are rescued,
    so a worker is shown as gone exactly when its jobs stop being its own. Heartbeats are written
    and compared on the database clock, so hosts with skewed clocks agree. A worker killed with -9
    never marks itself stopped; it falls silent and is gone a lease later.
    """

    @staticmethod
    def alive_condition() -> Q:
        lease = datetime.timedelta(seconds=engine_settings().lease_seconds)
        return Q(stopped_at__isnull=True, last_heartbeat__gt=Now() - lease)

    def alive(self) -> WorkerProcessQuerySet:
        return self.filter(self.alive_condition())

    def gone(self) -> WorkerProcessQuerySet:
        """Stopped cleanly, or silent for longer than a lease (killed, host lost)."""
        return self.exclude(self.alive_condition())

    def with_liveness(self) -> WorkerProcessQuerySet:
        """Each row annotated with `is_alive`."""
        alive = Case(When(self.alive_condition(), then=Value(True)), default=Value(False), output_field=BooleanField())
        return self.annotate(is_alive=alive)


class WorkerProcess(models.Model):
    """A `runworkers` process: its identity and heartbeat; alive or gone (WorkerProcessQuerySet)."""

    name = models.CharField(max_length=200, unique=True)  # host:pid:random
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.PositiveIntegerField()
    worker_type = models.CharField(max_length=16)
    # The tasks this process can run, as "module.path" or "module.path@version" (its registry at
    # start). Claims skip jobs whose task or version is not in it; None: a worker from before the
    # column existed, which claims as it always did.
    tasks = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WorkerProcessQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "worker processes"  # Django's default would say "worker processs"

    def __str__(self) -> str:
        return self.name


class JobLog(models.Model):
    """A log line a task wrote (Python logging inside the task), kept per attempt and bounded in number."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs")
    attempt = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    level = models.PositiveSmallIntegerField()  # logging.INFO etc.
    logger = models.CharField(max_length=200, blank=True, default="")
    message = models.TextField()

    class Meta:
        ordering = ["job_id", "id"]
        indexes = [models.Index(fields=["job", "attempt", "id"], name="joblog_job_attempt_idx")]

    def __str__(self) -> str:
        return f"job {self.job_id} attempt {self.attempt}: {self.message[:60]}"

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class Schedule(models.Model):
    """A cron schedule that enqueues a job at each fire time.

    Rows with source=CODE mirror JOBDECK_SCHEDULES from settings and are rewritten from it at worker
    start; rows with source=DATABASE are created in the admin, the dashboard or the API.
    """

    class Source(models.TextChoices):
        CODE = "code", "Settings"
        DATABASE = "database", "Database"

    name = models.CharField(max_length=100, unique=True)
    cron = models.CharField(max_length=120)  # standard 5 fields: minute hour day-of-month month day-of-week
    timezone = models.CharField(max_length=64, default="UTC")
    task_name = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=100, blank=True, default="")  # "" = the task's own queue
    priority = models.SmallIntegerField(null=True, blank=True)
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    timeout = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DATABASE)
    next_run_at = models.DateTimeField(null=True, blank=True)  # the next fire time; None when disabled
    last_run_at = models.DateTimeField(null=True, blank=True)  # the fire time of the latest run
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        # The tick finds enabled schedules whose time has come.
        indexes = [models.Index("next_run_at", condition=Q(enabled=True), name="schedule_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron})"


class ScheduleRun(models.Model):
    """One fire of a schedule. Unique per (schedule, fire time): each fire enqueues exactly once."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    fire_at = models.DateTimeField()  # the cron time; for "run now" the moment it was asked
    manual = models.BooleanField(default=False)  # "run now" rather than the cron
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-fire_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["schedule", "fire_at"], name="schedule_run_once")]

    def __str__(self) -> str:
        return f"{self.schedule_id} @ {self.fire_at.isoformat()}"


class ApiToken(models.Model):
    """A bearer token for the REST API. Only a SHA-256 of the secret is stored; it is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobdeck_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16, db_index=True)  # the secret's first characters, for display
    key_hash = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the whole secret
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class OutcomeCounter(models.Model):
    """How many attempts one worker process ended per queue and the status each moved its job to,
    since the process started.

    Each process writes only its own rows, with its running totals (never increments), so
    workers never contend on them; rows are kept after a worker stops, so the sum over all rows
    only grows: a Prometheus counter (jobs/api/metrics.py).
    """

    process = models.CharField(max_length=220)  # worker name and pid of the process that ran the jobs
    queue = models.CharField(max_length=100)
    # The status the attempt moved the job to. The column keeps its first name, "outcome": renaming
    # it would break the workers still running the old code during a rolling deploy.
    new_status = models.CharField(max_length=16, db_column="outcome")
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["process", "queue", "new_status"], name="outcome_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.process} {self.queue} {self.new_status}: {self.count}"


class TaskOutcomeCounter(models.Model):
    """How many attempts one worker process ended per task and the status each moved its job to,
    since the process started: OutcomeCounter's twin by task, for /metrics' `task` label.

    A table of its own rather than a task column of OutcomeCounter: workers of the previous release
    upsert OutcomeCounter on its (process, queue, outcome) key during a rolling deploy, and a
    changed key would refuse their writes.
    """

    process = models.CharField(max_length=220)
    task = models.CharField(max_length=255)  # the job's task_name
    new_status = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["process", "task", "new_status"], name="task_outcome_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.process} {self.task} {self.new_status}: {self.count}"
