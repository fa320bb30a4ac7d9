"""The records the state machine hands out and takes back: a claimed job, a new job, an attempt's finish."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from jobs.models import Job
from jobs.status import attempts_spent, cancelled_when_due


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """What a worker needs to run one claimed job; (id, attempt) identifies the claim."""

    id: int
    queue: str
    task_name: str
    task_version: str = field(default="", kw_only=True)  # "" = unversioned
    args: list[Any]
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    timeout: float | None
    worker: str
    started_at: datetime.datetime
    interrupted: int = 0  # earlier attempts our own shutdown interrupted (see attempts_spent)
    snoozes: int = 0  # earlier attempts the task snoozed (not spent either)
    retry_policy: dict[str, Any] | None = None  # the job's own retry policy (jobs.retry)
    priority: int = 0
    enqueued_at: datetime.datetime | None = None

    @property
    def attempts_spent(self) -> int:
        return attempts_spent(attempt=self.attempt, interrupted=self.interrupted, snoozes=self.snoozes)


@dataclass(frozen=True, slots=True)
class Failure:
    """How an attempt failed, as recorded on its Attempt row."""

    outcome: str  # an Attempt.Outcome value
    error_class: str = ""
    message: str = ""
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Finish:
    """How one attempt of a claimed job ended, as a worker hands it back: the move record() writes.

    Not to be confused with Attempt.Outcome, the kind of ending stored on the Attempt row
    (`failure.outcome`, or done).
    """

    claimed: ClaimedJob
    to: str  # done | retrying | failed | cancelled | queued
    reason: str
    result: Any = None
    failure: Failure | None = None
    retry_at: datetime.datetime | None = None
    ended_at: datetime.datetime = field(default_factory=timezone.now)


@dataclass(frozen=True, slots=True)
class Ref:
    """An earlier job of the same enqueue request, by its index there: how the steps of a chain
    name each other before any of them has an id (JobSpec.after, result_input)."""

    index: int


@dataclass(slots=True)
class NewJob:
    """A validated job about to be inserted (services builds it); create_jobs() fills in the rest.

    A plain record rather than an unsaved Job: bulk enqueue handles thousands per request, and
    model instances cost more to build than the rows cost to insert.
    """

    queue: str
    task_name: str
    task_version: str = field(default="", kw_only=True)  # "" = unversioned
    args: list[Any]
    payload: dict[str, Any]
    priority: int
    max_attempts: int
    run_at: datetime.datetime
    idempotency_key: str | None = None
    unique_for: float | None = None  # seconds the key stays held after the job finished (key_held)
    expires_at: datetime.datetime | None = None  # not started by then: cancelled, never run
    concurrency_key: str | None = None  # at most concurrency_limit jobs with this key run at once
    concurrency_limit: int | None = None
    timeout: float | None = None
    retry_policy: dict[str, Any] | None = None
    # Dependencies (issue 13): the ids of the jobs this one waits for and what a parent's failure
    # does ("cancel" or "run"); create_jobs() sets the rest from the parents' status.
    after: tuple[int, ...] = ()
    after_failure: str = "cancel"
    # Unique per key (issue 13): "replace" cancels the key's waiting jobs when this one is stored
    # (jobs.services.enqueue); "drop" is carried by idempotency_key instead.
    on_conflict: str | None = None
    pending_parents: int = 0
    failed_parent: int | None = None
    # Batches (issue 13): the batch this job is a member of; a member of a batch with callbacks
    # has dependents from its insert on (the callbacks wait for it).
    batch_id: int | None = None
    has_dependents: bool = False
    last_error: str = ""
    trace_context: dict[str, str] | None = None  # W3C trace context it was enqueued under (jobs.tracing)
    # Chains (docs/workflows.md "Chains and groups"): parents among the earlier jobs of the same
    # request (indexes into it), and which parents' results become the first argument: a parent
    # (a job id or a Ref) or a nested list of them; create_jobs() stores it with Refs made ids.
    after_refs: tuple[int, ...] = ()
    result_input: Any = None
    pk: int | None = None
    status: str = ""
    created_at: datetime.datetime | None = None

    @property
    def blocked(self) -> bool:
        """Waits for parents, or for promote_due to cancel it (a parent failed; or, with after_failure
        "only", none did)."""
        return self.pending_parents > 0 or cancelled_when_due(
            failed_parent=self.failed_parent, after_failure=self.after_failure
        )

    @property
    def key_held(self) -> bool:
        """A job with unique_for holds its key after it finished, until released (Job.key_held)."""
        return self.unique_for is not None and self.idempotency_key is not None

    @classmethod
    def from_job(cls, job: Job) -> NewJob:
        return cls(
            queue=job.queue,
            task_name=job.task_name,
            task_version=job.task_version,
            args=job.args,
            payload=job.payload,
            priority=job.priority,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
            idempotency_key=job.idempotency_key,
            unique_for=job.unique_for,
            expires_at=job.expires_at,
            concurrency_key=job.concurrency_key,
            concurrency_limit=job.concurrency_limit,
            timeout=job.timeout,
            retry_policy=job.retry_policy,
            after_failure=job.after_failure,
            pending_parents=job.pending_parents,
            failed_parent=job.failed_parent,
            batch_id=job.batch_id,
            has_dependents=job.has_dependents,
            last_error=job.last_error,
            trace_context=job.trace_context,
            result_input=job.result_input,
            pk=job.pk,
            status=job.status,
            created_at=job.created_at,
        )

    def as_job(self) -> Job:
        """The stored row as a Job instance (no query)."""
        if self.pk is None or self.created_at is None:
            raise ValueError("as_job() needs a stored NewJob: create_jobs() fills in pk and created_at")
        job = Job(
            id=self.pk,
            queue=self.queue,
            task_name=self.task_name,
            task_version=self.task_version,
            args=self.args,
            payload=self.payload,
            priority=self.priority,
            max_attempts=self.max_attempts,
            run_at=self.run_at,
            created_at=self.created_at,
            status=self.status,
            idempotency_key=self.idempotency_key,
            unique_for=self.unique_for,
            key_held=self.key_held,
            expires_at=self.expires_at,
            concurrency_key=self.concurrency_key,
            concurrency_limit=self.concurrency_limit,
            timeout=self.timeout,
            retry_policy=self.retry_policy,
            after_failure=self.after_failure,
            pending_parents=self.pending_parents,
            failed_parent=self.failed_parent,
            batch_id=self.batch_id,
            has_dependents=self.has_dependents,
            last_error=self.last_error,
            trace_context=self.trace_context,
            result_input=self.result_input,
        )
        job._state.adding, job._state.db = False, DEFAULT_DB_ALIAS
        return job
