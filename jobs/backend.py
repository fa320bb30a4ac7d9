"""Django Tasks backend (django.tasks) storing tasks as Jobdeck jobs, run by `runworkers`."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.tasks import Task, TaskResult
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist

from jobs import hooks, options, registry, retry, selectors, services, signatures, taskresults
from jobs.conf import HOOK_KINDS
from jobs.exceptions import InvalidJob, JobNotFound
from jobs.models import Job
from jobs.signatures import Signature
from jobs.signatures import sig as sig  # re-exported: batch([sig(task, ...)]) reads from one import
from jobs.status import Status

if TYPE_CHECKING:
    DjangoTask = Task[..., Any]
else:
    DjangoTask = Task  # generic only in django-stubs: Django's Task cannot be subscripted at run time


@dataclass(frozen=True, slots=True, kw_only=True)
class JobdeckTask(DjangoTask):
    """Django's Task plus the options Django's API lacks, set as `@task(max_attempts=5, timeout=60)`.

    The names follow Django's open proposals for retries and timeouts, so a later move is painless.
    """

    max_attempts: int | None = None  # None: JOBDECK_DEFAULT_MAX_ATTEMPTS
    timeout: float | None = None  # seconds per attempt; None: no limit

    # Retry policy and hooks (issue 12, docs/tasks.md "Retries, snooze, discard and hooks").
    # None: the queue's default, then the settings. Exception classes may be given as dotted names.
    backoff: Any = None  # a jobs.retry.Backoff or {"kind", "base", "cap", "jitter"}
    retry_on: Any = None  # exception classes worth retrying; any other error fails at once
    discard_on: Any = None  # exception classes that fail the job at once, no retry
    max_snoozes: int | None = None  # None: JOBDECK_MAX_SNOOZES
    # Called in the worker once the outcome is stored, with a jobs.hooks.JobOutcome; callables or
    # dotted paths, one or a list each.
    on_success: Any = None
    on_failure: Any = None  # failed after its last attempt, or discarded
    on_retry: Any = None  # failed with attempts left: a retry is scheduled
    on_cancel: Any = None  # cancelled while a worker had it
    # Versioned tasks (issue 12, point 3): each job records the version it was enqueued for, and
    # only a worker that has this task at this version claims it (docs/tasks.md).
    version: str | int | None = None  # None: unversioned
    # Unique jobs and expiry (issue 12). unique_for: seconds or a timedelta the job's key (given, or
    # made from the task and its arguments) keeps answering with it after it finished; expires_in:
    # a job not started this long after its run_at ends cancelled as expired.
    unique_for: float | datetime.timedelta | None = None
    expires_in: float | datetime.timedelta | None = None
    # Concurrency per key (issue 13, docs/workflows.md): at most concurrency_limit jobs with the
    # same key run at once. The key: a callable of the job's arguments, or a format string filled
    # from them ("customer:{customer_id}"); the limit defaults to 1 when a key is given.
    concurrency_key: Any = None
    concurrency_limit: int | None = None
    # Unique per key: while a job with the same key waits or runs, "drop" returns it instead of a
    # new one, "replace" cancels the waiting ones and enqueues the new one (JobSpec.on_conflict).
    on_conflict: str | None = None

    # Dependencies (issue 13): set per enqueue with .after(result_a, ...), not on the decorator.
    depends_on: tuple[int, ...] = ()  # ids of the jobs the next job waits for
    after_failure: str = "cancel"  # or "run": what a parent that failed or was cancelled does

    def __post_init__(self) -> None:
        # Named priorities (@task(priority="high")): stored as their number, so Django's checks and
        # every reader see an int. Django's dataclass is slotted: no zero-argument super().
        if isinstance(self.priority, str) and self.priority in options.PRIORITY_NAMES:
            object.__setattr__(self, "priority", options.PRIORITY_NAMES[self.priority])
        Task.__post_init__(self)  # validates with the backend

    def after(self, *parents: TaskResult[..., Any] | int, after_failure: str = "cancel") -> JobdeckTask:
        """This task, for an enqueue that waits for `parents` (TaskResults or job ids) to be done, as
        `using()` makes one for another queue: `send_album.after(*thumbnails).enqueue(album_id)`.
        `after_failure`: when a parent fails for good or is cancelled, "cancel" the new job or "run"
        it anyway once all have finished."""
        ids = tuple(int(p.id) if isinstance(p, TaskResult) else p for p in parents)
        return dataclasses.replace(self, depends_on=ids, after_failure=after_failure)


class InvalidTaskArguments(InvalidTask, TypeError):
    """Arguments that are not JSON. Django's own backends raise TypeError here, so code written for
    them (`except TypeError`) works unchanged; it is an InvalidTask too, as Jobdeck raised before."""


class DatabaseBackend(BaseTaskBackend):
    task_class = JobdeckTask
    jobdeck_backend = True  # the worker sends task_started/task_finished for these (taskresults)
    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = True

    def validate_task(self, task: Task[..., Any]) -> None:
        if not options.is_priority(task.priority):  # before Django's check, which compares numbers
            raise InvalidTask(options.PRIORITY_ERROR)
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and not options.is_max_attempts(max_attempts):
            raise InvalidTask(options.MAX_ATTEMPTS_ERROR)
        timeout = getattr(task, "timeout", None)
        if timeout is not None and not options.is_timeout(timeout):
            raise InvalidTask(options.TIMEOUT_ERROR)
        try:
            retry.policy_json(
                backoff=getattr(task, "backoff", None),
                retry_on=getattr(task, "retry_on", None),
                discard_on=getattr(task, "discard_on", None),
            )
        except ValueError as exc:
            raise InvalidTask(str(exc)) from None
        max_snoozes = getattr(task, "max_snoozes", None)
        if max_snoozes is not None and not options.is_max_snoozes(max_snoozes):
            raise InvalidTask(options.MAX_SNOOZES_ERROR)
        for kind in HOOK_KINDS:
            if not hooks.check_hooks(getattr(task, kind, None)):
                raise InvalidTask(f"{kind} must be a callable or a dotted path, or a list of them")
        version = getattr(task, "version", None)
        if version is not None and not registry.is_version(version):
            raise InvalidTask(registry.VERSION_ERROR)
        unique_for = getattr(task, "unique_for", None)
        if unique_for is not None and options.period_seconds(unique_for) is None:
            raise InvalidTask(options.UNIQUE_FOR_ERROR)
        expires_in = getattr(task, "expires_in", None)
        if expires_in is not None and options.period_seconds(expires_in) is None:
            raise InvalidTask(options.EXPIRES_IN_ERROR)
        key = getattr(task, "concurrency_key", None)
        if key is not None and not (callable(key) or isinstance(key, str)):
            raise InvalidTask(options.CONCURRENCY_TASK_KEY_ERROR)
        limit = getattr(task, "concurrency_limit", None)
        if limit is not None and not options.is_concurrency_limit(limit):
            raise InvalidTask(options.CONCURRENCY_LIMIT_ERROR)
        if limit is not None and key is None:
            raise InvalidTask("concurrency_limit needs a concurrency_key")
        on_conflict = getattr(task, "on_conflict", None)
        if on_conflict is not None and on_conflict not in services.ON_CONFLICT_CHOICES:
            raise InvalidTask(services.ON_CONFLICT_ERROR)
        if on_conflict is not None and key is None:
            raise InvalidTask("on_conflict needs a concurrency_key")

    def enqueue[**P, R](self, task: Task[P, R], args: Any, kwargs: Any) -> TaskResult[P, R]:
        spec = self.job_spec(task, args, kwargs)
        try:
            job = services.enqueue_job(spec=spec, actor="django.tasks")  # sends task_enqueued
        except InvalidJob as exc:
            raise InvalidTask(exc.message) from exc
        return self._result(job, task)

    def job_spec(self, task: Task[..., Any], args: Any, kwargs: Any) -> services.JobSpec:
        """The JobSpec of one enqueue of `task` (signatures.task_spec), once the task and its
        arguments are checked. Raises InvalidTask (InvalidTaskArguments for arguments that are not
        JSON; undecodable bytes raise ValueError, as on Django's own backends)."""
        self.validate_task(task)
        try:
            return signatures.task_spec(task, args, kwargs)
        except TypeError as exc:
            raise InvalidTaskArguments(str(exc)) from exc

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        try:
            job = selectors.job_detail(int(result_id))
        except (JobNotFound, ValueError, TypeError):
            raise TaskResultDoesNotExist(result_id) from None
        task = registry.resolve_for_execution(job.task_name).task
        return self._result(job, task)

    def _result[**P, R](self, job: Job, task: Task[P, R]) -> TaskResult[P, R]:
        attempts = selectors.job_attempts(job.pk) if job.attempt else []
        reason = ""
        if job.status == Status.CANCELLED and not any(a.error_class for a in attempts):
            events = reversed(selectors.job_events(job.pk))
            reason = next((e.reason for e in events if e.new_status == job.status != e.old_status), "")
        return taskresults.build(
            task=task,
            job_id=job.pk,
            status=job.status,
            queue=job.queue,
            priority=job.priority,
            enqueued_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            args=job.args,
            kwargs=job.payload,
            attempts=attempts,
            worker=job.worker,
            result=job.result,
            cancel_reason=reason,
            backend=self.alias,
        )


# --- batches (issue 13, docs/workflows.md "Batches") ------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    """An enqueued batch: its id (GET /api/v1/batches/{id}), its members' TaskResults in the order
    given, and its callbacks' (None when not given)."""

    id: int
    results: list[TaskResult[..., Any]]
    on_success: TaskResult[..., Any] | None
    on_complete: TaskResult[..., Any] | None
    on_failure: TaskResult[..., Any] | None


def batch(
    calls: Iterable[Signature],
    *,
    on_success: Signature | None = None,
    on_complete: Signature | None = None,
    on_failure: Signature | None = None,
    description: str = "",
) -> BatchResult:
    """Enqueue a batch of task calls with callbacks, all or nothing (services.enqueue_batch): on_success
    runs once every member is done, on_complete once every member has finished however it ended,
    on_failure once every member has finished and one failed for good or was cancelled.

        album = batch([sig(make_thumbnail, p) for p in photo_ids], on_success=sig(publish_album, album_id))

    Every task must use a Jobdeck DatabaseBackend. Raises InvalidTask (naming the bad item) and
    stores nothing; QueueFull when a queue has no room for the new jobs."""
    members = list(calls)
    given = {"on_success": on_success, "on_complete": on_complete, "on_failure": on_failure}
    callbacks = {role: item for role, item in given.items() if item is not None}
    specs, backends = [], []
    for where, item in [*((f"job {n}", item) for n, item in enumerate(members)), *callbacks.items()]:
        if not isinstance(item, Signature):
            raise InvalidTask(f"{where}: give sig(task, *args, **kwargs)")
        backend = item.task.get_backend()
        if not isinstance(backend, DatabaseBackend):
            raise InvalidTask(f"{where}: a batch needs tasks of a Jobdeck DatabaseBackend")
        try:
            specs.append(backend.job_spec(item.task, item.args, item.kwargs))
        except InvalidTask as exc:
            raise type(exc)(f"{where}: {exc}") from exc
        backends.append(backend)
    try:
        new = services.enqueue_batch(
            specs=specs[: len(members)],
            description=description,
            actor="django.tasks",
            **dict(zip(callbacks, specs[len(members) :], strict=True)),
        )
    except InvalidJob as exc:
        raise InvalidTask(exc.message) from exc
    records = [*new.jobs, *(new.callbacks[role] for role in callbacks)]
    items = [*members, *callbacks.values()]
    results = [
        backend._result(record.as_job(), item.task)
        for backend, record, item in zip(backends, records, items, strict=True)
    ]
    by_role = dict(zip(callbacks, results[len(members) :], strict=True))
    return BatchResult(
        id=new.batch.pk,
        results=results[: len(members)],
        on_success=by_role.get("on_success"),
        on_complete=by_role.get("on_complete"),
        on_failure=by_role.get("on_failure"),
    )
