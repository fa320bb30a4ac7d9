"""/jobs: enqueue (one, scheduled, bulk), list with keyset paging, details and history, and actions."""

from __future__ import annotations

import base64
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.params.functions import Path as PathParam

from jobs import listing, selectors, services, tracing
from jobs.api.auth import actor
from jobs.api.schemas.common import ACTION_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, JobAction
from jobs.api.schemas.jobs import (
    MAX_ACTION_JOBS,
    ActionOut,
    AttemptOut,
    EventOut,
    JobAcceptedOut,
    JobActionIn,
    JobBulkIn,
    JobExistingOut,
    JobIn,
    JobListItemOut,
    JobListQuery,
    JobOut,
    JobsAcceptedOut,
    JobScheduledOut,
    JobScheduleIn,
    LogOut,
    LogQuery,
)
from jobs.conf import size_limits
from jobs.exceptions import InvalidJob, JobdeckError
from jobs.services.enqueue import conflict_key

router = Router(tags=["jobs"])
MAX_ID = 2**63 - 1
JobId = PathParam(..., ge=1, le=MAX_ID)
READ, ACT, WRITE = READ_ERRORS, ACTION_ERRORS, WRITE_ERRORS
# An enqueue may also meet a full queue (back-pressure): 429 with Retry-After.
ENQUEUE: dict[int, type[ErrorOut]] = {**WRITE, 429: ErrorOut}
CURSOR_KIND = "before"
NEXT_CURSOR = {
    "X-Next-Cursor": {
        "description": "present when more jobs follow: pass it as `cursor` for the next page",
        "schema": {"type": "string"},
    }
}
ACTIONS = {
    JobAction.CANCEL: services.cancel_jobs,
    JobAction.RETRY: services.retry_jobs,
    JobAction.DELETE: services.delete_jobs,
}


def to_spec(body: JobIn, trace_context: dict[str, str] | None = None) -> services.JobSpec:
    """The service's JobSpec for a request; the payload's "task" key names the task when `task` is absent.
    `trace_context`: the request's (tracing.capture), carried to the worker."""
    payload = dict(body.payload)
    task = body.task
    if task is None:
        task = payload.pop("task", None)
        if not isinstance(task, str) or not task:
            raise InvalidJob("Missing 'task': give a 'task' field or a \"task\" key in the payload")
    return services.JobSpec(
        task_name=task,
        args=body.args,
        kwargs=payload,
        queue=body.queue,
        priority=body.priority,
        max_attempts=body.max_attempts,
        backoff=None if body.backoff is None else body.backoff.as_dict(),
        retry_on=body.retry_on,
        discard_on=body.discard_on,
        max_snoozes=body.max_snoozes,
        run_at=body.run_at,
        delay=body.delay,
        idempotency_key=body.idempotency_key,
        unique_for=body.unique_for,
        expires_at=body.expires_at,
        expires_in=body.expires_in,
        concurrency_key=body.concurrency_key,
        concurrency_limit=body.concurrency_limit,
        timeout=body.timeout,
        after=body.after or (),
        after_failure="cancel" if body.after_failure is None else str(body.after_failure),
        trace_context=trace_context,
        on_conflict=None if body.on_conflict is None else str(body.on_conflict),
    )


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_KIND}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor points before. Raises JobdeckError (400) for anything we did not issue."""
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        before = int(value)
    except ValueError:  # also binascii.Error and UnicodeDecodeError
        raise JobdeckError("Invalid cursor") from None
    if kind != CURSOR_KIND or not 1 <= before <= MAX_ID:
        raise JobdeckError("Invalid cursor")
    return before


@router.post(
    "/jobs",
    response={202: JobAcceptedOut, 200: JobExistingOut, **ENQUEUE},
    operation_id="enqueue_job",
    summary="Enqueue a job",
)
def enqueue(request: HttpRequest, body: JobIn) -> Status[Any]:
    """Enqueue one job (202 "Job accepted" with its id; 200 "Existing job returned" when on_conflict
    "drop" found a job with the same concurrency key waiting or running)."""
    spec = to_spec(body, tracing.capture(request.headers))
    job, created = services.enqueue_job_outcome(spec=spec, actor=actor(request))
    if not created and job.idempotency_key == conflict_key(job.concurrency_key or ""):
        return Status(200, JobExistingOut(message="Existing job returned", job_id=job.pk, existing=True))
    return Status(202, JobAcceptedOut(message="Job accepted", job_id=job.pk))


@router.post(
    "/jobs/schedule", response={202: JobScheduledOut, **ENQUEUE}, operation_id="schedule_job", summary="Schedule a job"
)
def schedule(request: HttpRequest, body: JobScheduleIn) -> Status[Any]:
    """Enqueue one job to run at `run_at` (202 "Job scheduled")."""
    job = services.enqueue_job(spec=to_spec(body, tracing.capture(request.headers)), actor=actor(request))
    return Status(202, JobScheduledOut(message="Job scheduled", job_id=job.pk, run_at=job.run_at))


@router.post(
    "/jobs/bulk", response={202: JobsAcceptedOut, **ENQUEUE}, operation_id="enqueue_jobs", summary="Enqueue many jobs"
)
def enqueue_bulk(request: HttpRequest, body: JobBulkIn) -> Status[Any]:
    """Enqueue up to 1,000 jobs in one transaction: all are stored or none (the error names the item)."""
    trace = tracing.capture(request.headers)
    new = services.enqueue_jobs(specs=[to_spec(item, trace) for item in body.jobs], actor=actor(request))
    # enqueue_jobs() returns the records it inserted: create_jobs() has filled in every pk.
    return Status(202, JobsAcceptedOut(message="Jobs accepted", job_ids=[cast(int, job.pk) for job in new]))


@router.post(
    "/jobs/actions",
    response={200: ActionOut, **WRITE},
    operation_id="act_on_jobs",
    summary="Cancel, retry or delete many jobs",
)
def act(request: HttpRequest, body: JobActionIn) -> Status[Any]:
    """Cancel, retry or delete the jobs given by `ids` or matching the filters (at most 1,000 per request).

    Jobs the action does not apply to (e.g. deleting an unfinished job) are skipped and counted.
    """
    ids = body.ids
    if ids is None:
        ids = listing.job_ids(body.for_listing(), limit=MAX_ACTION_JOBS + 1)
        if len(ids) > MAX_ACTION_JOBS:
            raise JobdeckError(f"The filter matches more than {MAX_ACTION_JOBS} jobs; narrow it")
    return Status(200, ActionOut.of(ACTIONS[body.action](ids=ids, actor=actor(request))))


@router.get(
    "/jobs",
    response={200: list[JobListItemOut], **READ},
    operation_id="list_jobs",
    summary="List jobs",
    openapi_extra={"responses": {200: {"headers": NEXT_CURSOR}}},
)
def list_jobs(request: HttpRequest, response: HttpResponse, query: Query[JobListQuery]) -> Status[Any]:
    """Jobs newest first. The X-Next-Cursor header, when present, fetches the next page via `cursor`."""
    before = decode_cursor(query.cursor) if query.cursor else None
    offset = 0 if before is not None else (query.page - 1) * query.per_page
    jobs = listing.list_jobs(
        query.for_listing(),
        before_id=before,
        offset=offset,
        limit=query.per_page + 1,
        embed_max_chars=size_limits().list_field_max_chars,
    )
    if len(jobs) > query.per_page:
        jobs = jobs[: query.per_page]
        response["X-Next-Cursor"] = encode_cursor(jobs[-1].pk)
    return Status(200, jobs)


@router.get(
    "/jobs/{int:job_id}", response={200: JobOut, 404: ErrorOut, **READ}, operation_id="get_job", summary="Get a job"
)
def job_detail(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """One job (404 "Job not found")."""
    return Status(200, selectors.job_detail(job_id))


@router.get(
    "/jobs/{int:job_id}/events",
    response={200: list[EventOut], 404: ErrorOut, **READ},
    operation_id="list_job_events",
    summary="List a job's state changes",
)
def job_events(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """The job's state changes, oldest first."""
    selectors.job_detail(job_id)
    return Status(200, selectors.job_events(job_id))


