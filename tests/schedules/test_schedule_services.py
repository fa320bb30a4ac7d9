"""jobs.services.schedules: create, update, enable/disable, run now, delete, runs, and their errors."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from jobs import schedule_selectors
from jobs.exceptions import Conflict, InvalidSchedule, ScheduleNotFound
from jobs.models import Job, JobEvent, Schedule, ScheduleRun
from jobs.services import schedules
from jobs.status import Status
from tests.schedules.conftest import REPORT, Clock

UTC = datetime.UTC


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)


# --- create ---------------------------------------------------------------------------------------------


def test_create_stores_a_database_schedule_with_its_first_fire_time(clock: Clock, db: None) -> None:
    schedule = schedules.create_schedule(
        name="weekday-report",
        cron="30 9 * * mon-fri",
        task_name="nightly_report",  # the short name resolves to the full path
        payload={"day": "yesterday"},
        timezone="Europe/Paris",
        actor="alice",
    )

    schedule.refresh_from_db()
    assert schedule.source == Schedule.Source.DATABASE
    assert schedule.cron == "30 9 * * MON-FRI"
    assert schedule.task_name == REPORT
    assert (schedule.args, schedule.payload) == ([], {"day": "yesterday"})
    assert (schedule.queue, schedule.priority, schedule.max_attempts, schedule.timeout) == ("", None, None, None)
    assert schedule.enabled is True
    assert schedule.next_run_at == at(2025, 1, 16, 8, 30)  # 09:30 in Paris (UTC+1), tomorrow
    assert schedule.last_run_at is None
    assert schedule.created_at == schedule.updated_at == clock.now


def test_create_keeps_explicit_job_options(clock: Clock, db: None) -> None:
    schedule = schedules.create_schedule(
        name="urgent",
        cron="@hourly",
        task_name="tests.tasks.add",
        args=(1, 2),
        queue="urgent",
        priority=50,
        max_attempts=5,
        timeout=30,
    )

    schedule.refresh_from_db()
    assert (schedule.args, schedule.queue, schedule.priority, schedule.max_attempts, schedule.timeout) == (
        [1, 2],
        "urgent",
        50,
        5,
        30.0,
    )
    assert schedule.next_run_at == at(2025, 1, 15, 11)


def test_disabled_schedule_is_created_without_a_fire_time(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule(enabled=False)

    assert schedule.enabled is False
    assert schedule.next_run_at is None


BAD_DEFINITIONS: dict[str, tuple[dict[str, Any], str]] = {
    "empty-name": ({"name": "  "}, "The schedule name must be 1-100 characters"),
    "long-name": ({"name": "x" * 101}, "The schedule name must be 1-100 characters"),
    "seconds": (
        {"cron": "0 * * * * *"},
        "Invalid cron expression '0 * * * * *': 6 fields given; seconds are not supported, use 5 "
        "(minute hour day-of-month month day-of-week)",
    ),
    "february-30": (
        {"cron": "0 0 30 2 *"},
        "Invalid cron expression '0 0 30 2 *': it never fires: none of its months has that day",
    ),
    "timezone": (
        {"timezone": "Mars/Base"},
        "Unknown timezone 'Mars/Base': use an IANA name such as UTC or Europe/Paris",
    ),
    "unknown-task": ({"task_name": "tests.tasks.nope"}, "Unknown task 'tests.tasks.nope'"),
    "task-not-string": ({"task_name": 3}, "task_name must be a string"),
    "args-not-list": ({"args": "1, 2"}, "args must be a list"),
    "payload-not-object": ({"payload": [1]}, "payload must be a JSON object"),
    "payload-not-json": ({"payload": {"at": object}}, "payload is not JSON-serialisable: "),
    "queue": ({"queue": "bad queue"}, "queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'"),
    "priority": ({"priority": 101}, "priority must be a whole number between -100 and 100"),
    "max-attempts": ({"max_attempts": 0}, "max_attempts must be a whole number between 1 and 1000"),
    "timeout": ({"timeout": -1}, "timeout must be a positive number of seconds"),
    "enabled": ({"enabled": "yes"}, "enabled must be true or false"),
}


@pytest.mark.parametrize(("fields", "message"), BAD_DEFINITIONS.values(), ids=BAD_DEFINITIONS.keys())
def test_bad_definition_is_refused_and_nothing_is_stored(
    make_schedule: Callable[..., Any], fields: dict[str, Any], message: str
) -> None:
    name = fields.pop("name", "bad")
    with pytest.raises(InvalidSchedule) as caught:
        make_schedule(name=name, **fields)

    assert caught.value.message.startswith(message)
    assert caught.value.status_code == 400
    assert Schedule.objects.count() == 0


def test_a_taken_name_is_a_conflict(make_schedule: Callable[..., Any]) -> None:
    make_schedule(name="nightly")

    with pytest.raises(Conflict) as caught:
        make_schedule(name="nightly", cron="@daily")

    assert caught.value.message == "A schedule named 'nightly' already exists"
    assert caught.value.status_code == 409


# --- update ---------------------------------------------------------------------------------------------


def test_update_of_the_job_options_keeps_the_next_fire_time(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    first = schedule.next_run_at
    clock.advance(seconds=30)

    updated = schedules.update_schedule(schedule_id=schedule.pk, args=[5, 6], priority=3, actor="bob")

    updated.refresh_from_db()
    assert (updated.args, updated.priority) == ([5, 6], 3)
    assert updated.next_run_at == first
    assert updated.updated_at == clock.now


def test_update_of_the_cron_computes_the_next_fire_time_from_now(
    clock: Clock, make_schedule: Callable[..., Any]
) -> None:
    schedule = make_schedule()

    updated = schedules.update_schedule(schedule_id=schedule.pk, cron="0 12 * * *", timezone="Asia/Tokyo")

    updated.refresh_from_db()
    assert updated.cron == "0 12 * * *"
    assert updated.next_run_at == at(2025, 1, 16, 3)  # noon in Tokyo (UTC+9), tomorrow


def test_update_to_disabled_clears_the_next_fire_time(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()

    updated = schedules.update_schedule(schedule_id=schedule.pk, enabled=False)

    assert Schedule.objects.get(pk=updated.pk).next_run_at is None


def test_update_refuses_bad_values_and_unknown_fields(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()

    with pytest.raises(InvalidSchedule, match="^Unknown schedule field\\(s\\): colour, source$"):
        schedules.update_schedule(schedule_id=schedule.pk, colour="red", source="code")
    with pytest.raises(InvalidSchedule, match="bad hour field"):
        schedules.update_schedule(schedule_id=schedule.pk, cron="0 25 * * *")

    assert Schedule.objects.get(pk=schedule.pk).cron == "* * * * *"


def test_update_to_a_taken_name_is_a_conflict(make_schedule: Callable[..., Any]) -> None:
    make_schedule(name="first")
    second = make_schedule(name="second")

    with pytest.raises(Conflict, match="^A schedule named 'first' already exists$"):
        schedules.update_schedule(schedule_id=second.pk, name="first")


def test_unknown_schedule_is_not_found(db: None) -> None:
    for call in (
        lambda: schedules.update_schedule(schedule_id=999, args=[]),
        lambda: schedules.delete_schedule(schedule_id=999),
        lambda: schedules.set_schedule_enabled(schedule_id=999, enabled=True),
        lambda: schedules.run_schedule_now(schedule_id=999),
        lambda: schedule_selectors.schedule_runs(schedule_id=999),
        lambda: schedules.run_schedule_now(schedule_id="abc"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ScheduleNotFound) as caught:
            call()
        assert (caught.value.message, caught.value.status_code) == ("Schedule not found", 404)


# --- enable / disable -----------------------------------------------------------------------------------


def test_disable_clears_next_fire_time_and_enable_starts_from_now(
    clock: Clock, make_schedule: Callable[..., Any]
) -> None:
    schedule = make_schedule(cron="0 * * * *")
    assert schedule.next_run_at == at(2025, 1, 15, 11)

    disabled = schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=False, actor="alice")
    assert (disabled.enabled, disabled.next_run_at) == (False, None)

    clock.advance(hours=5)  # 15:00:20: the 11:00 to 15:00 fires passed while disabled
    enabled = schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=True, actor="alice")

    enabled.refresh_from_db()
    assert (enabled.enabled, enabled.next_run_at) == (True, at(2025, 1, 15, 16))  # no catch-up
    assert ScheduleRun.objects.count() == 0


def test_enabling_an_enabled_schedule_changes_nothing(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    first = schedule.next_run_at
    clock.advance(minutes=3)

    same = schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=True)

    assert same.next_run_at == first
    assert same.updated_at == schedule.updated_at


def test_enabled_must_be_a_boolean(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()

    with pytest.raises(InvalidSchedule, match="^enabled must be true or false$"):
        schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=1)  # type: ignore[arg-type]


# --- run now --------------------------------------------------------------------------------------------


def test_run_now_enqueues_the_job_as_a_manual_run(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule(name="report", task_name=REPORT, args=[], payload={"day": "monday"})
    first = schedule.next_run_at

    job = schedules.run_schedule_now(schedule_id=schedule.pk, actor="alice")

    job.refresh_from_db()
    assert (job.task_name, job.args, job.payload) == (REPORT, [], {"day": "monday"})
    assert (job.queue, job.priority, job.status) == ("reports", 7, Status.QUEUED)  # the task's defaults
    assert JobEvent.objects.get(job=job).actor == "alice"
    run = ScheduleRun.objects.get(schedule=schedule)
    assert (run.manual, run.job_id, run.fire_at) == (True, job.pk, clock.now)
    schedule.refresh_from_db()
    assert schedule.next_run_at == first  # the cron timing is untouched
    assert schedule.last_run_at == clock.now


def test_run_now_works_on_a_disabled_schedule(clock: Clock, make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule(enabled=False)

    job = schedules.run_schedule_now(schedule_id=schedule.pk)

    assert Job.objects.get(pk=job.pk).args == [1, 2]
    assert JobEvent.objects.get(job=job).actor == "schedule:every-minute"
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.next_run_at) == (False, None)


def test_run_now_of_a_schedule_whose_task_is_gone_is_refused(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    Schedule.objects.filter(pk=schedule.pk).update(task_name="tests.tasks.removed")  # the code changed since

    with pytest.raises(InvalidSchedule) as caught:
        schedules.run_schedule_now(schedule_id=schedule.pk)

    assert caught.value.message == "Schedule 'every-minute' cannot run: Unknown task 'tests.tasks.removed'"
    assert (Job.objects.count(), ScheduleRun.objects.count()) == (0, 0)


# --- delete and runs ------------------------------------------------------------------------------------


def test_delete_removes_the_schedule_and_its_runs_but_not_its_jobs(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule()
    job = schedules.run_schedule_now(schedule_id=schedule.pk)

    schedules.delete_schedule(schedule_id=schedule.pk)

    assert Schedule.objects.count() == 0
    assert ScheduleRun.objects.count() == 0
    assert Job.objects.filter(pk=job.pk).exists()


def test_schedule_runs_lists_the_latest_first_with_their_jobs(
    clock: Clock, make_schedule: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    schedule = make_schedule()
    jobs = []
    for _ in range(3):
        clock.advance(seconds=1)
        jobs.append(schedules.run_schedule_now(schedule_id=schedule.pk))

    with django_assert_num_queries(2):  # the schedule, then its runs joined with their jobs
        runs = schedule_selectors.schedule_runs(schedule_id=schedule.pk, limit=2)
        linked = [run.job.pk for run in runs]

    assert linked == [jobs[2].pk, jobs[1].pk]
    with pytest.raises(InvalidSchedule, match="^limit must be between 1 and 500$"):
        schedule_selectors.schedule_runs(schedule_id=schedule.pk, limit=0)


# --- schedules defined in settings ----------------------------------------------------------------------


def test_settings_schedules_cannot_be_changed_through_the_services(make_schedule: Callable[..., Any]) -> None:
    schedule = make_schedule(name="from-settings")
    Schedule.objects.filter(pk=schedule.pk).update(source=Schedule.Source.CODE)
    message = "Schedule 'from-settings' is defined in settings (JOBDECK_SCHEDULES); change it there"

    for call in (
        lambda: schedules.update_schedule(schedule_id=schedule.pk, args=[3, 4]),
        lambda: schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=False),
        lambda: schedules.delete_schedule(schedule_id=schedule.pk),
    ):
        with pytest.raises(Conflict) as caught:
            call()
        assert (caught.value.message, caught.value.status_code) == (message, 409)

    schedules.run_schedule_now(schedule_id=schedule.pk)  # running one now is still allowed
    assert Schedule.objects.get(pk=schedule.pk).args == [1, 2]


@pytest.mark.django_db
def test_create_refuses_unknown_and_missing_fields_and_writes_nothing() -> None:
    with pytest.raises(InvalidSchedule, match="^Unknown schedule field\\(s\\): kwargs$"):
        schedules.create_schedule(name="x", cron="@daily", task_name="jobs.tasks.echo", kwargs={})
    with pytest.raises(InvalidSchedule, match="^Missing schedule field\\(s\\): task_name$"):
        schedules.create_schedule(name="x", cron="@daily")

    assert not Schedule.objects.exists()
