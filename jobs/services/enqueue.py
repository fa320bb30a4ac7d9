"""Enqueueing: a job's spec checked against the registry and the rules, then stored through the state machine."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from jobs import database, options, registry, retry, states, taskresults, tracing
from jobs.conf import engine_settings, size_limits
from jobs.dbguard import write_service
from jobs.exceptions import InvalidJob, PayloadTooLarge, QueueFull
from jobs.models import Job
from jobs.services import backpressure
from jobs.status import AFTER_FAILURE_MODES, FINISHED, WAITING, Status


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue; None means "the task's default"."""

    task_name: str  # a module path or short name, optionally with "@version"
    version: str | None = None  # None: the one in task_name, else the task's own; "": unversioned
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | str | None = None  # a number, or "high", "medium", "low" (options.PRIORITY_NAMES)
    max_attempts: int | None = None
    # Retry policy (issue 12): the job's own, over the task's and the queue's (jobs.retry).
    backoff: Any = None  # a jobs.retry.Backoff or {"kind", "base", "cap", "jitter"}
    retry_on: Sequence[str] | None = None  # dotted exception class names
    discard_on: Sequence[str] | None = None
    max_snoozes: int | None = None  # times the job may snooze; None: its task's, then JOBDECK_MAX_SNOOZES
    run_at: datetime.datetime | None = None
    delay: float | None = None
    idempotency_key: str | None = None
    # Unique jobs and expiry (issue 12). unique_for: seconds (or a timedelta) the key keeps answering
    # with the job after it finished; without a key, one is made from the task and its arguments.
    # expires_at / expires_in: the job must start by then (expires_in counts from run_at), else it
    # ends cancelled as expired.
    unique_for: float | datetime.timedelta | None = None
    expires_at: datetime.datetime | None = None
    expires_in: float | datetime.timedelta | None = None
    # Concurrency per key (issue 13): at most concurrency_limit jobs with this key run at once
    # (None: the task's key, computed from the arguments, and the task's limit; a key alone: 1).
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    timeout: float | None = None
    # Dependencies (issue 13): ids of existing jobs this one waits for; when one of them fails for
    # good or is cancelled, this job is cancelled ("cancel") or runs anyway once all have finished ("run");
    # "only": it runs only if one failed or was cancelled, and is cancelled when all are done.
    # In a bulk enqueue, `after` may also name earlier jobs of the same request: Ref(index).
    after: Sequence[int | states.Ref] = ()
    after_failure: str = "cancel"
    # W3C trace context ({"traceparent", "tracestate"}) to carry to the worker; None: the ambient one
    # (jobs.tracing.capture: OpenTelemetry's current span, or the job running this code). An invalid
    # traceparent is dropped, as W3C asks of a receiver.
    trace_context: dict[str, str] | None = None
    # Result passing (chains): the parents (ids or Refs, from `after`) whose results become the
    # first argument, one or a nested list of them (jobs.states.passing).
    result_input: Any = None
    # Unique per concurrency key (issue 13): while a job with the same key waits or runs, "drop"
    # returns that job instead of a new one; "replace" cancels the key's waiting jobs ("replaced by
    # #N") and stores the new one. None: the task's on_conflict, else neither.
    on_conflict: str | None = None


AFTER_FAILURE_CHOICES = AFTER_FAILURE_MODES
ON_CONFLICT_CHOICES = ("drop", "replace")
ON_CONFLICT_ERROR = 'on_conflict must be "drop" or "replace"'
KEY_LOCK_NAMESPACE = 0x4A45  # pg_advisory_xact_lock(namespace, hashtext(key)) of a replacing enqueue


