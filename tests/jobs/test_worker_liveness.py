"""One rule for "is this worker alive" (WorkerProcessQuerySet), and every surface agreeing on it.

Surfaces: the Workers page, the Overview, GET /api/v1/workers, /metrics, /api/v1/health and the
admin. A worker is alive while not stopped and its heartbeat (database clock) is younger than a
lease; a gone worker is shown as gone and its row pruned after JOBDECK_WORKER_RETENTION_SECONDS.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Now
from django.test import Client
from django.urls import reverse

from jobs import services
from jobs.engine.workers import register_worker
from jobs.models import WorkerProcess
from jobs.services import JobSpec
from tests.conftest import wait_until


def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def silent_for(worker: WorkerProcess, seconds: float) -> None:
    """Its last heartbeat `seconds` ago on the database clock, as if it had fallen silent then."""
    WorkerProcess.objects.filter(pk=worker.pk).update(last_heartbeat=Now() - datetime.timedelta(seconds=seconds))


def surfaces(client: Client) -> dict[str, Any]:
    """What each surface says about which workers are alive (names) and how many are gone."""
    api = client.get("/api/v1/workers").json()
    metrics = client.get("/metrics").content.decode()
    workers_page = client.get(reverse("dashboard:workers")).content.decode()
    overview = client.get(reverse("dashboard:overview")).content.decode()
    admin = client.get("/admin/jobs/workerprocess/").context["cl"].result_list
    all_names = {w.name for w in WorkerProcess.objects.all()}

    def page_alive(html: str) -> set[str]:
        rows = re.findall(r'<tr id="worker-(\d+)"( class="gone")?>', html)
        ids = {int(pk) for pk, gone in rows if not gone}
        return set(WorkerProcess.objects.filter(pk__in=ids).values_list("name", flat=True))

    return {
        "api": {w["name"] for w in api if w["is_alive"]},
        "api_gone": len([w for w in api if not w["is_alive"]]),
        "metrics": int(re.search(r"^jobdeck_workers (\d+)$", metrics, re.M).group(1)),
        "metrics_gone": int(re.search(r"^jobdeck_workers_gone (\d+)$", metrics, re.M).group(1)),
        "workers_page": page_alive(workers_page),
        "overview": {name for name in all_names if f"<td>{name}</td>" in overview},
        "admin": {w.name for w in admin if w.is_alive},
        "health": client.get("/api/v1/health").json(),
    }


def assert_agree(client: Client, *, alive: set[str], gone: int) -> None:
    seen = surfaces(client)
    for surface in ("api", "workers_page", "overview", "admin"):
        assert seen[surface] == alive, (surface, seen)
    assert seen["api_gone"] == seen["metrics_gone"] == gone, seen
    assert seen["metrics"] == len(alive), seen
    assert WorkerProcess.objects.alive().count() == len(alive)


@pytest.mark.django_db
def test_every_surface_judges_a_worker_silent_past_the_lease_as_gone(settings: Any) -> None:
    settings.JOBDECK_LEASE_SECONDS = 15
    client = superuser_client()
    fresh = register_worker(name="host-a:1:fresh", queues=("default",), concurrency=1, worker_type="thread")
    # Silent for 30 s: past the lease but within the 60 s the Overview used to allow.
    silent = register_worker(name="host-b:2:silent", queues=("emails",), concurrency=1, worker_type="thread")
    silent_for(silent, 30)
    stopped = register_worker(name="host-c:3:stopped", queues=("emails",), concurrency=1, worker_type="thread")
    WorkerProcess.objects.filter(pk=stopped.pk).update(stopped_at=Now())
    services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="emails"))

    assert_agree(client, alive={fresh.name}, gone=2)
    # /health: the only workers serving "emails" are gone.
    assert surfaces(client)["health"]["reasons"] == ["queue 'emails' has 1 waiting job(s) and no live worker"]
    html = client.get(reverse("dashboard:workers")).content.decode()
    assert "gone: lost" in html and "gone: stopped" in html

    api = {w["name"]: w for w in client.get("/api/v1/workers").json()}
    assert api[stopped.name]["stopped_at"] is not None and api[silent.name]["stopped_at"] is None
    assert [w["name"] for w in client.get("/api/v1/workers?alive=true").json()] == [fresh.name]
    assert {w["name"] for w in client.get("/api/v1/workers?alive=false").json()} == {silent.name, stopped.name}


@pytest.mark.django_db
def test_a_heartbeat_just_inside_the_lease_is_alive_everywhere(settings: Any) -> None:
    settings.JOBDECK_LEASE_SECONDS = 60
    client = superuser_client()
    worker = register_worker(name="host-a:1:w", queues=("default",), concurrency=1, worker_type="thread")
    silent_for(worker, 30)

    assert_agree(client, alive={worker.name}, gone=0)


@pytest.mark.django_db
def test_prune_workers_deletes_only_gone_rows_past_retention(settings: Any) -> None:
    settings.JOBDECK_LEASE_SECONDS = 15
    settings.JOBDECK_WORKER_RETENTION_SECONDS = 3600
    alive = register_worker(name="alive", queues=("default",), concurrency=1, worker_type="thread")
    recent = register_worker(name="gone-recently", queues=("default",), concurrency=1, worker_type="thread")
    silent_for(recent, 60)
    old_lost = register_worker(name="lost-long-ago", queues=("default",), concurrency=1, worker_type="thread")
    silent_for(old_lost, 7200)
    old_stopped = register_worker(name="stopped-long-ago", queues=("default",), concurrency=1, worker_type="thread")
    WorkerProcess.objects.filter(pk=old_stopped.pk).update(
        stopped_at=Now() - datetime.timedelta(hours=2), last_heartbeat=Now() - datetime.timedelta(hours=2)
    )

    assert services.prune_workers() == 2
    assert set(WorkerProcess.objects.values_list("name", flat=True)) == {alive.name, recent.name}


@pytest.mark.workers
def test_kill_9_worker_is_shown_gone_everywhere_then_pruned(start_workers, settings: Any) -> None:  # noqa: ANN001
    settings.JOBDECK_LEASE_SECONDS = 2  # the lease the worker subprocesses use (tests.conftest.worker_env)
    client = superuser_client()
    victim = start_workers("-w", "1")
    name = WorkerProcess.objects.get(pid=victim.pid).name
    assert_agree(client, alive={name}, gone=0)

    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    # It never marks itself stopped: it falls silent, and a lease later every surface says gone.
    wait_until(lambda: not WorkerProcess.objects.alive().filter(name=name).exists(), timeout=30)
    assert WorkerProcess.objects.get(name=name).stopped_at is None
    assert_agree(client, alive=set(), gone=1)
    assert "gone: lost" in client.get(reverse("dashboard:workers")).content.decode()

    # Another worker's periodic prune removes the row once its retention has passed.
    survivor = start_workers("-w", "1", JOBDECK_WORKER_RETENTION_SECONDS="0", JOBDECK_PRUNE_INTERVAL_SECONDS="0.5")
    wait_until(lambda: not WorkerProcess.objects.filter(name=name).exists(), timeout=30)
    assert WorkerProcess.objects.alive().filter(pid=survivor.pid).exists()
