"""A cron schedule's definition: its checks (create, update, JOBDECK_SCHEDULES and the admin's form
validate the same way before anything is stored), its first fire time, how it is set on a row, and
the job it enqueues."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.utils.timezone import now as timezone_now

from jobs import cron as cronexpr
from jobs.conf import engine_settings
from jobs.exceptions import InvalidJob, InvalidSchedule
from jobs.models import Schedule
from jobs.services.enqueue import JobSpec, build_job

REQUIRED = ("name", "cron", "task_name")
NAME_MAX = 100


@dataclass(frozen=True)
class Definition:
    """A validated schedule definition, as stored (None: the task's default at each fire)."""

    name: str
    cron: str
    task_name: str
    args: list[Any]
    payload: dict[str, Any]
    queue: str  # "" = the task's own queue
    priority: int | None
    max_attempts: int | None
    timeout: float | None
    timezone: str
    enabled: bool


# The definition's fields: the keyword arguments of validate_schedule(), create_schedule() and update_schedule().
FIELDS = tuple(f.name for f in dataclasses.fields(Definition))


def check_fields(fields: dict[str, Any], *, complete: bool) -> None:
    """Refuse unknown fields and, for a whole definition (`complete`), missing required ones."""
    unknown = sorted(set(fields) - set(FIELDS), key=str)
    if unknown:
        raise InvalidSchedule(f"Unknown schedule field(s): {', '.join(map(str, unknown))}")
    missing = [f for f in REQUIRED if f not in fields] if complete else []
    if missing:
        raise InvalidSchedule(f"Missing schedule field(s): {', '.join(missing)}")


def validate_schedule(
    *,
    name: str,
    cron: str,
    task_name: str,
    args: Sequence[Any] = (),
    payload: dict[str, Any] | None = None,
    queue: str | None = None,
    priority: int | str | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
) -> Definition:
    """Check a schedule definition without storing it; return it normalized.

    The cron expression and timezone go through jobs.cron; the task and job options through the
    same validation as an enqueue (services' JobSpec), so a schedule that is accepted can fire.
    Raises InvalidSchedule naming the first problem.
    """
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        raise InvalidSchedule(f"The schedule name must be 1-{NAME_MAX} characters")
    expression = cronexpr.parse(cron)
    tz = cronexpr.validate_timezone(timezone)
    if not isinstance(enabled, bool):
        raise InvalidSchedule("enabled must be true or false")
    if not isinstance(task_name, str):
        raise InvalidSchedule("task_name must be a string")
    if queue == "":
        queue = None
    spec = JobSpec(
        task_name=task_name,
        args=args,
        kwargs={} if payload is None else payload,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        timeout=timeout,
    )
    try:
        job = build_job(spec, timezone_now(), engine_settings().default_max_attempts)
    except InvalidJob as exc:
        raise InvalidSchedule(exc.message) from None
    return Definition(
        name=name.strip(),
        cron=expression,
        task_name=job.task_name,
        args=job.args,
        payload=job.payload,
        queue=queue or "",
        priority=None if priority is None else job.priority,  # a name ("high") is stored as its number
        max_attempts=max_attempts,
        timeout=None if timeout is None else float(timeout),
        timezone=tz,
        enabled=enabled,
    )


def first_fire(definition: Definition, now: datetime.datetime) -> datetime.datetime | None:
    """When an enabled schedule fires first from `now` on (no catch-up of earlier times); None if disabled."""
    if not definition.enabled:
        return None
    return cronexpr.next_fire_time(definition.cron, tz=definition.timezone, after=now)


def apply_definition(schedule: Schedule, definition: Definition, now: datetime.datetime) -> list[str]:
    """Set `definition` on `schedule` (not saved); return the changed field names.

    The next fire time is kept while the timing (cron, timezone, enabled) stays the same, so an
    edit of the arguments neither skips nor repeats a fire; otherwise it is computed from now.
    """
    changed = [f for f, value in asdict(definition).items() if getattr(schedule, f) != value]
    for field_name in changed:
        setattr(schedule, field_name, getattr(definition, field_name))
    timing_changed = bool({"cron", "timezone", "enabled"} & set(changed))
    if timing_changed or (definition.enabled and schedule.next_run_at is None):
        next_run_at = first_fire(definition, now)
        if next_run_at != schedule.next_run_at:
            schedule.next_run_at = next_run_at
            changed.append("next_run_at")
    if changed:
        schedule.updated_at = now
        changed.append("updated_at")
    return changed


def job_spec(schedule: Schedule) -> JobSpec:
    """The job a fire (or a run now) of `schedule` enqueues; None fields take the task's defaults."""
    return JobSpec(
        task_name=schedule.task_name,
        args=schedule.args,
        kwargs=schedule.payload,
        queue=schedule.queue or None,
        priority=schedule.priority,
        max_attempts=schedule.max_attempts,
        timeout=schedule.timeout,
    )
