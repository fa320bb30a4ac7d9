"""Fixtures for the schedule tests: a task with its own defaults, and a settable clock for the services."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.tasks import task

from jobs import registry
from jobs.services import schedule_upkeep, schedules


@task(queue_name="reports", priority=7)
def nightly_report(day: str = "today") -> str:
    return f"report for {day}"


@pytest.fixture(autouse=True)
def _register_nightly_report() -> None:
    registry.register(nightly_report)


REPORT = "tests.schedules.conftest.nightly_report"


class Clock:
    """What jobs.services.schedules sees as "now" (fire_due_schedules also takes `now` directly)."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> datetime.datetime:
        self.now += datetime.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pin the services' clock to 2025-01-15 10:00:20 UTC (a Wednesday); tests move it forward."""
    fixed = Clock(datetime.datetime(2025, 1, 15, 10, 0, 20, tzinfo=datetime.UTC))
    monkeypatch.setattr(schedules, "timezone_now", fixed)
    monkeypatch.setattr(schedule_upkeep, "timezone_now", fixed)
    return fixed


@pytest.fixture
def make_schedule(db: None) -> Callable[..., Any]:
    """Create a database schedule through the service, every minute by default."""

    def make(name: str = "every-minute", **fields: Any) -> Any:
        fields.setdefault("cron", "* * * * *")
        fields.setdefault("task_name", "tests.tasks.add")
        fields.setdefault("args", [1, 2])
        return schedules.create_schedule(name=name, **fields)

    return make
