"""sync_code_schedules: JOBDECK_SCHEDULES mirrored as source=CODE rows, and a bad entry stops runworkers."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from jobs.exceptions import InvalidSchedule
from jobs.models import Schedule, WorkerProcess
from jobs.services import schedule_upkeep
from tests.schedules.conftest import REPORT, Clock

UTC = datetime.UTC
NIGHTLY = {"name": "nightly", "cron": "0 3 * * *", "task_name": "nightly_report", "timezone": "Europe/Paris"}
HOURLY = {"name": "hourly", "cron": "@hourly", "task_name": "tests.tasks.add", "args": [1, 2], "priority": 5}


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)


def sync(*entries: dict[str, Any]) -> None:
    with override_settings(JOBDECK_SCHEDULES=list(entries)):
        schedule_upkeep.sync_code_schedules()


def test_entries_become_settings_schedules(clock: Clock, db: None) -> None:
    sync(NIGHTLY, HOURLY)

    nightly, hourly = Schedule.objects.get(name="nightly"), Schedule.objects.get(name="hourly")
    assert (nightly.source, nightly.cron, nightly.task_name, nightly.timezone) == (
        Schedule.Source.CODE,
        "0 3 * * *",
        REPORT,
        "Europe/Paris",
    )
    assert nightly.next_run_at == at(2025, 1, 16, 2)  # 03:00 in Paris
    assert (hourly.args, hourly.priority, hourly.next_run_at) == ([1, 2], 5, at(2025, 1, 15, 11))


def test_unchanged_timing_keeps_the_next_fire_time(clock: Clock, db: None) -> None:
    sync(HOURLY)
    kept = at(2025, 1, 15, 10)  # due, not yet fired when the worker restarts
    Schedule.objects.filter(name="hourly").update(next_run_at=kept)
    clock.advance(minutes=5)

    sync(HOURLY | {"args": [3, 4]})

    row = Schedule.objects.get(name="hourly")
    assert (row.args, row.next_run_at) == ([3, 4], kept)


def test_changed_timing_computes_the_next_fire_time_from_now(clock: Clock, db: None) -> None:
    sync(HOURLY)
    clock.advance(minutes=5)

    sync(HOURLY | {"cron": "*/10 * * * *"})

    assert Schedule.objects.get(name="hourly").next_run_at == at(2025, 1, 15, 10, 10)
    sync(HOURLY | {"cron": "*/10 * * * *", "enabled": False})
    assert Schedule.objects.get(name="hourly").next_run_at is None


def test_rows_whose_entry_is_gone_are_deleted_and_database_rows_are_kept(
    make_schedule: Callable[..., Any],
) -> None:
    make_schedule(name="mine")
    sync(NIGHTLY, HOURLY)

    sync(HOURLY)

    assert sorted(Schedule.objects.values_list("name", "source")) == [("hourly", "code"), ("mine", "database")]


BAD_SETTINGS: dict[str, tuple[Any, str]] = {
    "not-a-list": ({"name": "x"}, "JOBDECK_SCHEDULES must be a list of schedule definitions (dicts)"),
    "not-a-dict": (["0 3 * * *"], "JOBDECK_SCHEDULES[0] must be a dict with name, cron and task_name"),
    "missing": ([{"name": "x", "cron": "@daily"}], "JOBDECK_SCHEDULES[0] ('x'): Missing schedule field(s): task_name"),
    "unknown-key": (
        [NIGHTLY, HOURLY | {"kwargs": {}}],
        "JOBDECK_SCHEDULES[1] ('hourly'): Unknown schedule field(s): kwargs",
    ),
    "bad-cron": (
        [NIGHTLY | {"cron": "0 3 * *"}],
        "JOBDECK_SCHEDULES[0] ('nightly'): Invalid cron expression '0 3 * *': 4 fields given; "
        "use 5 (minute hour day-of-month month day-of-week)",
    ),
    "bad-task": (
        [NIGHTLY | {"task_name": "gone"}],
        "JOBDECK_SCHEDULES[0] ('nightly'): Unknown task 'gone'",
    ),
    "twice": ([NIGHTLY, NIGHTLY], "JOBDECK_SCHEDULES[1] ('nightly'): the name is used twice"),
}


@pytest.mark.parametrize(("setting", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_bad_entry_is_refused_naming_it_and_nothing_changes(db: None, setting: Any, message: str) -> None:
    sync(HOURLY)

    with override_settings(JOBDECK_SCHEDULES=setting), pytest.raises(InvalidSchedule) as caught:
        schedule_upkeep.sync_code_schedules()

    assert caught.value.message == message
    assert list(Schedule.objects.values_list("name", flat=True)) == ["hourly"]


def test_entry_named_like_a_database_schedule_is_refused(make_schedule: Callable[..., Any]) -> None:
    make_schedule(name="nightly")

    with pytest.raises(InvalidSchedule) as caught:
        sync(NIGHTLY)

    assert caught.value.message == (
        "JOBDECK_SCHEDULES: a database schedule is already named 'nightly'; rename one of them"
    )
    assert Schedule.objects.get().source == Schedule.Source.DATABASE


@pytest.mark.django_db(transaction=True)
@override_settings(JOBDECK_SCHEDULES=[NIGHTLY, HOURLY])  # once for all threads: settings are process-wide
def test_workers_starting_together_sync_without_errors_or_duplicates() -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            schedule_upkeep.sync_code_schedules()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(Schedule.objects.values_list("name", flat=True)) == ["hourly", "nightly"]


def test_runworkers_with_a_bad_entry_stops_with_one_clear_error(db: None) -> None:
    with (
        override_settings(JOBDECK_SCHEDULES=[NIGHTLY | {"cron": "@reboot"}]),
        pytest.raises(CommandError) as caught,
    ):
        call_command("runworkers", "--workers", "1")

    assert str(caught.value) == (
        "JOBDECK_SCHEDULES[0] ('nightly'): Invalid cron expression '@reboot': "
        "@reboot is not supported (schedules fire at times, not at start-up)"
    )
    assert WorkerProcess.objects.count() == 0  # it stopped before starting anything