def build_job(
    spec: JobSpec,
    now: datetime.datetime,
    default_max_attempts: int,
    max_payload_bytes: int | None = None,
    *,
    ambient_trace: dict[str, str] | None = None,
    index: int | None = None,
) -> states.NewJob:
    """Validate one spec against the registry and the contract; return the row to insert.

    `max_payload_bytes`: the payload limit, read once by a caller building many (settings are read
    when used, and reading them per job cost a bulk enqueue a fifth of its speed). `ambient_trace`:
    the trace context of a spec without one (tracing.capture(), read once by the caller). `index`:
    the spec's place in a bulk request, whose earlier jobs its `after` may name by Ref."""
    name, named_version = registry.split_ref(spec.task_name)
    registered = registry.get_task(name)
    task = registered.task
    version = _job_version(spec.version, named_version, registered.version)
    if not isinstance(spec.args, list | tuple):
        raise InvalidJob("args must be a list")
    if not isinstance(spec.kwargs, dict):
        raise InvalidJob("payload must be a JSON object")
    try:
        # A round trip stores exactly what the task will receive (tuples become lists, keys strings).
        args_json = json.dumps(list(spec.args), ensure_ascii=False, allow_nan=False)
        kwargs_json = json.dumps(spec.kwargs, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidJob(f"payload is not JSON-serialisable: {exc}") from None
    # The one payload limit: every entry point enqueues through here.
    size = len(args_json.encode()) + len(kwargs_json.encode())
    limit = size_limits().max_payload_bytes if max_payload_bytes is None else max_payload_bytes
    if size > limit:
        raise PayloadTooLarge(size, limit)
    args, kwargs = json.loads(args_json), json.loads(kwargs_json)

    queue = task.queue_name if spec.queue is None else spec.queue
    if not options.is_queue_name(queue):
        raise InvalidJob(options.QUEUE_NAME_ERROR)
    priority = options.priority_number(task.priority if spec.priority is None else spec.priority)
    if not options.is_priority(priority):
        raise InvalidJob(options.PRIORITY_ERROR)
    max_attempts = spec.max_attempts
    if max_attempts is None:
        max_attempts = options.task_max_attempts(task, default_max_attempts)
    if not options.is_max_attempts(max_attempts):
        raise InvalidJob(options.MAX_ATTEMPTS_ERROR)
    timeout = spec.timeout if spec.timeout is not None else getattr(task, "timeout", None)
    if timeout is not None and not options.is_timeout(timeout):
        raise InvalidJob(options.TIMEOUT_ERROR)
    if spec.backoff is None and spec.retry_on is None and spec.discard_on is None and spec.max_snoozes is None:
        retry_policy = None  # the common case: nothing to check
    else:
        try:
            # The job's max_snoozes is kept with its retry policy: the one JSON column of per-job rules.
            retry_policy = retry.policy_json(
                backoff=spec.backoff, retry_on=spec.retry_on, discard_on=spec.discard_on, max_snoozes=spec.max_snoozes
            )
        except ValueError as exc:
            raise InvalidJob(str(exc)) from None

    if spec.run_at is not None and spec.delay is not None:
        raise InvalidJob("give run_at or delay, not both")
    run_at = spec.run_at
    if run_at is not None:
        if not isinstance(run_at, datetime.datetime):
            raise InvalidJob("run_at must be a datetime")
        if timezone.is_naive(run_at):
            raise InvalidJob("run_at must be timezone-aware")
    elif spec.delay is not None:
        if not options.is_number(spec.delay) or spec.delay < 0:
            raise InvalidJob("delay must be a non-negative number of seconds")
        run_at = now + datetime.timedelta(seconds=spec.delay)
    else:
        run_at = now
    key = spec.idempotency_key
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 255):
        raise InvalidJob("idempotency_key must be a string of 1-255 characters")
    unique_for = spec.unique_for if spec.unique_for is not None else getattr(task, "unique_for", None)
    if unique_for is not None:
        unique_for = options.period_seconds(unique_for)
        if unique_for is None:
            raise InvalidJob(options.UNIQUE_FOR_ERROR)
        if key is None:
            key = unique_key(registered.name, args, kwargs)
    expires_at = _deadline(spec, getattr(task, "expires_in", None), run_at, now)
    concurrency_key, concurrency_limit = _concurrency(spec, task, args, kwargs)
    on_conflict = spec.on_conflict if spec.on_conflict is not None else getattr(task, "on_conflict", None)
    if on_conflict is not None:
        if on_conflict not in ON_CONFLICT_CHOICES:
            raise InvalidJob(ON_CONFLICT_ERROR)
        if concurrency_key is None:
            raise InvalidJob("on_conflict needs a concurrency_key")
        if key is not None:
            raise InvalidJob("give on_conflict or an idempotency_key / unique_for, not both")
        if on_conflict == "drop":
            key = conflict_key(concurrency_key)
    after, after_refs = _parents(spec.after, index)
    if spec.after_failure not in AFTER_FAILURE_CHOICES:
        raise InvalidJob('after_failure must be "cancel", "run" or "only"')
    trace_context = ambient_trace
    if spec.trace_context is not None:
        if not isinstance(spec.trace_context, dict):
            raise InvalidJob("trace_context must be a dict of W3C trace context headers")
        trace_context = tracing.carrier_from_headers(spec.trace_context)
    result_input = None
    if spec.result_input is not None:
        result_input = states.check_result_input(spec.result_input, after, after_refs)

    return states.NewJob(
        queue=queue,
        task_name=registered.name,
        task_version=version,
        args=args,
        payload=kwargs,
        priority=priority,
        max_attempts=max_attempts,
        run_at=run_at,
        idempotency_key=key,
        unique_for=unique_for,
        expires_at=expires_at,
        concurrency_key=concurrency_key,
        concurrency_limit=concurrency_limit,
        timeout=timeout,
        retry_policy=retry_policy,
        after=after,
        after_failure=spec.after_failure,
        trace_context=trace_context,
        after_refs=after_refs,
        result_input=result_input,
        on_conflict=on_conflict,
    )


