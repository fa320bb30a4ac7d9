"""GET /health (no auth), /stats and /tasks."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from jobs import options, registry, selectors
from jobs.api.schemas.common import READ_ERRORS, ErrorOut, HealthStatus
from jobs.api.schemas.system import HealthOut, QueueOut, StatsOut, TaskOut, TaskVersionOut
from jobs.conf import api_settings, engine_settings
from jobs.status import Status as JobStatus

router = Router(tags=["system"])
READ = READ_ERRORS


@router.get(
    "/health",
    auth=None,
    response={200: HealthOut, 503: HealthOut, 400: ErrorOut},
    exclude_none=True,
    operation_id="get_health",
    summary="Check health",
)
def health(request: HttpRequest) -> Status[Any]:
    """Whether jobs are being served: 200 OK, or 503 DEGRADED with the reasons."""
    problems = selectors.health_problems(max_wait=datetime.timedelta(seconds=api_settings().health_max_wait_seconds))
    if problems:
        return Status(503, HealthOut(status=HealthStatus.DEGRADED, reasons=problems))
    return Status(200, HealthOut(status=HealthStatus.OK))


@router.get("/stats", response={200: StatsOut, **READ}, operation_id="get_stats", summary="Get job counts")
def stats(request: HttpRequest) -> Status[Any]:
    """Job counts by state (ServCore's queued, running, done, failed, total, plus the others) and per queue."""
    queues = selectors.queue_stats()
    counts = {state: sum(q.counts.get(state, 0) for q in queues.values()) for state in JobStatus.values}
    return Status(
        200,
        StatsOut(**counts, total=sum(counts.values()), queues={n: QueueOut.from_stats(q) for n, q in queues.items()}),
    )


@router.get(
    "/tasks", response={200: list[TaskOut], **READ}, operation_id="list_tasks", summary="List tasks", tags=["tasks"]
)
def tasks(request: HttpRequest) -> Status[Any]:
    """The registered tasks with their defaults, their version, and which live workers have which
    version; then the tasks only live workers have (a newer deploy's), marked registered: false."""
    default_attempts = engine_settings().default_max_attempts
    on_workers = selectors.task_workers()
    registered = registry.all_tasks()

    def versions(name: str) -> list[TaskVersionOut]:
        return [
            TaskVersionOut(version=version or None, workers=names)
            for version, names in sorted(on_workers.get(name, {}).items())
        ]

    found = [
        TaskOut(
            name=t.name,
            short_name=t.short_name,
            registered=True,
            queue=t.task.queue_name,
            priority=t.task.priority,
            max_attempts=options.task_max_attempts(t.task, default_attempts),
            timeout=getattr(t.task, "timeout", None),
            docstring=t.doc,
            version=t.version or None,
            versions=versions(t.name),
        )
        for t in registered.values()
    ]
    found += [
        TaskOut(
            name=name,
            short_name=name.rsplit(".", 1)[-1],
            registered=False,
            queue=None,
            priority=None,
            max_attempts=None,
            timeout=None,
            docstring="",
            version=None,
            versions=versions(name),
        )
        for name in sorted(set(on_workers) - set(registered))
    ]
    return Status(200, found)
