"""The schedules' read side beyond jobs.selectors' list and detail: a schedule's runs."""

from __future__ import annotations

from jobs import selectors
from jobs.exceptions import InvalidSchedule
from jobs.models import ScheduleRun

RUNS_LIMIT = 500


def schedule_runs(*, schedule_id: int, limit: int = 50) -> list[ScheduleRun]:
    """The schedule's latest runs, newest fire time first, with their jobs. Raises ScheduleNotFound."""
    if not isinstance(limit, int) or not 1 <= limit <= RUNS_LIMIT:
        raise InvalidSchedule(f"limit must be between 1 and {RUNS_LIMIT}")
    schedule = selectors.schedule_detail(schedule_id)
    return list(ScheduleRun.objects.filter(schedule=schedule).select_related("job")[:limit])