def _parents(after: Any, index: int | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A spec's `after` split into ids of existing jobs (checked by check_after) and indexes of
    earlier jobs of the same request. Only earlier ones: the links then point backwards, so a
    request can never write a cycle. Raises InvalidJob."""
    if not after:
        return (), ()
    if isinstance(after, str | bytes) or not hasattr(after, "__iter__"):
        raise InvalidJob("after must be a list of job ids")
    items = list(after)
    refs: dict[int, None] = {}  # distinct, in the order given
    for item in items:
        if not isinstance(item, states.Ref):
            continue
        if index is None:
            raise InvalidJob("after: a reference to another job of the request needs a bulk enqueue")
        ref = item.index
        if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < index:
            raise InvalidJob(f"after: job {ref!r} is not an earlier job of this request")
        refs[ref] = None
    plain = [item for item in items if not isinstance(item, states.Ref)]
    ids = states.check_after(plain) if plain else ()
    if len(ids) + len(refs) > states.MAX_PARENTS:
        raise InvalidJob(f"after: at most {states.MAX_PARENTS} jobs")
    return ids, tuple(refs)


def conflict_key(concurrency_key: str) -> str:
    """The idempotency key of an on_conflict="drop" job: its concurrency key, so the partial unique
    index job_idempotency_key_held lets one job per key wait or run (a long key is hashed to fit)."""
    if len(concurrency_key) <= 240:
        return f"concurrency:{concurrency_key}"
    return f"concurrency:{hashlib.sha256(concurrency_key.encode()).hexdigest()}"


def _concurrency(spec: JobSpec, task: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[str | None, int | None]:
    """The job's concurrency key and limit: the spec's, else the task's (its key computed from the
    arguments). A key without a limit gets 1; a limit without a key is refused."""
    key = spec.concurrency_key
    if key is None:
        template = getattr(task, "concurrency_key", None)
        if template is not None:
            try:
                key = options.task_concurrency_key(template, args, kwargs)
            except ValueError as exc:
                raise InvalidJob(str(exc)) from None
    elif not options.is_concurrency_key(key):
        raise InvalidJob(options.CONCURRENCY_KEY_ERROR)
    limit = spec.concurrency_limit
    if limit is None:
        limit = getattr(task, "concurrency_limit", None)
    if limit is not None and not options.is_concurrency_limit(limit):
        raise InvalidJob(options.CONCURRENCY_LIMIT_ERROR)
    if key is None:
        if spec.concurrency_limit is not None:
            raise InvalidJob("concurrency_limit needs a concurrency_key")
        return None, None
    return key, 1 if limit is None else limit


def _job_version(given: object, named: str | None, own: str) -> str:
    """The version a new job records: the caller's (JobSpec.version, or "name@version"), else the
    task's version in this process's registry. A version this process does not have is accepted:
    in a rolling deploy the web tier may be older than the workers that have it, and the job waits
    for one of them (jobs.waiting)."""
    if given is None:
        return own if named is None else named
    if given != "" and not registry.is_version(given):  # "": the unversioned task, explicitly
        raise InvalidJob(registry.VERSION_ERROR)
    version = str(given)
    if named is not None and named != version:
        raise InvalidJob(f"the task is named at version '{named}' but version is '{version}': give one")
    return version


def unique_key(task_name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The idempotency key of a unique job enqueued without one: its task and arguments, so the
    same call is one job for unique_for (Oban's and Sidekiq's "unique by args")."""
    text = json.dumps([args, kwargs], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{task_name[:190]}:{hashlib.sha256(text.encode()).hexdigest()}"


def _deadline(
    spec: JobSpec, task_expires_in: Any, run_at: datetime.datetime, now: datetime.datetime
) -> datetime.datetime | None:
    """The job's expires_at: given, or run_at + expires_in (the job's, else the task's). Raises
    InvalidJob for both at once, a bad value, or a deadline not after run_at and now (it could
    never start)."""
    if spec.expires_at is not None and spec.expires_in is not None:
        raise InvalidJob("give expires_at or expires_in, not both")
    expires_at = spec.expires_at
    if expires_at is not None:
        if not isinstance(expires_at, datetime.datetime):
            raise InvalidJob("expires_at must be a datetime")
        if timezone.is_naive(expires_at):
            raise InvalidJob("expires_at must be timezone-aware")
    else:
        expires_in = spec.expires_in if spec.expires_in is not None else task_expires_in
        if expires_in is None:
            return None
        seconds = options.period_seconds(expires_in)
        if seconds is None:
            raise InvalidJob(options.EXPIRES_IN_ERROR)
        expires_at = run_at + datetime.timedelta(seconds=seconds)
    if expires_at <= max(run_at, now):
        raise InvalidJob("expires_at must be after run_at and after now: the job could never start")
    return expires_at


def _key_holder(key: str) -> Job | None:
    # No ORDER BY: at most one row holds a key, and an ordering could lead the planner away from
    # the key's index.
    return next(iter(Job.objects.key_holder(key)[:1]), None)


def _still_held(holder: Job, now: datetime.datetime) -> bool:
    """Whether `holder` still answers for its key. A finished job past its unique_for is released
    (key_held cleared, only if it finished no later than read: a manual retry keeps its new window),
    so the next insert can take the key; racing releases and inserts are settled by the index."""
    until = holder.unique_until
    if until is None or until > now:
        return True
    Job.objects.filter(pk=holder.pk, key_held=True, status__in=sorted(FINISHED), finished_at=holder.finished_at).update(
        key_held=False
    )
    return False


def announced(jobs: list[states.NewJob]) -> list[states.NewJob]:
    """Every enqueue path ends here: Django's task_enqueued for each new job, as get_result() reads it."""
    taskresults.send_enqueued(jobs)
    return jobs


@write_service
def enqueue_job(*, spec: JobSpec, actor: str = "") -> Job:
    """Validate and store one job. Joins the caller's transaction when there is one.

    With an idempotency key, returns the job holding that key instead of creating a second one:
    an unfinished one, or one that finished less than its unique_for ago (the database's partial
    unique index, job_idempotency_key_held, settles concurrent enqueues on every host).
    Raises InvalidJob (or UnknownTask) and writes nothing when the spec is wrong, QueueFull when
    the job's queue holds its max_depth of waiting jobs (jobs.services.backpressure).
    """
    return enqueue_job_outcome(spec=spec, actor=actor)[0]


@write_service
def enqueue_job_outcome(*, spec: JobSpec, actor: str = "") -> tuple[Job, bool]:
    """enqueue_job(), and whether the job is new: False when an existing job holding the key (an
    idempotency key, or the concurrency key with on_conflict="drop") was returned instead."""
    job = build_job(spec, timezone.now(), engine_settings().default_max_attempts, ambient_trace=tracing.capture())
    try:
        stored = _store_one(job, actor)
    except QueueFull as exc:
        backpressure.record_refusal(exc)
        raise
    return stored, job.pk is not None and stored.pk == job.pk


def _store_one(job: states.NewJob, actor: str) -> Job:
    """Insert `job` (or find the job holding its key), once its queue has room if it has a max depth."""

    def create() -> Job:
        return announced(states.create_jobs([job], actor=actor))[0].as_job()

    wanted = backpressure.limited({job.queue: 1})
    if job.on_conflict == "replace":
        return _replace(job, actor, lambda: backpressure.admit(wanted, create) if wanted else create())
    if job.idempotency_key is None:
        return backpressure.admit(wanted, create) if wanted else create()
    for _ in range(5):
        holder = _key_holder(job.idempotency_key)
        if holder is not None and _still_held(holder, timezone.now()):
            return holder  # an existing job: never refused, the queue gains nothing
        try:
            if wanted:
                return backpressure.admit(wanted, create)  # its own transaction: a savepoint at least
            with transaction.atomic():
                return create()
        except IntegrityError:
            job.pk = None  # another enqueue won the race; loop to read its job
    raise InvalidJob("idempotency_key is contended; try again")


def _replace(job: states.NewJob, actor: str, create: Callable[[], Job]) -> Job:
    """Store `job` and cancel the waiting jobs with its concurrency key, in one transaction.

    1. Take the key's lock: on PostgreSQL a transaction advisory lock on the key, so concurrent
       replacing enqueues of one key take turns (each sees the job the one before stored); SQLite's
       write transaction already serialises them.
    2. Read the key's waiting jobs (scheduled, queued, retrying); running ones are left to finish.
    3. Store the new job, then cancel each one read with the reason "replaced by #N".
    """
    key = job.concurrency_key
    assert key is not None  # build_job refuses on_conflict without a key
    with transaction.atomic():
        if database.is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [KEY_LOCK_NAMESPACE, key])
        waiting = list(Job.objects.filter(concurrency_key=key, status__in=sorted(WAITING)).order_by("id"))
        new = create()
        for old in waiting:
            # False: a worker claimed it (or someone cancelled it) since the read; it is no longer
            # waiting, so there is nothing to replace.
            states.transition(
                old, Status.CANCELLED, reason=f"replaced by #{new.pk}", actor=actor, finished_at=timezone.now()
            )
    return new


