"""What the API's schema modules share: the constants, the enums, the field types and the error body."""

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
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from jobs import listing
from jobs.models import PRIORITY_MAX, PRIORITY_MIN, Attempt, RateLimit, Schedule
from jobs.options import MAX_ATTEMPTS_LIMIT, MAX_PERIOD_SECONDS, PRIORITY_NAMES, QUEUE_PATTERN, is_priority
from jobs.status import Status

TASK_PATTERN = r"^[A-Za-z0-9_.]{1,255}$"  # a task's module path or short name
# Enqueue's task: a name, optionally "@version"; the service checks the version (one clear message).
TASK_REF_PATTERN = r"^[A-Za-z0-9_.]{1,255}(@.{0,100})?$"
MAX_SECONDS = 10 * 365 * 86400  # longest delay or timeout accepted: ten years


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


class AfterFailure(StrEnum):
    """What a parent job (in `after`) that failed for good or was cancelled does to the job waiting for it."""

    CANCEL = "cancel"
    RUN = "run"
    ONLY = "only"  # runs only if a parent failed or was cancelled; cancelled when all are done


class OnConflict(StrEnum):
    """What an enqueue does while a job with the same concurrency key waits or runs."""

    DROP = "drop"
    REPLACE = "replace"


class JobAction(StrEnum):
    """What POST /jobs/actions does to the selected jobs."""

    CANCEL = "cancel"
    RETRY = "retry"
    DELETE = "delete"


class BackoffKind(StrEnum):
    """How the wait before a retry grows (jobs.retry)."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    CONSTANT = "constant"


class AttemptOutcome(StrEnum):
    """How an attempt ended."""

    DONE = "done"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    LOST = "lost"
    INTERRUPTED = "interrupted"
    SNOOZED = "snoozed"


assert {o.value for o in AttemptOutcome} == set(Attempt.Outcome.values)


class OmittedField(StrEnum):
    """A job field a list may leave out for size."""

    ARGS = "args"
    PAYLOAD = "payload"
    RESULT = "result"


assert {f.value for f in OmittedField} == set(listing.UNBOUNDED_FIELDS)


class PriorityName(StrEnum):
    """A named priority, accepted wherever a priority number is: high = 10, medium = 0, low = -10."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


assert {p.value for p in PriorityName} == set(PRIORITY_NAMES)


class WorkerType(StrEnum):
    THREAD = "thread"
    PROCESS = "process"
    ISOLATED = "isolated"  # a fresh process per job


class QueueOverflow(StrEnum):
    """What an enqueue into a full queue does (jobs.models.Overflow)."""

    REFUSE = "refuse"
    BLOCK = "block"


class RateLimitScope(StrEnum):
    """What a rate limit counts the starts of: a queue's jobs, a task's (by module path) or a concurrency key's."""

    QUEUE = "queue"
    TASK = "task"
    KEY = "key"


class HealthStatus(StrEnum):
    OK = "OK"
    DEGRADED = "DEGRADED"


class ScheduleSource(StrEnum):
    """Where a schedule is defined: JOBDECK_SCHEDULES in settings ("code"), or the database."""

    CODE = "code"
    DATABASE = "database"


assert {s.value for s in RateLimitScope} == set(RateLimit.Scope.values)
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
TaskRef = Annotated[
    StrictStr,
    Field(
        pattern=TASK_REF_PATTERN,
        description='a task name, optionally with the version to run: "app.tasks.sync@2" (without one, the '
        "task's version as this server knows it)",
    ),
]
Seconds = Annotated[StrictFloat, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Priority = Annotated[StrictInt, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)]


def _priority_value(value: Any) -> Any:
    # A name becomes its number; anything but a name or a whole number in range is refused in one
    # message naming the choices (a union would answer with one error per branch).
    if isinstance(value, str) and value in PRIORITY_NAMES:
        return PRIORITY_NAMES[value]
    if not is_priority(value):
        raise PydanticCustomError("priority", PRIORITY_INPUT_ERROR)
    return value


PRIORITY_INPUT_ERROR = (
    f"Input should be a whole number between {PRIORITY_MIN} and {PRIORITY_MAX}, or high, medium or low"
)
# An input priority: a number, or a name (high = 10, medium = 0, low = -10) read as its number.
PriorityIn = Annotated[Priority | PriorityName, BeforeValidator(_priority_value)]
PeriodSeconds = Annotated[
    StrictFloat, Field(gt=0, le=MAX_PERIOD_SECONDS, allow_inf_nan=False)
]  # unique_for, expires_in
MaxAttempts = Annotated[StrictInt, Field(ge=1, le=MAX_ATTEMPTS_LIMIT)]
TimeoutSeconds = Annotated[
    StrictFloat, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)
]  # a positive number of seconds
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


class ErrorOut(Schema):
    error: str


# The error statuses each kind of operation can answer (docs/api.md, "Errors"). Every operation
# refuses bad input, an unknown query parameter included (400), needs credentials (401) and can meet
# a database that refuses (503, with Retry-After); only writes can be refused to a caller (403), only
# requests with a body can be too large (413). Operations add what else they answer (404, 409).
READ_ERRORS: dict[int, type[ErrorOut]] = {400: ErrorOut, 401: ErrorOut, 503: ErrorOut}
ACTION_ERRORS: dict[int, type[ErrorOut]] = {**READ_ERRORS, 403: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ACTION_ERRORS, 413: ErrorOut}


ExceptionName = Annotated[
    StrictStr, Field(max_length=255, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
]


class BackoffIn(BaseModel):
    """How long a failed job waits before its next attempt (see docs/tasks.md)."""

    model_config = ConfigDict(extra="forbid")

    kind: BackoffKind = BackoffKind.EXPONENTIAL
    base: Seconds = Field(5.0, description="seconds: the first wait (exponential doubles it, linear adds it)")
    cap: Seconds | None = Field(None, description="seconds: no wait is longer (default 3600, or base if larger)")
    jitter: Annotated[StrictFloat, Field(ge=0, le=1)] = Field(0.5, description="random share of each wait, 0 to 1")

    def as_dict(self) -> dict[str, Any]:
        data = self.model_dump()
        data["kind"] = str(self.kind)
        if data["cap"] is None:
            del data["cap"]
        return data


class RetryPolicyIn(BaseModel):
    """A queue's default retry policy; each part left out (or null) is not set."""

    model_config = ConfigDict(extra="forbid")

    backoff: BackoffIn | None = None
    retry_on: list[ExceptionName] | None = Field(None, max_length=20)
    discard_on: list[ExceptionName] | None = Field(None, max_length=20)
