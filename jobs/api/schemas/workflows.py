"""POST /workflows: a nested document of chains and groups of job specs, and the jobs it made; GET
/jobs/{id}/workflow: the jobs connected to one job by dependencies (its workflow graph)."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag, model_validator
from pydantic_core import PydanticCustomError

from jobs.api.schemas.common import AfterFailure, JobStatus
from jobs.api.schemas.jobs import JobIn
from jobs.services.workflows import MAX_WORKFLOW_JOBS

ROOT_FIELDS = 'A workflow is {"chain": [steps...]} or {"group": [steps...]}'


def _kind(value: Any) -> str:
    """Which kind of step a document item is: a chain, a group, or else a job spec."""
    if isinstance(value, dict | ChainIn | GroupIn):
        if "chain" in value if isinstance(value, dict) else isinstance(value, ChainIn):
            return "chain"
        if "group" in value if isinstance(value, dict) else isinstance(value, GroupIn):
            return "group"
    return "job"


# A step: a job spec (the fields of POST /jobs), or a chain or group nested in this one. The kind is
# read from the keys, so a bad step gets the one kind's error, not every kind's.
class StepIn(JobIn):
    """A job step: the fields of POST /jobs, and whether it takes the previous step's result."""

    take_result: StrictBool | None = Field(
        None,
        description="take the previous step's result as the first argument (true) or not (false), "
        "whatever the chain's pass_results says; absent or null: as the chain says",
    )


Step = Annotated[
    Annotated["ChainIn", Tag("chain")] | Annotated["GroupIn", Tag("group")] | Annotated[StepIn, Tag("job")],
    Discriminator(_kind),
]
Steps = Annotated[list[Step], Field(max_length=MAX_WORKFLOW_JOBS)]


class ChainIn(BaseModel):
    """Steps run one after another. pass_results: each step after the first takes the previous
    step's result as its first argument (after a group, the list of its results); absent or null,
    as the chain it is nested in."""

    model_config = ConfigDict(extra="forbid")

    chain: Steps
    pass_results: StrictBool | None = None


class GroupIn(BaseModel):
    """Steps run side by side; the next step of a chain waits for all of them."""

    model_config = ConfigDict(extra="forbid")

    group: Steps


class WorkflowIn(BaseModel):
    """A chain or a group of job specs, nested as needed: `{"chain": [{"task": ...}, {"group": [...]}, ...]}`."""

    model_config = ConfigDict(extra="forbid")

    chain: Steps | None = None
    group: Steps | None = None
    pass_results: StrictBool = Field(False, description="with chain: pass each step's result on to the next")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict) or ("chain" in data) == ("group" in data):
            raise PydanticCustomError("jobdeck_workflow_root", ROOT_FIELDS)
        if "group" in data and "pass_results" in data:
            raise PydanticCustomError("jobdeck_workflow_root", "pass_results belongs to a chain, not a group")
        return data


ChainIn.model_rebuild()
GroupIn.model_rebuild()
WorkflowIn.model_rebuild()


class WorkflowJobOut(Schema):
    job_id: int
    task: str
    path: list[int] = Field(description="the job's place: indexes into the nested chains and groups")


class WorkflowAcceptedOut(Schema):
    message: str
    job_ids: list[int] = Field(description="every job, depth first")
    jobs: list[WorkflowJobOut]
    tree: dict[str, Any] = Field(
        description='the document\'s shape with each job as {"job_id": 12, "task": "app.tasks.fetch"}'
    )


# GET /jobs/{id}/workflow


class WorkflowNodeOut(Schema):
    id: int
    task: str
    status: JobStatus
    queue: str
    pending_parents: int = Field(description="parents whose finish the job still waits for")
    after_failure: AfterFailure


class WorkflowLinkOut(Schema):
    parent: int
    child: int = Field(description="the job that waits for `parent`")


class WorkflowGraphOut(Schema):
    job_id: int = Field(description="the job asked for")
    jobs: list[WorkflowNodeOut] = Field(description="in id order (a job's parents come before it)")
    links: list[WorkflowLinkOut]
    counts: dict[JobStatus, int] = Field(description="how many jobs are in each state")
    finished: bool = Field(description="every job is done, failed or cancelled")
    truncated: bool = Field(description="more jobs are connected than `limit`: `jobs` holds the nearest")
    limit: int
