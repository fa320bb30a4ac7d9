"""Queues, workers, stats, health and tasks: the API's responses about the system, and the queue patch."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from jobs import options, selectors
from jobs.api.schemas.common import HealthStatus, QueueOverflow, RateLimitScope, RetryPolicyIn, WorkerType
from jobs.services import rate_limits


class QueuePatchIn(BaseModel):
    """The settings to change; a field left out is kept."""

    model_config = ConfigDict(extra="forbid")

    concurrency: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = Field(
        None, description="most jobs of this queue running at once on all workers; null for no limit"
    )
    retry_policy: RetryPolicyIn | None = Field(
        None, description="the default retry policy of the queue's jobs; null for none (the settings apply)"
    )
    max_depth: Annotated[StrictInt, Field(ge=1, le=options.MAX_DEPTH_LIMIT)] | None = Field(
        None,
        description="most waiting jobs (scheduled, queued, retrying); past it an enqueue is refused with 429 "
        "or blocks (overflow); null for no limit",
    )
    overflow: QueueOverflow | None = Field(
        None, description="a full queue: refuse the enqueue at once, or block up to block_seconds for room"
    )
    block_seconds: Annotated[StrictFloat, Field(gt=0, le=options.BLOCK_SECONDS_LIMIT, allow_inf_nan=False)] | None = (
        Field(None, description="how long a blocking enqueue waits for room before it is refused")
    )

    @model_validator(mode="after")
    def _something(self) -> QueuePatchIn:
        if not self.model_fields_set:
            raise PydanticCustomError(
                "jobdeck_queue_patch", "Give concurrency, retry_policy, max_depth, overflow or block_seconds"
            )
        return self


class QueueSettingsOut(Schema):
    name: str
    paused: bool
    concurrency: int | None
    retry_policy: dict[str, Any] | None = Field(
        None, description="the queue's default backoff, retry_on and discard_on (null: none)"
    )
    max_depth: int | None = Field(None, description="most waiting jobs before enqueues are refused (null: no limit)")
    overflow: QueueOverflow = Field(QueueOverflow.REFUSE, description="what an enqueue into a full queue does")
    block_seconds: float = Field(5.0, description="how long a blocking enqueue waits for room")


class QueueOut(QueueSettingsOut):
    counts: dict[str, int]
    total: int
    oldest_waiting_seconds: float | None
    depth: int | None = Field(
        None, description="waiting jobs (scheduled, queued, retrying), counted up to max_depth; null: no limit"
    )
    fill: float | None = Field(None, description="depth / max_depth, 0 to 1; null: no limit")
    refused: int = Field(0, description="new jobs refused so far because the queue was full")

    @classmethod
    def from_stats(cls, entry: selectors.QueueStats) -> QueueOut:
        """One queue of selectors.queue_stats(), as /queues and /stats show it."""
        return cls(
            name=entry.name,
            paused=entry.paused,
            concurrency=entry.concurrency,
            retry_policy=entry.retry_policy,
            counts=entry.counts,
            total=entry.total,
            oldest_waiting_seconds=entry.oldest_waiting_seconds,
            max_depth=entry.max_depth,
            overflow=QueueOverflow(entry.overflow),
            block_seconds=entry.block_seconds,
            depth=entry.depth,
            fill=entry.fill,
            refused=entry.refused,
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


class TaskVersionOut(Schema):
    version: str | None = Field(description="null: the task declares no version")
    workers: list[str] = Field(description="the live workers that have the task at this version")


class TaskOut(Schema):
    name: str
    short_name: str
    registered: bool = Field(
        description="this server's code has the task; false: only live workers have it (a newer deploy), "
        "so its defaults below are null"
    )
    queue: str | None
    priority: int | None
    max_attempts: int | None
    timeout: float | None
    docstring: str
    version: str | None = Field(
        description="the task's version in this server's code (what enqueue records); null: none"
    )
    versions: list[TaskVersionOut] = Field(
        description="the versions live workers have, each with those workers; a job waits for a worker "
        "that has its task at its version"
    )


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
    tasks: list[str] | None = Field(
        None,
        description='the tasks it can run, "module.path" or "module.path@version"; null: a worker '
        "from before versioned tasks, which claims any task",
    )


class RateLimitIn(BaseModel):
    """A rate limit: at most max_starts job starts per period seconds, across all workers."""

    model_config = ConfigDict(extra="forbid")

    max_starts: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = Field(description="starts allowed per period")
    period: Annotated[StrictFloat, Field(gt=0, le=rate_limits.MAX_PERIOD, allow_inf_nan=False)] = Field(
        description="the window in seconds (at most a day)"
    )


class RateLimitOut(Schema):
    scope: RateLimitScope
    name: str = Field(description="the queue, the task's module path, or the concurrency key")
    max_starts: int
    period: float = Field(description="seconds")
    starts: int = Field(description="jobs started in the current window (the last `period` seconds)")
    next_start_at: datetime.datetime | None = Field(
        description="when the window has room for another start; null: it has room now"
    )
