"""Request (…In) and response (…Out) shapes of the REST API; constraints live here so OpenAPI shows them."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Annotated, Any

from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jobs import listing, selectors
from jobs.models import PRIORITY_MAX, PRIORITY_MIN, Attempt, Job, JobEvent, JobLog, Schedule
from jobs.options import MAX_ATTEMPTS_LIMIT, QUEUE_PATTERN
from jobs.status import Status

TASK_PATTERN = r"^[A-Za-z0-9_.]{1,255}$"  # a task's module path or short name
MAX_SECONDS = 10 * 365 * 86400  # longest delay or timeout accepted: ten years
MAX_BULK_JOBS = 1000  # jobs per POST /jobs/bulk
MAX_ACTION_JOBS = 1000  # jobs one POST /jobs/actions may act on
SCHEDULE_FIELDS = "Required fields: payload (object), run_at (ISO8601)"


# Every closed set of values is one enum here, so the OpenAPI document holds it once as a component
# that each use refers to (a generated client gets one enum class per set, not one per field).
class JobStatus(StrEnum):
    """A job's state (docs/architecture.md: "Job states")."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


assert {s.value for s in JobStatus} == set(Status.values)


class JobAction(StrEnum):
    """What POST /jobs/actions does to the selected jobs."""

    CANCEL = "cancel"
    RETRY = "retry"
    DELETE = "delete"


class AttemptOutcome(StrEnum):
    """How an attempt ended."""

    DONE = "done"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    LOST = "lost"
    INTERRUPTED = "interrupted"


assert {o.value for o in AttemptOutcome} == set(Attempt.Outcome.values)


class OmittedField(StrEnum):
    """A job field a list may leave out for size."""

    ARGS = "args"
    PAYLOAD = "payload"
    RESULT = "result"


assert {f.value for f in OmittedField} == set(listing.UNBOUNDED_FIELDS)


class WorkerType(StrEnum):
    THREAD = "thread"
    PROCESS = "process"


class HealthStatus(StrEnum):
    OK = "OK"
    DEGRADED = "DEGRADED"


class ScheduleSource(StrEnum):
    """Where a schedule is defined: JOBDECK_SCHEDULES in settings ("code"), or the database."""

    CODE = "code"
    DATABASE = "database"


assert {s.value for s in ScheduleSource} == set(Schedule.Source.values)


def _storable(value: datetime.datetime) -> datetime.datetime:
    # Years near 1 or 9999 overflow when converted to UTC, and PostgreSQL's range ends before Python's.
    if not 1970 <= value.year <= 9000:
        raise ValueError("the year must be between 1970 and 9000")
    # pydantic takes UTC offsets up to 23:59; PostgreSQL refuses 16:00 and more (a 500, not a 400).
    offset = value.utcoffset()
    if offset is not None and abs(offset) >= datetime.timedelta(hours=16):
        raise ValueError("the UTC offset must be less than 16 hours")
    return value


def _iso_text(value: Any) -> Any:
    # pydantic would read a number (or a string of digits, as a query string carries it) as Unix
    # seconds; the API documents ISO 8601, so a timestamp must be written as one.
    if not isinstance(value, str) or value.strip().lstrip("-").replace(".", "", 1).isdigit():
        raise PydanticCustomError("iso_datetime", "Input should be an ISO 8601 date-time with a timezone")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_storable)]
QueueName = Annotated[StrictStr, Field(pattern=QUEUE_PATTERN)]
TaskName = Annotated[StrictStr, Field(pattern=TASK_PATTERN)]
Seconds = Annotated[StrictFloat, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
# Any JSON value, spelt out: an untyped schema would leave a generated client guessing.
AnyJson = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "object", "additionalProperties": True},
                {"type": "array", "items": {}},
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        }
    ),
]


