"""The schedules' write side: create, update, delete, enable and run a database schedule; and what
workers do with every schedule: fire the due ones exactly once, sync JOBDECK_SCHEDULES, prune old runs."""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.timezone import now as timezone_now

from jobs import cron as cronexpr
from jobs.conf import engine_settings
from jobs.dbguard import write_service
from jobs.exceptions import Conflict, DatabaseUnavailable, InvalidJob, InvalidSchedule, JobdeckError, ScheduleNotFound
from jobs.models import Job, Schedule, ScheduleRun
from jobs.services.enqueue import JobSpec, enqueue_job
from jobs.services.schedule_definitions import FIELDS, Definition, check_fields, validate_schedule

logger = logging.getLogger(__name__)

FIRE_BATCH = 100  # schedules fired per tick at most; the rest are due at the next tick


def _first_fire(definition: Definition, now: datetime.datetime) -> datetime.datetime | None:
    """When an enabled schedule fires first from `now` on (no catch-up of earlier times); None if disabled."""
    if not definition.enabled:
        return None
    return cronexpr.next_fire_time(definition.cron, tz=definition.timezone, after=now)


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
                next_run_at=_first_fire(definition, now),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise Conflict(f"A schedule named '{definition.name}' already exists") from None


def _apply(schedule: Schedule, definition: Definition, now: datetime.datetime) -> list[str]:
    """Set `definition` on `schedule` (not saved); return the changed field names.

    The next fire time is kept while the timing (cron, timezone, enabled) stays the same, so an
    edit of the arguments neither skips nor repeats a fire; otherwise it is computed from now.
    """
    changed = [f for f, value in asdict(definition).items() if getattr(schedule, f) != value]
    for field_name in changed:
        setattr(schedule, field_name, getattr(definition, field_name))
    timing_changed = bool({"cron", "timezone", "enabled"} & set(changed))
    if timing_changed or (definition.enabled and schedule.next_run_at is None):
        next_run_at = _first_fire(definition, now)
        if next_run_at != schedule.next_run_at:
            schedule.next_run_at = next_run_at
            changed.append("next_run_at")
    if changed:
        schedule.updated_at = now
        changed.append("updated_at")
    return changed


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
            changed = _apply(schedule, definition, timezone_now())
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


def _spec(schedule: Schedule) -> JobSpec:
    return JobSpec(
        task_name=schedule.task_name,
        args=schedule.args,
        kwargs=schedule.payload,
        queue=schedule.queue or None,
        priority=schedule.priority,
        max_attempts=schedule.max_attempts,
        timeout=schedule.timeout,
    )


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
            job = enqueue_job(spec=_spec(schedule), actor=actor or f"schedule:{schedule.name}")
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


def fire_due_schedules(*, now: datetime.datetime | None = None) -> int:
    """Fire every enabled schedule whose next fire time has come; return how many jobs were enqueued.

    Safe to run on every worker at once: each fire time enqueues exactly once (see _fire). At
    most FIRE_BATCH schedules per call, the most overdue first.
    """
    now = timezone_now() if now is None else now
    return sum(_fire(schedule, now) for schedule in _due(now))


def _due(now: datetime.datetime) -> QuerySet[Schedule]:
    # Served by the partial index schedule_due_idx (next_run_at WHERE enabled).
    return Schedule.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at", "pk")[:FIRE_BATCH]


def _fire(schedule: Schedule, now: datetime.datetime) -> bool:
    """Fire one due schedule, unless another worker did. Returns whether a job was enqueued.

    1. The fire time is the latest cron time at or before `now`, never before the stored
       next_run_at: after downtime the schedule fires once, for the most recent missed time.
    2. In one transaction, a conditional UPDATE moves next_run_at from the value read to the
       first cron time after `now`. Matching no row means another worker fired this time first
       (or the schedule was disabled or edited): nothing more is done. On PostgreSQL the loser's
       UPDATE waits for the winner's commit, then matches nothing; SQLite serialises writers.
    3. In a savepoint: enqueue the job (from the definition re-read under the row lock) and
       insert the ScheduleRun. UNIQUE(schedule, fire_at) is the second guard: if a run for this
       time already exists (a skewed clock, an edit that restored a fired time), the job is
       rolled back, while the advance from step 2 stays.
    4. A job that no longer validates (its task was removed) is logged and skipped; the fire time
       is still consumed, so a broken schedule does not retry every tick.
    """
    expected = schedule.next_run_at
    assert expected is not None  # the query selected next_run_at <= now
    latest = cronexpr.latest_fire_time(schedule.cron, tz=schedule.timezone, at=now)
    fire_at = latest if latest is not None and latest > expected else expected
    upcoming = cronexpr.next_fire_times(schedule.cron, tz=schedule.timezone, after=now)
    with transaction.atomic():
        claimed = Schedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at=expected).update(
            next_run_at=upcoming[0] if upcoming else None, last_run_at=fire_at
        )
        if not claimed:
            return False
        # The row is now this transaction's (locked on PostgreSQL, the write lock on SQLite): read
        # the definition again so an edit of the arguments committed since the query above counts.
        schedule.refresh_from_db()
        try:
            with transaction.atomic():
                job = enqueue_job(spec=_spec(schedule), actor=f"schedule:{schedule.name}")
                ScheduleRun.objects.create(schedule=schedule, fire_at=fire_at, job=job, created_at=timezone_now())
        except IntegrityError:
            logger.info(
                "schedule %s already ran for %s",
                schedule.name,
                fire_at.isoformat(),
                extra={"schedule_id": schedule.pk, "action": "schedule_duplicate"},
            )
            return False
        except DatabaseUnavailable:
            raise  # not the schedule's fault: roll the advance back too, so the next tick fires it
        except JobdeckError as exc:
            logger.error(
                "schedule %s could not enqueue its job for %s: %s",
                schedule.name,
                fire_at.isoformat(),
                exc.message,
                extra={"schedule_id": schedule.pk, "action": "schedule_failed"},
            )
            return False
    logger.info(
        "schedule %s fired for %s: job %s",
        schedule.name,
        fire_at.isoformat(),
        job.pk,
        extra={"schedule_id": schedule.pk, "job_id": job.pk, "action": "schedule_fired"},
    )
    return True


