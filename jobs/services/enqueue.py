"""Enqueueing: a job's spec checked against the registry and the rules, then stored through the state machine."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import options, registry, retry, states, taskresults
from jobs.conf import engine_settings, size_limits
from jobs.dbguard import write_service
from jobs.exceptions import InvalidJob, PayloadTooLarge
from jobs.models import PRIORITY_MAX, PRIORITY_MIN, Job


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue; None means "the task's default"."""

    task_name: str  # a module path or short name, optionally with "@version"
    version: str | None = None  # None: the one in task_name, else the task's own; "": unversioned
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    # Retry policy (issue 12): the job's own, over the task's and the queue's (jobs.retry).
    backoff: Any = None  # a jobs.retry.Backoff or {"kind", "base", "cap", "jitter"}
    retry_on: Sequence[str] | None = None  # dotted exception class names
    discard_on: Sequence[str] | None = None
    run_at: datetime.datetime | None = None
    delay: float | None = None
    idempotency_key: str | None = None
    timeout: float | None = None


def build_job(
    spec: JobSpec, now: datetime.datetime, default_max_attempts: int, max_payload_bytes: int | None = None
) -> states.NewJob:
    """Validate one spec against the registry and the contract; return the row to insert.

    `max_payload_bytes`: the payload limit, read once by a caller building many (settings are read
    when used, and reading them per job cost a bulk enqueue a fifth of its speed)."""
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
    priority = task.priority if spec.priority is None else spec.priority
    if not options.is_int(priority) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidJob(f"priority must be a whole number between {PRIORITY_MIN} and {PRIORITY_MAX}")
    max_attempts = spec.max_attempts
    if max_attempts is None:
        max_attempts = options.task_max_attempts(task, default_max_attempts)
    if not options.is_max_attempts(max_attempts):
        raise InvalidJob(options.MAX_ATTEMPTS_ERROR)
    timeout = spec.timeout if spec.timeout is not None else getattr(task, "timeout", None)
    if timeout is not None and not options.is_timeout(timeout):
        raise InvalidJob(options.TIMEOUT_ERROR)
    if spec.backoff is None and spec.retry_on is None and spec.discard_on is None:
        retry_policy = None  # the common case: nothing to check
    else:
        try:
            retry_policy = retry.policy_json(backoff=spec.backoff, retry_on=spec.retry_on, discard_on=spec.discard_on)
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
        timeout=timeout,
        retry_policy=retry_policy,
    )


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


def _active_with_key(key: str) -> Job | None:
    return Job.objects.active().filter(idempotency_key=key).first()


def _announced(jobs: list[states.NewJob]) -> list[states.NewJob]:
    """Every enqueue path ends here: Django's task_enqueued for each new job, as get_result() reads it."""
    taskresults.send_enqueued(jobs)
    return jobs


@write_service
def enqueue_job(*, spec: JobSpec, actor: str = "") -> Job:
    """Validate and store one job. Joins the caller's transaction when there is one.

    With an idempotency key, returns the existing unfinished job holding that key instead of
    creating a second one (the database's partial unique index settles concurrent enqueues).
    Raises InvalidJob (or UnknownTask) and writes nothing when the spec is wrong.
    """
    job = build_job(spec, timezone.now(), engine_settings().default_max_attempts)
    if job.idempotency_key is None:
        return _announced(states.create_jobs([job], actor=actor))[0].as_job()
    for _ in range(3):
        existing = _active_with_key(job.idempotency_key)
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return _announced(states.create_jobs([job], actor=actor))[0].as_job()
        except IntegrityError:
            job.pk = None  # another enqueue won the race; loop to read its job
    raise InvalidJob("idempotency_key is contended; try again")


@write_service
def enqueue_jobs(*, specs: Sequence[JobSpec], actor: str = "") -> list[states.NewJob]:
    """Validate and store many jobs in one transaction: all are stored or none.

    Returns light records (pk, status, queue, task_name, args, payload...) in the order given,
    not model instances, so thousands per call stay cheap. Raises InvalidJob naming the first
    bad item (by index) and writes nothing.
    """
    if len(specs) > options.MAX_BULK:
        raise InvalidJob(f"at most {options.MAX_BULK} jobs per bulk enqueue")
    now = timezone.now()
    default_max_attempts = engine_settings().default_max_attempts
    max_payload_bytes = size_limits().max_payload_bytes
    jobs = []
    for index, spec in enumerate(specs):
        try:
            jobs.append(build_job(spec, now, default_max_attempts, max_payload_bytes))
        except InvalidJob as exc:
            raise InvalidJob(f"job {index}: {exc.message}") from None
    if not any(j.idempotency_key for j in jobs):
        return _announced(states.create_jobs(jobs, actor=actor))
    with transaction.atomic():
        return [states.NewJob.from_job(enqueue_job(spec=spec, actor=actor)) for spec in specs]