class JobIn(BaseModel):
    """A job to enqueue. Without `task`, the payload's own "task" key names it (and is removed from it)."""

    model_config = ConfigDict(extra="forbid")

    task: TaskName | None = None
    payload: dict[str, Any] = Field(description="keyword arguments of the task")
    args: list[Any] = Field(default_factory=list, description="positional arguments of the task")
    queue: QueueName | None = None
    priority: Annotated[StrictInt, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] | None = None
    max_attempts: Annotated[StrictInt, Field(ge=1, le=MAX_ATTEMPTS_LIMIT)] | None = None
    delay: Seconds | None = Field(None, description="seconds from now; give delay or run_at, not both")
    run_at: Timestamp | None = None
    idempotency_key: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    timeout: Annotated[StrictFloat, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)] | None = None


class JobScheduleIn(JobIn):
    """A job to run at `run_at` (ISO 8601 with a timezone)."""

    run_at: Timestamp  # type: ignore[assignment]

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


class JobFilters(BaseModel):
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


class JobListQuery(JobFilters):
    page: int = Field(1, ge=1, le=100_000, description="page number; ignored when cursor is given")
    per_page: int = Field(50, ge=1, le=200, description="more than 200 is refused with 400")
    cursor: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="the X-Next-Cursor header of the previous page: keyset paging, fast at any depth"
    )


class JobActionIn(JobFilters):
    """Cancel, retry or delete every job matching the filters (at least one filter or `ids`)."""

    model_config = ConfigDict(extra="forbid")

    action: JobAction
    ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] | None = Field(None, max_length=MAX_ACTION_JOBS)

    @model_validator(mode="after")
    def _one_selection(self) -> JobActionIn:
        filters = [name for name in JobFilters.model_fields if getattr(self, name) is not None]
        if self.ids is None and not filters:
            raise PydanticCustomError("jobdeck_no_filter", "Give ids or at least one filter")
        if self.ids is not None and filters:
            raise PydanticCustomError("jobdeck_ids_and_filter", "Give ids or filters, not both")
        return self


class LogQuery(BaseModel):
    attempt: int | None = Field(None, ge=1, le=1_000_000)
    after_id: int = Field(0, ge=0, le=2**63 - 1, description="only lines after this log id")
    limit: int = Field(500, ge=1, le=1000)


class QueuePatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    concurrency: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        description="most jobs of this queue running at once on all workers; null for no limit"
    )


class ErrorOut(Schema):
    error: str


# The error statuses each kind of operation can answer (docs/api.md, "Errors"). Every operation
# refuses bad input, an unknown query parameter included (400), needs credentials (401) and can meet
# a database that refuses (503, with Retry-After); only writes can be refused to a caller (403), only
# requests with a body can be too large (413). Operations add what else they answer (404, 409).
READ_ERRORS: dict[int, type[ErrorOut]] = {400: ErrorOut, 401: ErrorOut, 503: ErrorOut}
ACTION_ERRORS: dict[int, type[ErrorOut]] = {**READ_ERRORS, 403: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ACTION_ERRORS, 413: ErrorOut}


class JobAcceptedOut(Schema):
    message: str
    job_id: int


class JobScheduledOut(JobAcceptedOut):
    run_at: datetime.datetime


class JobsAcceptedOut(Schema):
    message: str
    job_ids: list[int]


class JobOut(Schema):
    id: int
    task: str
    queue: str
    status: JobStatus
    priority: int
    args: list[Any]
    payload: dict[str, Any]
    result: AnyJson = Field(None, description="the task's return value (any JSON value); null until done")
    last_error: str
    attempt: int = Field(description="attempts started, including those interrupted by a worker shutdown")
    interrupted: int = Field(description="attempts interrupted by a worker shutdown; they do not count")
    attempts_spent: int = Field(description="attempts counted against max_attempts: attempt - interrupted")
    max_attempts: int
    run_at: datetime.datetime
    created_at: datetime.datetime
    inserted_at: datetime.datetime = Field(description="the same as created_at (ServCore's name)")
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    cancel_requested_at: datetime.datetime | None
    idempotency_key: str | None
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


