"""/queues (state and settings, pause, resume, concurrency) and /workers."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Path, Router, Status

from jobs import selectors, services
from jobs.api.routes_meta import queue_out
from jobs.api.schemas import QUEUE_PATTERN, ErrorOut, QueueOut, QueuePatchIn, QueueSettingsOut, WorkerOut

router = Router(tags=["queues"])
READ: dict[int, type[ErrorOut]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}
WRITE: dict[int, type[ErrorOut]] = {**READ, 413: ErrorOut}
QueueName = Path(..., pattern=QUEUE_PATTERN)


@router.get("/queues", response={200: list[QueueOut], **READ})
def queues(request: HttpRequest) -> Status:
    """Every queue that has jobs or settings: counts by state, paused, concurrency."""
    return Status(200, [queue_out(entry) for entry in selectors.queue_stats().values()])


@router.post("/queues/{name}/pause", response={200: QueueSettingsOut, **WRITE})
def pause(request: HttpRequest, name: str = QueueName) -> Status:
    """Stop workers claiming from the queue (running jobs finish)."""
    return Status(200, services.pause_queue(name=name))


@router.post("/queues/{name}/resume", response={200: QueueSettingsOut, **WRITE})
def resume(request: HttpRequest, name: str = QueueName) -> Status:
    """Let workers claim from the queue again."""
    return Status(200, services.resume_queue(name=name))


@router.patch("/queues/{name}", response={200: QueueSettingsOut, **WRITE})
def update(request: HttpRequest, body: QueuePatchIn, name: str = QueueName) -> Status:
    """Set the queue's concurrency limit (null: no limit)."""
    return Status(200, services.set_queue_concurrency(name=name, limit=body.concurrency))


@router.get("/workers", response={200: list[WorkerOut], **READ})
def workers(request: HttpRequest, alive: bool | None = None) -> Status:
    """Worker processes, alive ones first; gone ones (stopped, or silent for longer than a lease) until
    pruned. `alive=true` lists only the alive ones, `alive=false` only the gone ones."""
    rows = selectors.worker_list(include_gone=alive is not True)
    if alive is False:
        rows = [w for w in rows if not w.is_alive]  # type: ignore[attr-defined]
    return Status(200, rows)
