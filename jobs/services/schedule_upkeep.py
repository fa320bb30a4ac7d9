"""What workers do with the schedules: fire the due ones (each fire time exactly once), sync
JOBDECK_SCHEDULES into rows at start, and prune old run records."""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.timezone import now as timezone_now

from jobs import cron as cronexpr
from jobs.conf import engine_settings
from jobs.exceptions import Conflict, DatabaseUnavailable, InvalidSchedule, JobdeckError
from jobs.models import Schedule, ScheduleRun
from jobs.services.enqueue import enqueue_job
from jobs.services.schedule_definitions import (
    Definition,
    apply_definition,
    check_fields,
    first_fire,
    job_spec,
    validate_schedule,
)

logger = logging.getLogger(__name__)

FIRE_BATCH = 100  # schedules fired per tick at most; the rest are due at the next tick


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
                job = enqueue_job(spec=job_spec(schedule), actor=f"schedule:{schedule.name}")
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
                next_run_at=first_fire(definition, now),
                created_at=now,
                updated_at=now,
            )
            created += 1
            continue
        if row.source != Schedule.Source.CODE:
            raise InvalidSchedule(
                f"JOBDECK_SCHEDULES: a database schedule is already named '{definition.name}'; rename one of them"
            )
        changed = apply_definition(row, definition, now)
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
