"""/schedules: create, list, get, change (enable/disable), delete, run now, runs; and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from jobs.models import Job, Schedule, ScheduleRun
from jobs.services import schedule_upkeep
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

BODY = {"name": "nightly", "cron": "0 3 * * *", "task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def create(api: ApiClient, **changes: Any) -> dict[str, Any]:
    response = api.post("/schedules", BODY | changes)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_returns_the_schedule_with_its_next_fire_time(api: ApiClient) -> None:
    body = create(api, timezone="Europe/Paris", queue="reports", priority=5)

    schedule = Schedule.objects.get()
    assert body["id"] == schedule.pk
    assert (body["name"], body["cron"], body["task"], body["timezone"]) == (
        "nightly",
        "0 3 * * *",
        "tests.tasks.add",
        "Europe/Paris",
    )
    assert (body["queue"], body["priority"], body["enabled"], body["source"]) == ("reports", 5, True, "database")
    assert body["next_run_at"] is not None and body["last_run_at"] is None
    assert schedule.next_run_at.astimezone().hour in range(24)  # stored as an aware time


def test_list_and_get(api: ApiClient) -> None:
    first = create(api)
    create(api, name="another")

    listed = api.get("/schedules").json()
    assert [s["name"] for s in listed] == ["another", "nightly"]
    assert api.get(f"/schedules/{first['id']}").json() == first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * * * *"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"task": "tests.tasks.nope"}, "tests.tasks.nope"),
        ({"priority": 1000}, "priority"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_definitions_are_400_with_a_message(api: ApiClient, changes: dict[str, Any], message: str) -> None:
    response = api.post("/schedules", BODY | changes)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Schedule.objects.exists()


def test_a_taken_name_is_409(api: ApiClient) -> None:
    create(api)
    response = api.post("/schedules", BODY)
    assert response.status_code == 409
    assert response.json() == {"error": "A schedule named 'nightly' already exists"}


def test_patch_changes_fields_and_enables_or_disables(api: ApiClient) -> None:
    schedule = create(api)

    disabled = api.patch(f"/schedules/{schedule['id']}", {"enabled": False}).json()
    assert (disabled["enabled"], disabled["next_run_at"]) == (False, None)
    enabled = api.patch(f"/schedules/{schedule['id']}", {"enabled": True, "cron": "*/5 * * * *"}).json()
    assert enabled["enabled"] and enabled["cron"] == "*/5 * * * *" and enabled["next_run_at"] is not None
    renamed = api.patch(f"/schedules/{schedule['id']}", {"name": "renamed", "queue": None}).json()
    assert (renamed["name"], renamed["queue"]) == ("renamed", None)


def test_patch_errors(api: ApiClient) -> None:
    schedule = create(api)
    assert api.patch(f"/schedules/{schedule['id']}", {"cron": "nope"}).status_code == 400
    assert api.patch(f"/schedules/{schedule['id']}", {"enabled": "yes"}).status_code == 400
    missing = api.patch("/schedules/999999", {"enabled": False})
    assert (missing.status_code, missing.json()) == (404, {"error": "Schedule not found"})


def test_delete_removes_the_schedule_and_keeps_its_jobs(api: ApiClient) -> None:
    schedule = create(api)
    api.post(f"/schedules/{schedule['id']}/run-now")

    response = api.delete(f"/schedules/{schedule['id']}")

    assert response.status_code == 204
    assert not Schedule.objects.exists() and not ScheduleRun.objects.exists()
    assert Job.objects.count() == 1
    assert api.delete(f"/schedules/{schedule['id']}").status_code == 404


def test_run_now_enqueues_and_is_listed_in_runs(api: ApiClient) -> None:
    schedule = create(api, enabled=False)

    response = api.post(f"/schedules/{schedule['id']}/run-now")

    assert response.status_code == 202
    job = Job.objects.get()
    assert response.json() == {"message": "Job accepted", "job_id": job.pk}
    assert (job.task_name, job.payload) == ("tests.tasks.add", {"a": 1, "b": 2})
    runs = api.get(f"/schedules/{schedule['id']}/runs").json()
    assert [(r["manual"], r["job_id"]) for r in runs] == [(True, job.pk)]
    assert api.get("/schedules/999999/runs").status_code == 404
    assert api.post("/schedules/999999/run-now").status_code == 404


@override_settings(JOBDECK_SCHEDULES=[{"name": "from-settings", "cron": "@hourly", "task_name": "tests.tasks.add"}])
def test_settings_schedules_are_listed_but_not_changed_through_the_api(api: ApiClient) -> None:
    schedule_upkeep.sync_code_schedules()
    schedule = api.get("/schedules").json()[0]
    assert (schedule["name"], schedule["source"]) == ("from-settings", "code")

    for response in (
        api.patch(f"/schedules/{schedule['id']}", {"enabled": False}),
        api.delete(f"/schedules/{schedule['id']}"),
    ):
        assert response.status_code == 409
        assert "defined in settings" in response.json()["error"]
    assert api.post(f"/schedules/{schedule['id']}/run-now").status_code == 202


def test_read_only_token_reads_but_cannot_write(api: ApiClient, read_only_api: ApiClient) -> None:
    schedule = create(api)
    assert read_only_api.get("/schedules").status_code == 200
    assert read_only_api.post("/schedules", BODY | {"name": "x"}).status_code == 403
    assert read_only_api.patch(f"/schedules/{schedule['id']}", {"enabled": False}).status_code == 403
    assert read_only_api.delete(f"/schedules/{schedule['id']}").status_code == 403
    assert read_only_api.post(f"/schedules/{schedule['id']}/run-now").status_code == 403


def test_anonymous_is_401(anonymous_api: ApiClient) -> None:
    assert anonymous_api.get("/schedules").status_code == 401
    assert anonymous_api.post("/schedules", BODY).status_code == 401
