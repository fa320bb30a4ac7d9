"""The cron schedules' requests and responses."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from jobs.api.schemas.common import MaxAttempts, PriorityIn, QueueName, ScheduleSource, TaskName, TimeoutSeconds
from jobs.models import Schedule


class ScheduleIn(BaseModel):
    """A cron schedule: `cron` has five fields (minute hour day-of-month month day-of-week) or an @alias."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    cron: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    task: TaskName
    args: list[Any] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    queue: QueueName | None = None
    priority: PriorityIn | None = None
    max_attempts: MaxAttempts | None = None
    timeout: TimeoutSeconds | None = None
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
    priority: PriorityIn | None = None
    max_attempts: MaxAttempts | None = None
    timeout: TimeoutSeconds | None = None
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
    def resolve_task(schedule: Schedule) -> str:
        return schedule.task_name

    @staticmethod
    def resolve_queue(schedule: Schedule) -> str | None:
        return schedule.queue or None  # "" is stored for "the task's own queue"


class ScheduleRunOut(Schema):
    id: int
    fire_at: datetime.datetime
    manual: bool
    job_id: int | None
    created_at: datetime.datetime