@router.get(
    "/jobs/{int:job_id}/attempts",
    response={200: list[AttemptOut], 404: ErrorOut, **READ},
    operation_id="list_job_attempts",
    summary="List a job's attempts",
)
def job_attempts(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """The job's ended attempts, in order."""
    selectors.job_detail(job_id)
    return Status(200, selectors.job_attempts(job_id))


@router.get(
    "/jobs/{int:job_id}/logs",
    response={200: list[LogOut], 404: ErrorOut, **READ},
    operation_id="list_job_logs",
    summary="List a job's log lines",
)
def job_logs(request: HttpRequest, query: Query[LogQuery], job_id: int = JobId) -> Status[Any]:
    """Log lines the task wrote, in order; page with after_id (the last id seen)."""
    selectors.job_detail(job_id)
    return Status(200, selectors.job_logs(job_id, attempt=query.attempt, after_id=query.after_id, limit=query.limit))


@router.post(
    "/jobs/{int:job_id}/cancel",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, **ACT},
    operation_id="cancel_job",
    summary="Cancel a job",
)
def cancel(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Cancel a job: a waiting one at once, a running one as soon as its worker sees the request."""
    return Status(202, services.cancel_job(job_id=job_id, actor=actor(request)))


@router.post(
    "/jobs/{int:job_id}/retry",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, **ACT},
    operation_id="retry_job",
    summary="Retry a job",
)
def retry(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Queue a done, failed or cancelled job again for one more attempt."""
    return Status(202, services.retry_job(job_id=job_id, actor=actor(request)))


@router.post(
    "/jobs/{int:job_id}/run-now",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, **ACT},
    operation_id="run_job_now",
    summary="Run a waiting job now",
)
def run_now(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Make a scheduled or retrying job runnable now."""
    return Status(202, services.run_job_now(job_id=job_id, actor=actor(request)))


@router.delete(
    "/jobs/{int:job_id}",
    response={204: None, 404: ErrorOut, 409: ErrorOut, **ACT},
    operation_id="delete_job",
    summary="Delete a finished job",
)
def delete(request: HttpRequest, job_id: int = JobId) -> Status[Any]:
    """Delete a done, failed or cancelled job with its history (409 for a job not finished)."""
    services.delete_job(job_id=job_id, actor=actor(request))
    return Status(204, None)
