"""Worker admin: read-only rows with an "alive" column and filter based on the heartbeat."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import WorkerProcess
from tests.admin.conftest import change, changelist


def worker(name: str, *, heartbeat_age: float, stopped: bool = False) -> WorkerProcess:
    now = timezone.now()
    return WorkerProcess.objects.create(
        name=name,
        host="host-a",
        pid=100,
        queues=["default", "emails"],
        concurrency=4,
        worker_type="process",
        started_at=now - datetime.timedelta(hours=1),
        last_heartbeat=now - datetime.timedelta(seconds=heartbeat_age),
        stopped_at=now if stopped else None,
    )


@pytest.fixture
def workers(settings: object) -> dict[str, WorkerProcess]:
    settings.JOBDECK_LEASE_SECONDS = 15  # type: ignore[attr-defined]
    return {
        "fresh": worker("host-a:1:fresh", heartbeat_age=1),
        "silent": worker("host-a:2:silent", heartbeat_age=60),
        "stopped": worker("host-a:3:stopped", heartbeat_age=1, stopped=True),
    }


def names(client: Client, query: str = "") -> dict[str, bool]:
    response = client.get(changelist("workerprocess") + query)
    assert response.status_code == 200
    return {w.name: w.is_alive for w in response.context["cl"].result_list}


def test_alive_means_running_with_a_heartbeat_fresher_than_a_lease(
    admin_client: Client, workers: dict[str, WorkerProcess]
) -> None:
    assert names(admin_client) == {"host-a:1:fresh": True, "host-a:2:silent": False, "host-a:3:stopped": False}
    assert names(admin_client, "?alive=yes") == {"host-a:1:fresh": True}
    assert set(names(admin_client, "?alive=no")) == {"host-a:2:silent", "host-a:3:stopped"}


def test_worker_list_links_to_its_jobs(admin_client: Client, workers: dict[str, WorkerProcess]) -> None:
    page = admin_client.get(changelist("workerprocess")).content.decode()

    assert "/admin/jobs/job/?worker=host-a%3A1%3Afresh" in page
    assert "default, emails" in page


def test_workers_are_read_only(admin_client: Client, workers: dict[str, WorkerProcess]) -> None:
    fresh = workers["fresh"]

    page = admin_client.get(change("workerprocess", fresh.pk)).content.decode()

    assert 'name="_save"' not in page
    assert admin_client.post(change("workerprocess", fresh.pk), {"pid": "5"}).status_code == 403
    assert admin_client.get("/admin/jobs/workerprocess/add/").status_code == 403
    assert admin_client.post(f"/admin/jobs/workerprocess/{fresh.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_calls_them_worker_processes(admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()
    page = admin_client.get(changelist("workerprocess")).content.decode()

    assert "Worker processes" in index and "processs" not in index
    assert "worker processes" in page.lower() and "processs" not in page
