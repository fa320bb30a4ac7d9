"""The schedule admin: forms validated and saved by the services, read-only settings rows, and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from jobs.models import Job, Schedule, ScheduleRun
from jobs.services import schedules
from tests.schedules.conftest import REPORT, Clock

CHANGELIST = "admin:jobs_schedule_changelist"


def form_data(**overrides: Any) -> dict[str, str]:
    data = {
        "name": "nightly",
        "cron": "0 3 * * mon-fri",
        "timezone": "Europe/Paris",
        "task_name": "nightly_report",
        "args": "[]",
        "payload": '{"day": "yesterday"}',
        "queue": "",
        "priority": "",
        "max_attempts": "",
        "timeout": "",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def settings_row(make_schedule: Callable[..., Any], name: str = "from-settings") -> Schedule:
    schedule = make_schedule(name=name)
    Schedule.objects.filter(pk=schedule.pk).update(source=Schedule.Source.CODE)
    return Schedule.objects.get(pk=schedule.pk)


def action(client: Client, name: str, *schedules_: Schedule) -> list[str]:
    response = client.post(
        reverse(CHANGELIST), {"action": name, "_selected_action": [s.pk for s in schedules_]}, follow=True
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_shows_the_schedules_with_their_timing(admin_client: Client, make_schedule: Callable) -> None:
    make_schedule(name="every-minute")
    settings_row(make_schedule, "nightly-from-settings")

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    page = response.content.decode()
    for text in ("every-minute", "nightly-from-settings", "* * * * *", "tests.tasks.add", "Settings", "Database"):
        assert text in page
    for column in ("Next run at", "Last run at", "Timezone", "Enabled", "Source"):
        assert column in page


def test_add_form_creates_the_schedule_through_the_service(clock: Clock, admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:jobs_schedule_add"), form_data())

    assert response.status_code == 302, response.content.decode()
    schedule = Schedule.objects.get()
    assert (schedule.cron, schedule.task_name, schedule.payload, schedule.source) == (
        "0 3 * * MON-FRI",  # normalized
        REPORT,  # the short name resolved
        {"day": "yesterday"},
        Schedule.Source.DATABASE,
    )
    assert schedule.next_run_at is not None  # computed by create_schedule
    assert response.url == reverse(CHANGELIST)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron": "*/5 * * * * *"}, "6 fields given; seconds are not supported"),
        ({"cron": "0 0 30 2 *"}, "it never fires: none of its months has that day"),
        ({"timezone": "Moon/Base"}, "Unknown timezone &#x27;Moon/Base&#x27;"),
        ({"task_name": "not_a_task"}, "Unknown task &#x27;not_a_task&#x27;"),
        ({"priority": "500"}, "priority must be a whole number between -100 and 100, or high, medium or low"),
        ({"priority": "urgent"}, "priority must be a whole number between -100 and 100, or high, medium or low"),
        ({"args": '{"a": 1}'}, "args must be a list"),
    ],
)
def test_add_form_shows_validation_errors_and_stores_nothing(
    admin_client: Client, overrides: dict[str, str], message: str
) -> None:
    response = admin_client.post(reverse("admin:jobs_schedule_add"), form_data(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Schedule.objects.count() == 0


def test_add_form_takes_a_named_priority(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:jobs_schedule_add"), form_data(priority="high"))

    assert response.status_code == 302, response.content.decode()
    assert Schedule.objects.get().priority == 10


def test_change_form_updates_through_the_service_and_recomputes_the_fire_time(
    clock: Clock, admin_client: Client, make_schedule: Callable
) -> None:
    schedule = make_schedule(name="nightly", cron="0 3 * * *")

    response = admin_client.post(
        reverse("admin:jobs_schedule_change", args=[schedule.pk]),
        form_data(cron="30 12 * * *", timezone="UTC", task_name="tests.tasks.add", args="[4, 5]", payload="{}"),
    )

    assert response.status_code == 302, response.content.decode()
    schedule.refresh_from_db()
    assert (schedule.cron, schedule.args, schedule.timezone) == ("30 12 * * *", [4, 5], "UTC")
    assert schedule.next_run_at.isoformat() == "2025-01-15T12:30:00+00:00"


def test_change_page_lists_the_latest_runs_with_their_jobs(admin_client: Client, make_schedule: Callable) -> None:
    schedule = make_schedule()
    job = schedules.run_schedule_now(schedule_id=schedule.pk)

    page = admin_client.get(reverse("admin:jobs_schedule_change", args=[schedule.pk])).content.decode()

    assert "Latest 20 runs" in page
    assert "run now" in page
    assert f"#{job.pk}" in page


def test_settings_schedule_is_read_only_with_a_note(admin_client: Client, make_schedule: Callable) -> None:
    schedule = settings_row(make_schedule)
    url = reverse("admin:jobs_schedule_change", args=[schedule.pk])

    page = admin_client.get(url).content.decode()
    posted = admin_client.post(url, form_data(name="from-settings", cron="@daily"))
    deleted = admin_client.post(reverse("admin:jobs_schedule_delete", args=[schedule.pk]), {"post": "yes"})

    assert "Settings (JOBDECK_SCHEDULES): read-only here" in page
    assert 'name="_save"' not in page
    assert posted.status_code == 403
    assert deleted.status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).cron == "* * * * *"


def test_delete_removes_a_database_schedule(admin_client: Client, make_schedule: Callable) -> None:
    schedule = make_schedule()
    schedules.run_schedule_now(schedule_id=schedule.pk)

    response = admin_client.post(reverse("admin:jobs_schedule_delete", args=[schedule.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert (Schedule.objects.count(), ScheduleRun.objects.count(), Job.objects.count()) == (0, 0, 1)


def test_run_now_action_enqueues_one_job_per_schedule(admin_client: Client, make_schedule: Callable) -> None:
    first, second = make_schedule(name="a"), make_schedule(name="b", enabled=False)

    assert action(admin_client, "run_now", first, second) == ["2 jobs enqueued"]
    assert ScheduleRun.objects.filter(manual=True).count() == 2
    assert Job.objects.count() == 2


def test_enable_and_disable_actions_report_what_they_did(admin_client: Client, make_schedule: Callable) -> None:
    on, off = make_schedule(name="on"), make_schedule(name="off", enabled=False)
    code = settings_row(make_schedule)

    assert action(admin_client, "disable", on, off) == ["1 schedules disabled, 1 already disabled"]
    assert Schedule.objects.get(pk=on.pk).next_run_at is None
    assert action(admin_client, "enable", on, off, code) == [
        "2 schedules enabled, 1 skipped (Schedule 'from-settings' is defined in settings (JOBDECK_SCHEDULES); "
        "change it there)"
    ]
    assert Schedule.objects.filter(enabled=True, next_run_at__isnull=False).count() == 3