class JobListItemOut(JobOut):
    """A job in a list: args, payload and result are embedded only when short (see
    JOBDECK_LIST_FIELD_MAX_CHARS); a longer one is null and named in `omitted`."""

    args: list[Any] | None
    payload: dict[str, Any] | None
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


class QueueSettingsOut(Schema):
    name: str
    paused: bool
    concurrency: int | None


class QueueOut(QueueSettingsOut):
    counts: dict[str, int]
    total: int
    oldest_waiting_seconds: float | None

    @classmethod
    def from_stats(cls, entry: selectors.QueueStats) -> QueueOut:
        """One queue of selectors.queue_stats(), as /queues and /stats show it."""
        return cls(
            name=entry.name,
            paused=entry.paused,
            concurrency=entry.concurrency,
            counts=entry.counts,
            total=entry.total,
            oldest_waiting_seconds=entry.oldest_waiting_seconds,
        )


class StatsOut(Schema):
    queued: int
    running: int
    done: int
    failed: int
    total: int
    scheduled: int
    retrying: int
    cancelled: int
    queues: dict[str, QueueOut]


class HealthOut(Schema):
    status: HealthStatus
    reasons: list[str] | None = None


class TaskOut(Schema):
    name: str
    short_name: str
    queue: str
    priority: int
    max_attempts: int
    timeout: float | None
    docstring: str


class WorkerOut(Schema):
    name: str
    host: str
    pid: int
    queues: list[str]
    concurrency: int
    worker_type: WorkerType
    started_at: datetime.datetime
    last_heartbeat: datetime.datetime  # when it was last heard from (a heartbeat, or its clean stop)
    stopped_at: datetime.datetime | None
    is_alive: bool  # not stopped, and a heartbeat within the lease (JOBDECK_LEASE_SECONDS)
    running_job_ids: list[int]


class ScheduleIn(BaseModel):
    """A cron schedule: `cron` has five fields (minute hour day-of-month month day-of-week) or an @alias."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    cron: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    task: TaskName
    args: list[Any] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    queue: QueueName | None = None
    priority: Annotated[StrictInt, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] | None = None
    max_attempts: Annotated[StrictInt, Field(ge=1, le=MAX_ATTEMPTS_LIMIT)] | None = None
    timeout: Annotated[StrictFloat, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)] | None = None
    timezone: Annotated[StrictStr, Field(min_length=1, max_length=64)] = "UTC"
    enabled: StrictBool = True


class SchedulePatchIn(BaseModel):
    """The fields to change; the others keep their values. `enabled` turns the schedule on or off."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=100)] | None = None
    cron: Annotated[StrictStr, Field(min_length=1, max_length=120)] | None = None
    task: TaskName | None = None
    args: list[Any] | None = None
    payload: dict[str, Any] | None = None
    queue: QueueName | None = None
    priority: Annotated[StrictInt, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] | None = None
    max_attempts: Annotated[StrictInt, Field(ge=1, le=MAX_ATTEMPTS_LIMIT)] | None = None
    timeout: Annotated[StrictFloat, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)] | None = None
    timezone: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    enabled: StrictBool | None = None


class ScheduleOut(Schema):
    id: int
    name: str
    cron: str
    timezone: str
    task: str
    args: list[Any]
    payload: dict[str, Any]
    queue: str | None
    priority: int | None
    max_attempts: int | None
    timeout: float | None
    enabled: bool
    source: ScheduleSource
    next_run_at: datetime.datetime | None
    last_run_at: datetime.datetime | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_task(schedule: Any) -> str:
        return schedule.task_name

    @staticmethod
    def resolve_queue(schedule: Any) -> str | None:
        return schedule.queue or None  # "" is stored for "the task's own queue"


class ScheduleRunOut(Schema):
    id: int
    fire_at: datetime.datetime
    manual: bool
    job_id: int | None
    created_at: datetime.datetime