@write_service
def enqueue_jobs(
    *, specs: Sequence[JobSpec], actor: str = "", labels: Sequence[str] | None = None
) -> list[states.NewJob]:
    """Validate and store many jobs in one transaction: all are stored or none.

    Returns light records (pk, status, queue, task_name, args, payload...) in the order given,
    not model instances, so thousands per call stay cheap. Raises InvalidJob naming the first
    bad item (by index, or by its label in `labels`: a workflow names the place) and writes
    nothing; QueueFull, writing nothing, when the new jobs would take a queue past its max_depth
    (a bulk is refused whole, never stored in part).
    """
    if len(specs) > options.MAX_BULK:
        raise InvalidJob(f"at most {options.MAX_BULK} jobs per bulk enqueue")
    now = timezone.now()
    default_max_attempts = engine_settings().default_max_attempts
    max_payload_bytes = size_limits().max_payload_bytes
    ambient_trace = tracing.capture()
    jobs = []
    for index, spec in enumerate(specs):
        try:
            jobs.append(
                build_job(spec, now, default_max_attempts, max_payload_bytes, ambient_trace=ambient_trace, index=index)
            )
        except InvalidJob as exc:
            raise InvalidJob(f"{labels[index] if labels else f'job {index}'}: {exc.message}") from None
    try:
        return _store_many(jobs, actor)
    except QueueFull as exc:
        backpressure.record_refusal(exc)
        raise


def _store_many(jobs: list[states.NewJob], actor: str) -> list[states.NewJob]:
    if not any(j.idempotency_key or j.on_conflict for j in jobs):
        wanted = backpressure.limited(Counter(j.queue for j in jobs))
        if not wanted:
            return announced(states.create_jobs(jobs, actor=actor))
        return backpressure.admit(wanted, lambda: announced(states.create_jobs(jobs, actor=actor)))
    # Jobs with a key may return an existing job instead: each is checked (and counted) on its own,
    # in one transaction, so a refusal part-way rolls back the whole bulk.
    with transaction.atomic():
        stored: list[states.NewJob] = []
        for job in jobs:
            if job.after_refs:  # earlier jobs of the request are stored by now: name them by id
                job.after = tuple(dict.fromkeys([*job.after, *(cast(int, stored[ref].pk) for ref in job.after_refs)]))
                job.after_refs = ()
                job.result_input = states.resolve_result_input(job.result_input, stored)
            stored.append(states.NewJob.from_job(_store_one(job, actor)))
        return stored