def _code_definitions() -> list[Definition]:
    """JOBDECK_SCHEDULES validated, all of it, before anything is written."""
    entries = getattr(settings, "JOBDECK_SCHEDULES", [])
    if not isinstance(entries, list | tuple):
        raise InvalidSchedule("JOBDECK_SCHEDULES must be a list of schedule definitions (dicts)")
    definitions: list[Definition] = []
    for index, entry in enumerate(entries):
        label = f"JOBDECK_SCHEDULES[{index}]"
        if not isinstance(entry, dict):
            raise InvalidSchedule(f"{label} must be a dict with name, cron and task_name")
        label = f"{label} ({entry.get('name', 'unnamed')!r})"
        try:
            check_fields(entry, complete=True)
            definition = validate_schedule(**entry)
        except InvalidSchedule as exc:
            raise InvalidSchedule(f"{label}: {exc.message}") from None
        if any(d.name == definition.name for d in definitions):
            raise InvalidSchedule(f"{label}: the name is used twice")
        definitions.append(definition)
    return definitions


def sync_code_schedules() -> None:
    """Make the source=CODE rows match JOBDECK_SCHEDULES: insert new entries, update changed ones
    (keeping next_run_at while cron, timezone and enabled stay the same), delete rows whose entry
    is gone. All or nothing.

    Raises InvalidSchedule naming the bad entry (nothing is written), including an entry whose
    name a database schedule already has.
    """
    definitions = _code_definitions()
    names = [d.name for d in definitions]
    for _ in range(3):
        try:
            with transaction.atomic():
                _sync(definitions, names)
            return
        except IntegrityError:
            continue  # another worker starting at the same moment inserted a row first: read it now
    raise Conflict("JOBDECK_SCHEDULES could not be synced: the schedule rows keep changing; try again")


def _sync(definitions: list[Definition], names: list[str]) -> None:
    now = timezone_now()
    existing = {s.name: s for s in Schedule.objects.select_for_update().filter(name__in=names)}
    created = updated = 0
    for definition in definitions:
        row = existing.get(definition.name)
        if row is None:
            Schedule.objects.create(
                **asdict(definition),
                source=Schedule.Source.CODE,
                next_run_at=_first_fire(definition, now),
                created_at=now,
                updated_at=now,
            )
            created += 1
            continue
        if row.source != Schedule.Source.CODE:
            raise InvalidSchedule(
                f"JOBDECK_SCHEDULES: a database schedule is already named '{definition.name}'; rename one of them"
            )
        changed = _apply(row, definition, now)
        if changed:
            row.save(update_fields=changed)
            updated += 1
    deleted, _ = Schedule.objects.filter(source=Schedule.Source.CODE).exclude(name__in=names).delete()
    if created or updated or deleted:
        logger.info(
            "JOBDECK_SCHEDULES synced: %d created, %d updated, %d removed",
            created,
            updated,
            deleted,
            extra={"action": "schedules_synced"},
        )


def prune_schedule_runs(*, now: datetime.datetime | None = None, batch_size: int = 1000) -> int:
    """Delete run records older than the longest job retention (their jobs are pruned by then);
    each schedule keeps its latest run whatever its age. Returns how many were deleted."""
    engine = engine_settings()
    days = max(engine.retention_days, engine.failed_retention_days)
    cutoff = (now or timezone_now()) - datetime.timedelta(days=days)
    latest = ScheduleRun.objects.filter(schedule=OuterRef("schedule")).order_by("-fire_at", "-id").values("pk")[:1]
    deleted = 0
    while True:
        ids = list(
            ScheduleRun.objects.filter(fire_at__lt=cutoff)
            .exclude(pk=Subquery(latest))
            .order_by("fire_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += ScheduleRun.objects.filter(pk__in=ids).delete()[0]
