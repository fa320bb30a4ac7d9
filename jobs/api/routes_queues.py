"""/queues (state and settings, pause, resume, concurrency) and /workers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params.functions import Path as PathParam

from jobs import selectors, services
from jobs.api.schemas.common import ACTION_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut
from jobs.api.schemas.system import QueueOut, QueuePatchIn, QueueSettingsOut, WorkerOut
from jobs.options import QUEUE_PATTERN

router = Router(tags=["queues"])
READ = READ_ERRORS
# A name that is not a queue name (empty, or with a "/") matches no route: 404.
ACT: dict[int, type[ErrorOut]] = {**ACTION_ERRORS, 404: ErrorOut}
WRITE: dict[int, type[ErrorOut]] = {**WRITE_ERRORS, 404: ErrorOut}
QueueName = PathParam(..., pattern=QUEUE_PATTERN)


@router.get("/queues", response={200: list[QueueOut], **READ}, operation_id="list_queues", summary="List queues")
def queues(request: HttpRequest) -> Status[Any]:
    """Every queue that has jobs or settings: counts by state, paused, concurrency, and for a queue with a
    max depth how full it is (depth, fill) and how many enqueues it refused."""
    return Status(200, [QueueOut.from_stats(entry) for entry in selectors.queue_stats().values()])


@router.post(
    "/queues/{name}/pause", response={200: QueueSettingsOut, **ACT}, operation_id="pause_queue", summary="Pause a queue"
)
def pause(request: HttpRequest, name: str = QueueName) -> Status[Any]:
    """Stop workers claiming from the queue (running jobs finish)."""
    return Status(200, services.pause_queue(name=name))


@router.post(
    "/queues/{name}/resume",
    response={200: QueueSettingsOut, **ACT},
    operation_id="resume_queue",
    summary="Resume a queue",
)
def resume(request: HttpRequest, name: str = QueueName) -> Status[Any]:
    """Let workers claim from the queue again."""
    return Status(200, services.resume_queue(name=name))


@router.patch(
    "/queues/{name}",
    response={200: QueueSettingsOut, **WRITE},
    operation_id="update_queue",
    summary="Change a queue's settings",
)
def update(request: HttpRequest, body: QueuePatchIn, name: str = QueueName) -> Status[Any]:
    """Set the queue's concurrency limit (null: no limit), its default retry policy (null: none) and/or
    its max depth of waiting jobs (null: no limit) with what a full queue does (overflow, block_seconds)."""
    queue = None
    depth_fields = {"max_depth", "overflow", "block_seconds"} & body.model_fields_set
    if depth_fields:
        queue = services.set_queue_max_depth(
            name=name,
            max_depth=body.max_depth if "max_depth" in depth_fields else "keep",
            overflow=None if body.overflow is None else body.overflow.value,
            block_seconds=body.block_seconds,
        )
    if "concurrency" in body.model_fields_set:
        queue = services.set_queue_concurrency(name=name, limit=body.concurrency)
    if "retry_policy" in body.model_fields_set:
        policy = body.retry_policy
        parts = {} if policy is None else policy.model_dump(exclude_none=True)
        if policy is not None and policy.backoff is not None:
            parts["backoff"] = policy.backoff.as_dict()
        queue = services.set_queue_retry_policy(name=name, **parts)
    return Status(200, queue)


@router.get(
    "/workers",
    response={200: list[WorkerOut], **READ},
    operation_id="list_workers",
    summary="List workers",
    tags=["workers"],
)
def workers(request: HttpRequest, alive: bool | None = None) -> Status[Any]:
    """Worker processes, alive ones first; gone ones (stopped, or silent for longer than a lease) until
    pruned. `alive=true` lists only the alive ones, `alive=false` only the gone ones."""
    rows = selectors.worker_list(include_gone=alive is not True)
    if alive is False:
        rows = [w for w in rows if not w.is_alive]
    return Status(200, rows)
