"""GET /tasks/{name}: one task's figures (the list, GET /tasks, is in routes_meta)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params.functions import Path as PathParam

from jobs import task_stats
from jobs.api.schemas.common import READ_ERRORS, ErrorOut
from jobs.api.schemas.tasks import TASK_REF_PATTERN, TaskDetailOut

router = Router(tags=["tasks"])
READ: dict[int, type[ErrorOut]] = {**READ_ERRORS, 404: ErrorOut}
TaskRef = PathParam(..., pattern=TASK_REF_PATTERN)


@router.get(
    "/tasks/{name}", response={200: TaskDetailOut, **READ}, operation_id="get_task", summary="Get a task's figures"
)
def task_detail(request: HttpRequest, name: str = TaskRef) -> Status[Any]:
    """Throughput, outcomes, run and wait percentiles, retries, grouped errors, schedules, versions and
    workers of one task (full or short name, "@version" ignored), from its newest jobs. 404 "Task not found"."""
    return Status(200, TaskDetailOut.from_figures(task_stats.task_figures(name)))
