"""A workflow (the jobs connected to one job by dependencies) as GET /jobs/{id}/workflow shows it."""

from __future__ import annotations

from ninja import Field, Schema

from jobs.api.schemas.common import AfterFailure, JobStatus


class WorkflowJobOut(Schema):
    id: int
    task: str
    status: JobStatus
    queue: str
    pending_parents: int = Field(description="parents whose finish the job still waits for")
    after_failure: AfterFailure


class WorkflowLinkOut(Schema):
    parent: int
    child: int = Field(description="the job that waits for `parent`")


class WorkflowOut(Schema):
    job_id: int = Field(description="the job asked for")
    jobs: list[WorkflowJobOut] = Field(description="in id order (a job's parents come before it)")
    links: list[WorkflowLinkOut]
    counts: dict[JobStatus, int] = Field(description="how many jobs are in each state")
    finished: bool = Field(description="every job is done, failed or cancelled")
    truncated: bool = Field(description="more jobs are connected than `limit`: `jobs` holds the nearest")
    limit: int
