"""/workflows: chains and groups of jobs enqueued in one all-or-nothing request."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from jobs import services
from jobs.api.auth import actor
from jobs.api.routes_jobs import ENQUEUE, to_spec
from jobs.api.schemas.workflows import ChainIn, GroupIn, StepIn, WorkflowAcceptedOut, WorkflowIn, WorkflowJobOut

router = Router(tags=["jobs"])


def to_node(step: WorkflowIn | ChainIn | GroupIn | StepIn) -> services.Chain | services.Group | services.Step:
    """The service's workflow node for the document or one of its steps."""
    if isinstance(step, StepIn):
        return services.Step(to_spec(step), take_result=step.take_result)
    if isinstance(step, GroupIn) or (isinstance(step, WorkflowIn) and step.group is not None):
        return services.Group(members=[to_node(s) for s in step.group or []])
    return services.Chain(steps=[to_node(s) for s in step.chain or []], pass_results=step.pass_results)


@router.post(
    "/workflows",
    response={202: WorkflowAcceptedOut, **ENQUEUE},
    operation_id="enqueue_workflow",
    summary="Enqueue a chain or group of jobs",
)
def enqueue_workflow(request: HttpRequest, body: WorkflowIn) -> Status[Any]:
    """Enqueue a chain (steps one after another) or group (side by side) of jobs, nested as needed,
    in one transaction: all are stored or none (the error names the step, `workflow[1][0]`)."""
    if body.chain is not None:
        root: services.Chain | services.Group = services.Chain(
            steps=[to_node(s) for s in body.chain], pass_results=body.pass_results
        )
    else:
        root = services.Group(members=[to_node(s) for s in body.group or []])
    run = services.enqueue_workflow(workflow=root, actor=actor(request))
    jobs = [WorkflowJobOut(job_id=job.job_id, task=job.task, path=list(job.path)) for job in run.jobs]
    return Status(202, WorkflowAcceptedOut(message="Workflow accepted", job_ids=run.job_ids, jobs=jobs, tree=run.tree))
