"""The batches' requests and responses: enqueue a batch with its callbacks, read its progress."""

from __future__ import annotations

import datetime
from typing import Annotated

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from jobs.api.schemas.common import JobStatus
from jobs.api.schemas.jobs import JobIn

MAX_BATCH_JOBS = 10_000  # members per POST /batches (the request body limit applies too)


class BatchIn(BaseModel):
    """A batch: its member jobs and up to three callbacks, each a job like POST /jobs takes."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobIn] = Field(min_length=1, max_length=MAX_BATCH_JOBS, description="the members")
    on_success: JobIn | None = Field(None, description="runs once when every member is done")
    on_complete: JobIn | None = Field(None, description="runs once when every member has finished, however")
    on_failure: JobIn | None = Field(
        None, description="runs once when every member has finished and one failed for good or was cancelled"
    )
    description: Annotated[StrictStr, Field(max_length=200)] = ""


class BatchAcceptedOut(Schema):
    message: str
    batch_id: int
    job_ids: list[int] = Field(description="the members' ids, in the order given")
    on_success_id: int | None
    on_complete_id: int | None
    on_failure_id: int | None


class BatchProgressOut(Schema):
    total: int = Field(description="members, fixed when the batch was enqueued")
    done: int
    failed: int
    cancelled: int
    running: int
    waiting: int = Field(description="scheduled, queued or retrying")


class BatchCallbackOut(Schema):
    job_id: int
    status: JobStatus | None = Field(description="null once the job was pruned")


class BatchOut(Schema):
    id: int
    description: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None = Field(description="the last member's finish, once all have finished")
    progress: BatchProgressOut
    on_success: BatchCallbackOut | None
    on_complete: BatchCallbackOut | None
    on_failure: BatchCallbackOut | None


class BatchListQuery(BaseModel):
    page: int = Field(1, ge=1, le=100_000, description="page number; ignored when cursor is given")
    per_page: int = Field(50, ge=1, le=200, description="more than 200 is refused with 400")
    cursor: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="the X-Next-Cursor header of the previous page: keyset paging, fast at any depth"
    )
