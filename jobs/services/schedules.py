"""The schedules' write side: create, update, delete, enable and run a database schedule (what the
API, the admin and the dashboard call; jobs/services/schedule_upkeep.py is what workers do)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.timezone import now as timezone_now

from jobs import cron as cronexpr
from jobs.dbguard import write_service
from jobs.exceptions import Conflict, InvalidJob, InvalidSchedule, ScheduleNotFound
from jobs.models import Job, Schedule, ScheduleRun
from jobs.services.enqueue import enqueue_job
from jobs.services.schedule_definitions import (
    FIELDS,
    Definition,
    apply_definition,
    check_fields,
    first_fire,
    job_spec,
    validate_schedule,
)

logger = logging.getLogger(__name__)


def _get(schedule_id: int, *, lock: bool = False) -> Schedule:
    rows = Schedule.objects.select_for_update() if lock else Schedule.objects.all()
    try:
        return rows.get(pk=schedule_id)
    except (Schedule.DoesNotExist, ValueError, TypeError):
        raise ScheduleNotFound(schedule_id) from None


def _refuse_code(schedule: Schedule) -> None:
    if schedule.source == Schedule.Source.CODE:
        raise Conflict(f"Schedule '{schedule.name}' is defined in settings (JOBDECK_SCHEDULES); change it there")


@write_service
def create_schedule(*, actor: str = "", **fields: Any) -> Schedule:
    """Store a new database schedule from validate_schedule()'s keyword arguments; an enabled one
    gets its first fire time after now.

    Raises InvalidSchedule for a bad definition, Conflict when the name is taken.
    """
    check_fields(fields, complete=True)
    definition = validate_schedule(**fields)
    schedule = _insert(definition, source=Schedule.Source.DATABASE)
    logger.info(
        "schedule %s created by %s",
        schedule.name,
        actor or "-",
        extra={"schedule_id": schedule.pk, "action": "schedule_created"},
    )
    return schedule


def _insert(definition: Definition, *, source: str) -> Schedule:
    now = timezone_now()
    try:
        with transaction.atomic():
            return Schedule.objects.create(
                **asdict(definition),
                source=source,
                next_run_at=first_fire(definition, now),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise Conflict(f"A schedule named '{definition.name}' already exists") from None


@write_service
def update_schedule(*, schedule_id: int, actor: str = "", **changes: Any) -> Schedule:
    """Change a database schedule's definition (the keywords of create_schedule()).

    A change of cron, timezone or enabled computes the next fire time from now; other changes
    keep it. Raises ScheduleNotFound, InvalidSchedule (bad value or unknown field), or Conflict
    for a schedule defined in settings or a name already taken.
    """
    check_fields(changes, complete=False)
    try:
        with transaction.atomic():
            # Locked: a fire advancing next_run_at meanwhile must not be overwritten with the old value.
            schedule = _get(schedule_id, lock=True)
            _refuse_code(schedule)
            current = {f: getattr(schedule, f) for f in FIELDS}
            definition = validate_schedule(**(current | changes))
            changed = apply_definition(schedule, definition, timezone_now())
            if changed:
                schedule.save(update_fields=changed)
    except IntegrityError:
        raise Conflict(f"A schedule named '{changes.get('name')}' already exists") from None
    logger.info(
        "schedule %s updated by %s: %s",
        schedule.name,
        actor or "-",
        ", ".join(changed) or "no change",
        extra={"schedule_id": schedule.pk, "action": "schedule_updated"},
    )
    return schedule


@write_service
def delete_schedule(*, schedule_id: int) -> None:
    """Delete a database schedule and its run history (the jobs it enqueued stay).

    Raises ScheduleNotFound, or Conflict for a schedule defined in settings.
    """
    with transaction.atomic():
        schedule = _get(schedule_id, lock=True)
        _refuse_code(schedule)
        schedule.delete()
    logger.info("schedule %s deleted", schedule.name, extra={"schedule_id": schedule_id, "action": "schedule_deleted"})


@write_service
def set_schedule_enabled(*, schedule_id: int, enabled: bool, actor: str = "") -> Schedule:
    """Enable or disable a database schedule. Disabling clears the next fire time; enabling computes
    it from now, so fire times missed while disabled are not caught up. Setting the current value
    changes nothing.

    Raises ScheduleNotFound, InvalidSchedule for a non-boolean, or Conflict for a settings schedule.
    """
    if not isinstance(enabled, bool):
        raise InvalidSchedule("enabled must be true or false")
    with transaction.atomic():
        schedule = _get(schedule_id, lock=True)
        _refuse_code(schedule)
        if schedule.enabled == enabled:
            return schedule
        now = timezone_now()
        schedule.enabled = enabled
        schedule.next_run_at = None
        if enabled:  # from now: fire times missed while disabled are not caught up
            schedule.next_run_at = cronexpr.next_fire_time(schedule.cron, tz=schedule.timezone, after=now)
        schedule.updated_at = now
        schedule.save(update_fields=["enabled", "next_run_at", "updated_at"])
    logger.info(
        "schedule %s %s by %s",
        schedule.name,
        "enabled" if enabled else "disabled",
        actor or "-",
        extra={"schedule_id": schedule.pk, "action": "schedule_enabled" if enabled else "schedule_disabled"},
    )
    return schedule


@write_service
def run_schedule_now(*, schedule_id: int, actor: str = "") -> Job:
    """Enqueue the schedule's job now, recorded as a manual run; disabled schedules too.

    The cron timing is untouched (next_run_at stays); last_run_at becomes now. Returns the job.
    Raises ScheduleNotFound, InvalidSchedule when its task or options no longer validate (the
    task was removed from the code), or Conflict in the unlikely case that a run with this exact
    timestamp exists.
    """
    schedule = _get(schedule_id)
    now = timezone_now()
    try:
        with transaction.atomic():
            job = enqueue_job(spec=job_spec(schedule), actor=actor or f"schedule:{schedule.name}")
            ScheduleRun.objects.create(schedule=schedule, fire_at=now, manual=True, job=job, created_at=now)
            Schedule.objects.filter(pk=schedule.pk).update(last_run_at=now)
    except InvalidJob as exc:
        raise InvalidSchedule(f"Schedule '{schedule.name}' cannot run: {exc.message}") from None
    except IntegrityError:
        raise Conflict(f"Schedule '{schedule.name}' already has a run at {now.isoformat()}; try again") from None
    logger.info(
        "schedule %s run now by %s: job %s",
        schedule.name,
        actor or "-",
        job.pk,
        extra={"schedule_id": schedule.pk, "job_id": job.pk, "action": "schedule_run_now"},
    )
    return job
