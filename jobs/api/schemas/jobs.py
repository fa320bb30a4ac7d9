"""The jobs' requests and responses: enqueue, list, filter, act on, and read a job with its history."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from jobs import listing, options
from jobs.api.schemas.common import (
    AfterFailure,
    AnyJson,
    AttemptOutcome,
    BackoffIn,
    ExceptionName,
    JobAction,
    JobStatus,
    MaxAttempts,
    OmittedField,
    OnConflict,
    PeriodSeconds,
    PriorityIn,
    QueueName,
    Seconds,
    TaskName,
    TaskRef,
    TimeoutSeconds,
    Timestamp,
)
from jobs.models import Attempt, Job, JobEvent, JobLog
from jobs.options import MAX_SNOOZES_LIMIT
from jobs.services.job_actions import BulkResult
from jobs.states.dependencies import MAX_JOB_ID
from jobs.waiting import parent_ids, waiting_reason

MAX_BULK_JOBS = 1000  # jobs per POST /jobs/bulk
MAX_ACTION_JOBS = 1000  # jobs one POST /jobs/actions may act on
SCHEDULE_FIELDS = "Required fields: payload (object), run_at (ISO8601)"


class JobIn(BaseModel):
    """A job to enqueue. Without `task`, the payload's own "task" key names it (and is removed from it)."""

    model_config = ConfigDict(extra="forbid")

    task: TaskRef | None = None
    payload: dict[str, Any] = Field(description="keyword arguments of the task")
    args: list[Any] = Field(default_factory=list, description="positional arguments of the task")
    queue: QueueName | None = None
    priority: PriorityIn | None = None
    max_attempts: MaxAttempts | None = None
    backoff: BackoffIn | None = Field(None, description="this job's backoff, over its task's and its queue's")
    retry_on: list[ExceptionName] | None = Field(
        None, max_length=20, description="dotted exception class names worth retrying; any other error fails at once"
    )
    discard_on: list[ExceptionName] | None = Field(
        None, max_length=20, description="dotted exception class names that fail the job at once, no retry"
    )
    max_snoozes: Annotated[StrictInt, Field(ge=0, le=MAX_SNOOZES_LIMIT)] | None = Field(
        None, description="times this job may snooze, over its task's max_snoozes and JOBDECK_MAX_SNOOZES"
    )
    delay: Seconds | None = Field(None, description="seconds from now; give delay or run_at, not both")
    run_at: Timestamp | None = None
    idempotency_key: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    unique_for: PeriodSeconds | None = Field(
        None,
        description="seconds the key keeps answering with this job after it finished (without "
        "idempotency_key, a key made from the task and its arguments)",
    )
    expires_at: Timestamp | None = Field(
        None, description="not started by then, the job ends cancelled as expired; give expires_at or expires_in"
    )
    expires_in: PeriodSeconds | None = Field(None, description="expires_at as seconds after run_at (or now)")
    concurrency_key: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = Field(
        None, description="at most concurrency_limit jobs with this key run at once, e.g. 'customer:42'"
    )
    concurrency_limit: Annotated[StrictInt, Field(ge=1, le=options.CONCURRENCY_LIMIT_MAX)] | None = Field(
        None, description="jobs with concurrency_key running at once (default 1; needs concurrency_key)"
    )
    on_conflict: OnConflict | None = Field(
        None,
        description='while a job with the same concurrency_key waits or runs: "drop" returns that job (200, '
        '"existing": true) instead of a new one; "replace" cancels the waiting ones ("replaced by #N") and '
        "stores this one; needs concurrency_key",
    )
    timeout: TimeoutSeconds | None = None
    after: list[Annotated[StrictInt, Field(ge=1, le=MAX_JOB_ID)]] | None = Field(
        None, max_length=1000, description="ids of existing jobs this one waits for: it runs when all are done"
    )
    after_failure: AfterFailure | None = Field(
        None,
        description='when a job in `after` fails for good or is cancelled: "cancel" this one (the default) '
        'or "run" it anyway once all have finished; "only": run it only then, cancel it when all are done',
    )


class JobScheduleIn(JobIn):
    """A job to run at `run_at` (ISO 8601 with a timezone)."""

    run_at: Timestamp

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        # ServCore's one message for a missing or mistyped payload or run_at.
        ok = isinstance(data, dict) and isinstance(data.get("payload"), dict) and isinstance(data.get("run_at"), str)
        if ok:
            try:
                datetime.datetime.fromisoformat(data["run_at"])
            except ValueError:
                ok = False
        if not ok:
            raise PydanticCustomError("jobdeck_schedule_fields", SCHEDULE_FIELDS)
        return data


class JobBulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobIn] = Field(min_length=1, max_length=MAX_BULK_JOBS)


class JobFiltersIn(BaseModel):
    """Filters shared by listing and bulk actions; the created range is [created_after, created_before)."""

    status: JobStatus | None = None
    queue: QueueName | None = None
    task: TaskName | None = Field(
        None,
        description="a task name as enqueue takes it (full or unambiguous short name), or the stored name "
        "of jobs whose task has left the code; an unknown name is a 400",
    )
    created_after: Timestamp | None = None
    created_before: Timestamp | None = None
    q: Annotated[StrictStr, Field(max_length=1000)] | None = Field(
        None,
        description="search: a job id (123 or #123), payload.<key>:<value> for an exact payload value, or free "
        "text in the task name, last error, payload and arguments of the newest JOBDECK_SEARCH_WINDOW "
        "(100,000) jobs; a search that cannot run is a 400",
    )

    def for_listing(self) -> listing.JobFilters:
        """The same filters in the form jobs.listing (shared with the dashboard and the CLI) takes.
        Raises InvalidSearch (400) for a search or task name that cannot be run."""
        return listing.JobFilters(
            status=self.status or "",
            queue=self.queue or "",
            task=listing.resolve_task_filter(self.task or ""),
            created_after=self.created_after,
            created_before=self.created_before,
            **listing.parse_search(self.q or ""),
        )


class JobListQuery(JobFiltersIn):
    page: int = Field(1, ge=1, le=100_000, description="page number; ignored when cursor is given")
    per_page: int = Field(50, ge=1, le=200, description="more than 200 is refused with 400")
    cursor: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="the X-Next-Cursor header of the previous page: keyset paging, fast at any depth"
    )


class JobActionIn(JobFiltersIn):
    """Cancel, retry or delete every job matching the filters (at least one filter or `ids`)."""

    model_config = ConfigDict(extra="forbid")

    action: JobAction
    ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] | None = Field(None, max_length=MAX_ACTION_JOBS)

    @model_validator(mode="after")
    def _one_selection(self) -> JobActionIn:
        filters = [name for name in JobFiltersIn.model_fields if getattr(self, name) is not None]
        if self.ids is None and not filters:
            raise PydanticCustomError("jobdeck_no_filter", "Give ids or at least one filter")
        if self.ids is not None and filters:
            raise PydanticCustomError("jobdeck_ids_and_filter", "Give ids or filters, not both")
        return self


class LogQuery(BaseModel):
    attempt: int | None = Field(None, ge=1, le=1_000_000)
    after_id: int = Field(0, ge=0, le=2**63 - 1, description="only lines after this log id")
    limit: int = Field(500, ge=1, le=1000)


class JobAcceptedOut(Schema):
    message: str
    job_id: int


class JobExistingOut(JobAcceptedOut):
    """An enqueue with on_conflict "drop" that returned the job already holding the concurrency key."""

    existing: bool = Field(True, description="always true: no new job was stored")


class JobScheduledOut(JobAcceptedOut):
    run_at: datetime.datetime


class JobsAcceptedOut(Schema):
    message: str
    job_ids: list[int]


class JobFields[ArgsT, PayloadT](Schema):
    """A job's fields, shared by JobOut and JobListItemOut; a list may leave out args and payload
    (null there), so the two types are parameters."""

    id: int
    task: str
    task_version: str = Field(description='the task version the job was enqueued for; "" when unversioned')
    queue: str
    status: JobStatus
    priority: int
    args: ArgsT
    payload: PayloadT
    result: AnyJson = Field(None, description="the task's return value (any JSON value); null until done")
    last_error: str
    attempt: int = Field(description="attempts started, including those interrupted by a worker shutdown")
    interrupted: int = Field(description="attempts interrupted by a worker shutdown; they do not count")
    attempts_spent: int = Field(description="attempts counted against max_attempts: attempt - interrupted - snoozes")
    max_attempts: int
    run_at: datetime.datetime
    created_at: datetime.datetime
    inserted_at: datetime.datetime = Field(description="the same as created_at (ServCore's name)")
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    cancel_requested_at: datetime.datetime | None
    idempotency_key: str | None
    unique_for: float | None = Field(description="seconds the key keeps answering with this job after it finished")
    unique_until: datetime.datetime | None = Field(
        description="when a finished job with unique_for stops answering for its key"
    )
    expires_at: datetime.datetime | None = Field(description="not started by then, the job ends cancelled (expired)")
    concurrency_key: str | None = Field(description="at most concurrency_limit jobs with this key run at once")
    concurrency_limit: int | None
    timeout: float | None
    worker: str
    progress: float | None
    progress_message: str

    @staticmethod
    def resolve_task(job: Job) -> str:
        return job.task_name

    @staticmethod
    def resolve_inserted_at(job: Job) -> datetime.datetime:
        return job.created_at

    @staticmethod
    def resolve_unique_until(job: Job) -> datetime.datetime | None:
        return job.unique_until


