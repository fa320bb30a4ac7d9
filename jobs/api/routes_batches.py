"""/batches: enqueue a batch of jobs with callbacks, list batches, one batch's progress."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.params.functions import Path as PathParam

from jobs import batch_selectors, services, tracing
from jobs.api.auth import actor
from jobs.api.routes_jobs import ENQUEUE, MAX_ID, NEXT_CURSOR, READ, decode_cursor, encode_cursor, to_spec
from jobs.api.schemas.batches import BatchAcceptedOut, BatchIn, BatchListQuery, BatchOut
from jobs.api.schemas.common import ErrorOut

router = Router(tags=["batches"])
BatchId = PathParam(..., ge=1, le=MAX_ID)


@router.post(
    "/batches", response={202: BatchAcceptedOut, **ENQUEUE}, operation_id="enqueue_batch", summary="Enqueue a batch"
)
def enqueue(request: HttpRequest, body: BatchIn) -> Status[Any]:
    """Enqueue up to 10,000 jobs and their callbacks in one transaction: all are stored or none."""
    trace = tracing.capture(request.headers)  # the request's trace context, carried by every job
    new = services.enqueue_batch(
        specs=[to_spec(item, trace) for item in body.jobs],
        on_success=None if body.on_success is None else to_spec(body.on_success, trace),
        on_complete=None if body.on_complete is None else to_spec(body.on_complete, trace),
        on_failure=None if body.on_failure is None else to_spec(body.on_failure, trace),
        description=body.description,
        actor=actor(request),
    )
    batch = new.batch
    return Status(
        202,
        BatchAcceptedOut(
            message="Batch accepted",
            batch_id=batch.pk,
            job_ids=[cast(int, job.pk) for job in new.jobs],
            on_success_id=batch.on_success_id,
            on_complete_id=batch.on_complete_id,
            on_failure_id=batch.on_failure_id,
        ),
    )


@router.get(
    "/batches",
    response={200: list[BatchOut], **READ},
    operation_id="list_batches",
    summary="List batches",
    openapi_extra={"responses": {200: {"headers": NEXT_CURSOR}}},
)
def list_batches(request: HttpRequest, response: HttpResponse, query: Query[BatchListQuery]) -> Status[Any]:
    """Batches newest first, with their progress. The X-Next-Cursor header, when present, fetches the next page."""
    before = decode_cursor(query.cursor) if query.cursor else None
    offset = 0 if before is not None else (query.page - 1) * query.per_page
    batches = batch_selectors.list_batches(before_id=before, offset=offset, limit=query.per_page + 1)
    if len(batches) > query.per_page:
        batches = batches[: query.per_page]
        response["X-Next-Cursor"] = encode_cursor(batches[-1].id)
    return Status(200, batches)


@router.get(
    "/batches/{int:batch_id}",
    response={200: BatchOut, 404: ErrorOut, **READ},
    operation_id="get_batch",
    summary="Get a batch",
)
def batch_detail(request: HttpRequest, batch_id: int = BatchId) -> Status[Any]:
    """One batch: its members' progress and its callbacks' states (404 "Batch not found")."""
    return Status(200, batch_selectors.batch_detail(batch_id))
