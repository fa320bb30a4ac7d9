"""fire_due_schedules: one job per fire time, the misfire policy, and exactly once under concurrent callers."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from jobs.exceptions import DatabaseUnavailable
from jobs.models import Job, JobEvent, Schedule, ScheduleRun
from jobs.services import schedule_upkeep, schedules
from jobs.status import Status
from tests.schedules.conftest import REPORT, Clock

UTC = datetime.UTC
MINUTE = datetime.timedelta(minutes=1)


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)


def test_nothing_fires_before_the_fire_time(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()

    assert schedule_upkeep.fire_due_schedules(now=schedule.next_run_at - datetime.timedelta(seconds=1)) == 0
    assert Job.objects.count() == 0


def test_due_schedule_enqueues_one_job_and_moves_to_its_next_fire_time(
    clock: Clock, make_schedule: Callable[..., Any]
) -> None:
    schedule = make_schedule(name="report", task_name=REPORT, args=[], payload={"day": "monday"}, priority=9)
    fire_at = schedule.next_run_at
    assert fire_at == at(2025, 1, 15, 10, 1)

    assert schedule_upkeep.fire_due_schedules(now=fire_at + datetime.timedelta(seconds=0.4)) == 1

    run = ScheduleRun.objects.get()
    job = Job.objects.get()
    assert (run.schedule_id, run.fire_at, run.manual, run.job_id) == (schedule.pk, fire_at, False, job.pk)
    assert (job.task_name, job.payload, job.queue, job.priority, job.status) == (
        REPORT,
        {"day": "monday"},
        "reports",  # the task's queue: the schedule left it empty
        9,
        Status.QUEUED,
    )
    assert JobEvent.objects.get(job=job).actor == "schedule:report"
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.next_run_at) == (fire_at, fire_at + MINUTE)


def test_a_fire_time_fires_once_however_often_it_is_checked(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    now = schedule.next_run_at + datetime.timedelta(seconds=1)

    fired = [schedule_upkeep.fire_due_schedules(now=now) for _ in range(5)]

    assert fired == [1, 0, 0, 0, 0]
    assert (ScheduleRun.objects.count(), Job.objects.count()) == (1, 1)


def test_each_minute_fires_once(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    first = schedule.next_run_at

    for minute in range(3):
        for second in (0, 20, 40):
            schedule_upkeep.fire_due_schedules(now=first + minute * MINUTE + datetime.timedelta(seconds=second))

    assert list(ScheduleRun.objects.order_by("fire_at").values_list("fire_at", flat=True)) == [
        first,
        first + MINUTE,
        first + 2 * MINUTE,
    ]
    assert Job.objects.count() == 3


def test_after_downtime_only_the_most_recent_missed_time_fires(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    first = schedule.next_run_at
    back_at = first + 10 * MINUTE + datetime.timedelta(seconds=30)  # 10 fire times were missed

    assert schedule_upkeep.fire_due_schedules(now=back_at) == 1

    run = ScheduleRun.objects.get()
    assert run.fire_at == first + 10 * MINUTE
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.next_run_at) == (first + 10 * MINUTE, first + 11 * MINUTE)
    assert schedule_upkeep.fire_due_schedules(now=back_at) == 0  # and nothing more until the next future time


def test_misfire_in_a_timezone_fires_the_latest_local_time(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule(cron="0 9 * * *", timezone="Europe/Paris")
    assert schedule.next_run_at == at(2025, 1, 16, 8)  # 09:00 Paris

    assert schedule_upkeep.fire_due_schedules(now=at(2025, 1, 19, 12)) == 1  # down for three days

    assert ScheduleRun.objects.get().fire_at == at(2025, 1, 19, 8)
    assert Schedule.objects.get().next_run_at == at(2025, 1, 20, 8)


def test_schedule_fires_at_the_local_time_across_spring_forward(
    clock: Clock, make_schedule: Callable[..., Any]
) -> None:
    clock.now = at(2025, 3, 29, 12)
    schedule = make_schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    assert schedule.next_run_at == at(2025, 3, 30, 1)  # 02:30 does not exist that night: 03:00 CEST

    schedule_upkeep.fire_due_schedules(now=at(2025, 3, 30, 1, 0, 1))
    schedule_upkeep.fire_due_schedules(now=at(2025, 3, 31, 0, 30, 1))

    assert list(ScheduleRun.objects.order_by("fire_at").values_list("fire_at", flat=True)) == [
        at(2025, 3, 30, 1),
        at(2025, 3, 31, 0, 30),  # 02:30 CEST
    ]


def test_disabled_schedule_never_fires(make_schedule: Callable[..., Any]) -> None:
    enabled = make_schedule(name="on")
    make_schedule(name="off", enabled=False)

    assert schedule_upkeep.fire_due_schedules(now=enabled.next_run_at + 60 * MINUTE) == 1

    assert list(ScheduleRun.objects.values_list("schedule__name", flat=True)) == ["on"]


def test_schedule_disabled_after_being_read_does_not_fire(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    stale = Schedule.objects.get(pk=schedule.pk)
    schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=False)

    assert schedule_upkeep._fire(stale, schedule.next_run_at + MINUTE) is False
    assert Job.objects.count() == 0


def test_worker_with_a_stale_read_does_not_fire_again(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    stale = Schedule.objects.get(pk=schedule.pk)  # read before the other worker fired
    assert schedule_upkeep.fire_due_schedules(now=schedule.next_run_at) == 1

    # Even a minute later, with a different fire time in mind, the conditional UPDATE refuses.
    assert schedule_upkeep._fire(stale, schedule.next_run_at + MINUTE) is False

    assert (ScheduleRun.objects.count(), Job.objects.count()) == (1, 1)


def test_fire_uses_the_definition_as_it_stands_when_claimed(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    read_before_edit = Schedule.objects.get(pk=schedule.pk)
    schedules.update_schedule(schedule_id=schedule.pk, args=[40, 2])

    assert schedule_upkeep._fire(read_before_edit, schedule.next_run_at) is True

    assert Job.objects.get().args == [40, 2]


def test_existing_run_for_the_fire_time_means_no_second_job(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    fire_at = schedule.next_run_at
    # A run for this time already exists (e.g. a host whose clock ran ahead fired it before an edit
    # put next_run_at back on it): the unique constraint is the second guard.
    ScheduleRun.objects.create(schedule=schedule, fire_at=fire_at, created_at=fire_at)

    assert schedule_upkeep.fire_due_schedules(now=fire_at) == 0

    assert Job.objects.count() == 0
    assert ScheduleRun.objects.count() == 1
    assert Schedule.objects.get().next_run_at == fire_at + MINUTE  # the fire time is consumed


def test_schedule_whose_task_is_gone_is_logged_and_skipped_while_others_fire(
    make_schedule: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    broken = make_schedule(name="broken")
    make_schedule(name="fine")
    Schedule.objects.filter(pk=broken.pk).update(task_name="tests.tasks.removed")
    fire_at = broken.next_run_at

    with caplog.at_level(logging.ERROR, logger="jobs.services.schedule_upkeep"):
        assert schedule_upkeep.fire_due_schedules(now=fire_at) == 1

    assert list(ScheduleRun.objects.values_list("schedule__name", flat=True)) == ["fine"]
    assert Schedule.objects.get(pk=broken.pk).next_run_at == fire_at + MINUTE  # no retry every tick
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"schedule broken could not enqueue its job for {fire_at.isoformat()}: Unknown task 'tests.tasks.removed'"
    ]


def test_due_query_uses_the_partial_index(make_schedule: Callable[..., Any]) -> None:
    for index in range(50):
        make_schedule(name=f"s{index}", enabled=index % 2 == 0)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table this small is cheapest to scan; forbid that to see the index a large one uses.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = schedule_upkeep._due(at(2030, 1, 1)).explain()

    assert "schedule_due_idx" in plan, plan


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_fire_each_time_exactly_once() -> None:
    names = [f"s{i}" for i in range(5)]
    created = [
        schedules.create_schedule(name=name, cron="* * * * *", task_name="tests.tasks.add", args=[1, 2])
        for name in names
    ]
    first = max(s.next_run_at for s in created)
    callers = 6
    fired: list[int] = []
    errors: list[BaseException] = []

    for minute in range(3):  # three fire times, each raced by every caller
        now = first + minute * MINUTE + datetime.timedelta(seconds=1)
        barrier = threading.Barrier(callers)

        def fire(now: datetime.datetime = now, barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(timeout=10)
                fired.append(schedule_upkeep.fire_due_schedules(now=now))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=fire) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert sum(fired) == 15  # 5 schedules x 3 fire times, however the callers interleaved
    assert Job.objects.count() == 15
    assert ScheduleRun.objects.count() == 15
    assert sorted(set(ScheduleRun.objects.values_list("job_id", flat=True))) == sorted(
        Job.objects.values_list("pk", flat=True)
    )
    for name in names:
        fire_times = list(ScheduleRun.objects.filter(schedule__name=name).values_list("fire_at", flat=True))
        assert len(fire_times) == len(set(fire_times)) == 3


def test_a_refused_write_rolls_the_fire_back_so_the_next_tick_fires_it(
    make_schedule: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unlike a job that no longer validates, a database refusing the enqueue (disk full) is not the
    # schedule's fault: the fire time must not be consumed.
    schedule = make_schedule()
    fire_at = schedule.next_run_at
    now = fire_at + datetime.timedelta(seconds=1)

    def refuse(**kwargs: Any) -> Any:
        raise DatabaseUnavailable("disk full")

    monkeypatch.setattr(schedule_upkeep, "enqueue_job", refuse)
    with pytest.raises(DatabaseUnavailable):
        schedule_upkeep.fire_due_schedules(now=now)
    schedule.refresh_from_db()
    assert schedule.next_run_at == fire_at and not ScheduleRun.objects.exists()

    monkeypatch.undo()
    assert schedule_upkeep.fire_due_schedules(now=now) == 1