class JobOut(JobFields[list[Any], dict[str, Any]]):
    # No docstring: it would become this schema's description in the OpenAPI document.
    snoozes: int = Field(description="attempts the task snoozed; they do not count against max_attempts")
    retry_policy: dict[str, Any] | None = Field(
        description="the job's own backoff, retry_on, discard_on and max_snoozes, if set"
    )
    waiting_reason: str | None = Field(
        description=(
            "why a waiting job waits, e.g. 'retry 2 of 5 at ...', 'snoozed until ...' or "
            "'Waiting for a worker that has task X@2', 'expires at ... if not started'; null when nothing holds it"
        )
    )

    after: list[int] = Field(description="ids of the jobs this one waits for (its parents)")
    after_failure: AfterFailure = Field(description="what a parent that failed or was cancelled does")
    pending_parents: int = Field(description="parents not finished yet; the job waits while any are left")
    trace_context: dict[str, str] | None = Field(
        description=(
            "the W3C trace context the job was enqueued under (the request's traceparent and tracestate"
            " headers, or the enqueuing code's OpenTelemetry span); the worker runs the task in it. null: none"
        )
    )
    batch_id: int | None = Field(description="the batch this job is a member of (GET /batches/{id})")

    @staticmethod
    def resolve_waiting_reason(job: Job) -> str | None:
        return waiting_reason(job)

    @staticmethod
    def resolve_after(job: Job) -> list[int]:
        return parent_ids(job)


class JobListItemOut(JobFields[list[Any] | None, dict[str, Any] | None]):
    """A job in a list: args, payload and result are embedded only when short (see
    JOBDECK_LIST_FIELD_MAX_CHARS); a longer one is null and named in `omitted`."""

    result: AnyJson = None
    omitted: list[OmittedField] = Field(description="fields left out for size; GET /jobs/{id} has them")

    @staticmethod
    def resolve_args(job: Job) -> Any:
        return job.args_embedded  # type: ignore[attr-defined]

    @staticmethod
    def resolve_payload(job: Job) -> Any:
        return job.payload_embedded  # type: ignore[attr-defined]

    @staticmethod
    def resolve_result(job: Job) -> Any:
        return job.result_embedded  # type: ignore[attr-defined]

    @staticmethod
    def resolve_omitted(job: Job) -> list[str]:
        return [
            name
            for name in listing.UNBOUNDED_FIELDS
            if getattr(job, f"{name}_chars") is not None and getattr(job, f"{name}_embedded") is None
        ]


class EventOut(Schema):
    id: int
    old_status: JobStatus | None = Field(description="null for the job's creation")
    new_status: JobStatus
    attempt: int
    reason: str
    actor: str
    created_at: datetime.datetime

    @staticmethod
    def resolve_old_status(event: JobEvent) -> str | None:
        return event.old_status or None  # stored as "" for the creation


class AttemptOut(Schema):
    number: int
    worker: str
    started_at: datetime.datetime
    finished_at: datetime.datetime
    duration_seconds: float
    outcome: AttemptOutcome
    error_class: str
    error_message: str
    traceback: str
    progress: float | None
    progress_message: str

    @staticmethod
    def resolve_duration_seconds(attempt: Attempt) -> float:
        return attempt.duration.total_seconds()


class LogOut(Schema):
    id: int
    attempt: int
    created_at: datetime.datetime
    level: int
    level_name: str
    logger: str
    message: str

    @staticmethod
    def resolve_level_name(line: JobLog) -> str:
        return line.level_name


class ActionOut(Schema):
    matched: int
    changed: int
    skipped: int
    errors: dict[str, str] = Field(description="job id -> why it was skipped (at most 100)")

    @classmethod
    def of(cls, result: BulkResult) -> ActionOut:
        """The answer for a services.BulkResult (job ids as strings: JSON object keys)."""
        errors = {str(job_id): message for job_id, message in result.errors.items()}
        return cls(matched=result.matched, changed=result.changed, skipped=result.skipped, errors=errors)
