"""schedule_upkeep.prune_schedule_runs: old run records go, each schedule's latest run stays."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jobs.models import Schedule, ScheduleRun
from jobs.services import schedule_upkeep, schedules
from tests.schedules.conftest import REPORT

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def runs_at(schedule: Schedule, *ages_in_days: float) -> None:
    now = timezone.now()
    ScheduleRun.objects.bulk_create(
        ScheduleRun(schedule=schedule, fire_at=now - age * DAY, created_at=now) for age in ages_in_days
    )


def test_runs_older_than_the_longest_retention_go_but_the_latest_stays() -> None:
    busy = schedules.create_schedule(name="busy", cron="* * * * *", task_name=REPORT)
    quiet = schedules.create_schedule(name="quiet", cron="0 0 1 1 *", task_name=REPORT)
    runs_at(busy, 1, 29, 31, 40, 100)  # failed jobs are kept 30 days by default: the longest
    runs_at(quiet, 200, 300)

    deleted = schedule_upkeep.prune_schedule_runs(batch_size=2)

    assert deleted == 4
    now = timezone.now()
    kept = {(r.schedule.name, round((now - r.fire_at) / DAY)) for r in ScheduleRun.objects.select_related("schedule")}
    assert kept == {("busy", 1), ("busy", 29), ("quiet", 200)}
    assert schedule_upkeep.prune_schedule_runs() == 0
