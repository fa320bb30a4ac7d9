"""/schedules: cron schedules, listed, created, changed (including enable/disable), deleted, run now."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params.functions import Path as PathParam

from jobs import schedule_selectors, selectors
from jobs.api.auth import actor
from jobs.api.schemas.common import ACTION_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut
from jobs.api.schemas.jobs import JobAcceptedOut
from jobs.api.schemas.schedules import ScheduleIn, ScheduleOut, SchedulePatchIn, ScheduleRunOut
from jobs.services import schedules

router = Router(tags=["schedules"])
READ = READ_ERRORS
ACT: dict[int, type[ErrorOut]] = {**ACTION_ERRORS, 409: ErrorOut}
WRITE: dict[int, type[ErrorOut]] = {**WRITE_ERRORS, 409: ErrorOut}
ScheduleId = PathParam(..., ge=1, le=2**63 - 1)


@router.get(
    "/schedules", response={200: list[ScheduleOut], **READ}, operation_id="list_schedules", summary="List schedules"
)
def list_schedules(request: HttpRequest) -> Status[Any]:
    """Every schedule, by name: settings-defined (source "code") and database ones."""
    return Status(200, selectors.schedule_list())


@router.post(
    "/schedules", response={201: ScheduleOut, **WRITE}, operation_id="create_schedule", summary="Create a schedule"
)
def create(request: HttpRequest, body: ScheduleIn) -> Status[Any]:
    """Create a database schedule (409 when the name is taken)."""
    fields = body.model_dump()
    fields["task_name"] = fields.pop("task")
    return Status(201, schedules.create_schedule(**fields, actor=actor(request)))


@router.get(
    "/schedules/{int:schedule_id}",
    response={200: ScheduleOut, 404: ErrorOut, **READ},
    operation_id="get_schedule",
    summary="Get a schedule",
)
def detail(request: HttpRequest, schedule_id: int = ScheduleId) -> Status[Any]:
    """One schedule (404 "Schedule not found")."""
    return Status(200, selectors.schedule_detail(schedule_id))


@router.patch(
    "/schedules/{int:schedule_id}",
    response={200: ScheduleOut, 404: ErrorOut, **WRITE},
    operation_id="update_schedule",
    summary="Change a schedule",
)
def update(request: HttpRequest, body: SchedulePatchIn, schedule_id: int = ScheduleId) -> Status[Any]:
    """Change the given fields. Settings-defined schedules answer 409: change them in settings."""
    changes = body.model_dump(exclude_unset=True)
    if "task" in changes:
        changes["task_name"] = changes.pop("task")
    if "queue" in changes and changes["queue"] is None:
        changes["queue"] = ""  # null: back to the task's own queue
    return Status(200, schedules.update_schedule(schedule_id=schedule_id, actor=actor(request), **changes))


@router.delete(
    "/schedules/{int:schedule_id}",
    response={204: None, 404: ErrorOut, **ACT},
    operation_id="delete_schedule",
    summary="Delete a schedule",
)
def delete(request: HttpRequest, schedule_id: int = ScheduleId) -> Status[Any]:
    """Delete a database schedule and its run history; the jobs it enqueued stay."""
    schedules.delete_schedule(schedule_id=schedule_id)
    return Status(204, None)


@router.post(
    "/schedules/{int:schedule_id}/run-now",
    response={202: JobAcceptedOut, 404: ErrorOut, 429: ErrorOut, **ACT},
    operation_id="run_schedule_now",
    summary="Run a schedule now",
)
def run_now(request: HttpRequest, schedule_id: int = ScheduleId) -> Status[Any]:
    """Enqueue the schedule's job now (disabled schedules too); the cron timing is unchanged."""
    job = schedules.run_schedule_now(schedule_id=schedule_id, actor=actor(request))
    return Status(202, JobAcceptedOut(message="Job accepted", job_id=job.pk))


@router.get(
    "/schedules/{int:schedule_id}/runs",
    response={200: list[ScheduleRunOut], 404: ErrorOut, **READ},
    operation_id="list_schedule_runs",
    summary="List a schedule's runs",
)
def runs(request: HttpRequest, schedule_id: int = ScheduleId) -> Status[Any]:
    """The schedule's latest runs (at most 50), newest first, with the job each enqueued."""
    return Status(200, schedule_selectors.schedule_runs(schedule_id=schedule_id, limit=50))
