"""What an operator does to a whole workflow (the jobs connected to one job by dependencies):
retry its failed part, or cancel what has not finished."""

from __future__ import annotations

from jobs import states, workflow_graph
from jobs.dbguard import write_service
from jobs.exceptions import JobdeckError
from jobs.services.job_actions import BulkResult, cancel_job
from jobs.states.rearm import cancelled_by_parent
from jobs.status import ACTIVE, Status


@write_service
def retry_workflow(*, job_id: int, actor: str = "") -> BulkResult:
    """Re-arm the failed part of job `job_id`'s workflow: its failed jobs and the jobs their failure
    cancelled wait again, each for its parents' new run (jobs/states/rearm.py), so no dependency
    runs early. Returns how many such jobs there were (matched) and how many were re-armed; a job a
    parent that stays failed or cancelled would cancel again at once is skipped.

    Raises JobNotFound.
    """
    flow = workflow_graph.workflow(job_id)
    candidates = [job.pk for job in flow.jobs if job.status == Status.FAILED or cancelled_by_parent(job)]
    rearmed = set(states.rearm_failed(flow.ids, actor=actor)) if candidates else set()
    errors = {pk: "not re-armed: a parent stays failed or cancelled" for pk in candidates if pk not in rearmed}
    return BulkResult(
        matched=len(candidates),
        changed=len(rearmed),
        skipped=len(candidates) - len(rearmed),
        errors=dict(list(errors.items())[:100]),
    )


@write_service
def cancel_workflow(*, job_id: int, actor: str = "") -> BulkResult:
    """Cancel every job of job `job_id`'s workflow that has not finished, as cancel_job() does one
    (a waiting job at once; a running one gets a cancel request). Parents go first: a parent's
    cancel already cancels the children waiting for it. Returns what was cancelled and skipped.

    Raises JobNotFound.
    """
    flow = workflow_graph.workflow(job_id)
    changed, skipped = 0, 0
    errors: dict[int, str] = {}
    for job in flow.jobs:
        if job.status not in ACTIVE:
            continue
        try:
            cancel_job(job_id=job.pk, actor=actor)
            changed += 1
        except JobdeckError as exc:  # finished meanwhile (or a parent's cancel got there first)
            skipped += 1
            if len(errors) < 100:
                errors[job.pk] = exc.message
    return BulkResult(matched=changed + skipped, changed=changed, skipped=skipped, errors=errors)
