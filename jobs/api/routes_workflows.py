"""Workflows: /workflows enqueues chains and groups of jobs in one all-or-nothing request;
/jobs/{id}/workflow reads the jobs connected to one job by dependencies and acts on all of them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params.functions import Path as PathParam

from jobs import services, tracing, workflow_graph
from jobs.api.auth import actor
from jobs.api.routes_jobs import ENQUEUE, to_spec
from jobs.api.schemas.common import ACTION_ERRORS, READ_ERRORS, ErrorOut
from jobs.api.schemas.jobs import ActionOut
from jobs.api.schemas.workflows import (
    ChainIn,
    GroupIn,
    StepIn,
    WorkflowAcceptedOut,
    WorkflowGraphOut,
    WorkflowIn,
    WorkflowJobOut,
)

router = Router(tags=["jobs"])
JobId = PathParam(..., ge=1, le=2**63 - 1)


def to_node(
    step: WorkflowIn | ChainIn | GroupIn | StepIn, trace: dict[str, str] | None = None
) -> services.Chain | services.Group | services.Step:
    """The service's workflow node for the document or one of its steps; `trace`: the request's
    trace context (tracing.capture), carried by every job."""
    if isinstance(step, StepIn):
        return services.Step(to_spec(step, trace), take_result=step.take_result)
    if isinstance(step, GroupIn) or (isinstance(step, WorkflowIn) and step.group is not None):
        return services.Group(members=[to_node(s, trace) for s in step.group or []])
    return services.Chain(steps=[to_node(s, trace) for s in step.chain or []], pass_results=step.pass_results)


@router.post(
    "/workflows",
    response={202: WorkflowAcceptedOut, **ENQUEUE},
    operation_id="enqueue_workflow",
    summary="Enqueue a chain or group of jobs",
)
def enqueue_workflow(request: HttpRequest, body: WorkflowIn) -> Status[Any]:
    """Enqueue a chain (steps one after another) or group (side by side) of jobs, nested as needed,
    in one transaction: all are stored or none (the error names the step, `workflow[1][0]`)."""
    root = to_node(body, tracing.capture(request.headers))
    run = services.enqueue_workflow(workflow=root, actor=actor(request))
    jobs = [WorkflowJobOut(job_id=job.job_id, task=job.task, path=list(job.path)) for job in run.jobs]
    return Status(202, WorkflowAcceptedOut(message="Workflow accepted", job_ids=run.job_ids, jobs=jobs, tree=run.tree))


@router.get(
    "/jobs/{int:job_id}/workflow",
    response={200: WorkflowGraphOut, 404: ErrorOut, **READ_ERRORS},
    operation_id="get_job_workflow",
    summary="Get a job's workflow",
)
def get_workflow(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """The jobs connected to this one by dependencies (at most 2,000, the nearest first), their links
    and the count per state."""
    flow = workflow_graph.workflow(job_id)
    jobs = [
        {"id": j.pk, "task": j.task_name, "status": j.status, "queue": j.queue}
        | {"pending_parents": j.pending_parents, "after_failure": j.after_failure}
        for j in flow.jobs
    ]
    links = [{"parent": parent, "child": child} for parent, child in flow.links]
    body = {"job_id": flow.job_id, "jobs": jobs, "links": links, "counts": flow.counts}
    return Status(200, body | {"finished": flow.finished, "truncated": flow.truncated, "limit": flow.limit})


@router.post(
    "/jobs/{int:job_id}/workflow/retry",
    response={200: ActionOut, 404: ErrorOut, **ACTION_ERRORS},
    operation_id="retry_job_workflow",
    summary="Retry a workflow's failed part",
)
def retry_workflow(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Queue the workflow's failed jobs again; the jobs their failure cancelled wait again for them."""
    return Status(200, ActionOut.of(services.retry_workflow(job_id=job_id, actor=actor(request))))


@router.post(
    "/jobs/{int:job_id}/workflow/cancel",
    response={200: ActionOut, 404: ErrorOut, **ACTION_ERRORS},
    operation_id="cancel_job_workflow",
    summary="Cancel the rest of a workflow",
)
def cancel_workflow(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Cancel every unfinished job of the workflow (a running one is asked to stop)."""
    return Status(200, ActionOut.of(services.cancel_workflow(job_id=job_id, actor=actor(request))))
