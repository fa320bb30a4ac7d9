"""/queues, /workers, /health, /stats, /tasks and /metrics."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from jobs import services
from jobs.engine.workers import register_worker
from jobs.models import Queue, WorkerProcess
from tests.api.conftest import ApiClient


def test_queues_list_counts_and_settings(api: ApiClient, make_job: Callable[..., Any]) -> None:
    make_job(queue="a")
    make_job(queue="a", delay=60)
    services.pause_queue(name="idle")

    response = api.get("/queues")

    assert response.status_code == 200
    by_name = {q["name"]: q for q in response.json()}
    assert by_name["a"]["counts"]["queued"] == 1 and by_name["a"]["counts"]["scheduled"] == 1
    assert by_name["a"]["total"] == 2 and by_name["a"]["paused"] is False
    assert by_name["idle"]["paused"] is True and by_name["idle"]["total"] == 0


def test_pause_resume_and_concurrency(api: ApiClient, db: None) -> None:
    paused = api.post("/queues/emails/pause")
    limited = api.patch("/queues/emails", {"concurrency": 3})
    resumed = api.post("/queues/emails/resume")
    unlimited = api.patch("/queues/emails", {"concurrency": None})

    depth = {"max_depth": None, "overflow": "refuse", "block_seconds": 5.0}  # back-pressure: no limit
    assert paused.json() == {"name": "emails", "paused": True, "concurrency": None, "retry_policy": None, **depth}
    assert limited.json() == {"name": "emails", "paused": True, "concurrency": 3, "retry_policy": None, **depth}
    assert resumed.json() == {"name": "emails", "paused": False, "concurrency": 3, "retry_policy": None, **depth}
    assert unlimited.status_code == 200 and Queue.objects.get(name="emails").concurrency is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Give concurrency, retry_policy, max_depth, overflow or block_seconds"),
        ({"concurrency": 0}, "Invalid 'concurrency': Input should be greater than or equal to 1"),
        ({"concurrency": "2"}, "Invalid 'concurrency': Input should be a valid integer"),
    ],
)
def test_patch_queue_refuses_bad_concurrency(api: ApiClient, db: None, body: dict, message: str) -> None:
    response = api.patch("/queues/emails", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_bad_queue_name_gets_400(api: ApiClient, db: None) -> None:
    response = api.post("/queues/has space/pause")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid 'name': String should match pattern '^[A-Za-z0-9_.:-]{1,100}$'"}


@pytest.fixture
def worker(db: None) -> WorkerProcess:
    return register_worker(name="host:1:abc", queues=("default",), concurrency=2, worker_type="thread")


def test_workers_list(api: ApiClient, worker: WorkerProcess) -> None:
    response = api.get("/workers")

    assert response.status_code == 200
    [listed] = response.json()
    assert listed["name"] == "host:1:abc" and listed["queues"] == ["default"] and listed["is_alive"] is True


def test_health_ok_with_nothing_waiting(anonymous_api: ApiClient, db: None) -> None:
    response = anonymous_api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}


def test_health_ok_when_a_live_worker_serves_the_waiting_queue(
    anonymous_api: ApiClient, make_job: Callable[..., Any], worker: WorkerProcess
) -> None:
    make_job()

    assert anonymous_api.get("/health").json() == {"status": "OK"}


def test_health_degraded_when_waiting_jobs_have_no_live_worker(
    anonymous_api: ApiClient, make_job: Callable[..., Any], worker: WorkerProcess
) -> None:
    make_job(queue="emails")
    make_job(queue="paused-on-purpose")
    services.pause_queue(name="paused-on-purpose")
    WorkerProcess.objects.filter(pk=worker.pk).update(last_heartbeat=timezone.now() - datetime.timedelta(minutes=5))
    make_job()  # served by the worker above, but it has gone silent

    response = anonymous_api.get("/health")

    assert response.status_code == 503
    assert response.json() == {
        "status": "DEGRADED",
        "reasons": [
            "queue 'default' has 1 waiting job(s) and no live worker",
            "queue 'emails' has 1 waiting job(s) and no live worker",
        ],
    }


def test_health_degraded_when_the_oldest_waiting_job_is_too_old(
    anonymous_api: ApiClient, make_job: Callable[..., Any], worker: WorkerProcess, settings: Any
) -> None:
    settings.JOBDECK_HEALTH_MAX_WAIT_SECONDS = 0
    make_job()

    response = anonymous_api.get("/health")

    assert response.status_code == 503
    assert response.json()["reasons"][0].startswith("queue 'default': oldest waiting job has waited ")


def test_health_degraded_when_the_database_is_unreachable(
    anonymous_api: ApiClient, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobs.selectors.database_ok", lambda: False)

    response = anonymous_api.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "DEGRADED", "reasons": ["database unreachable"]}


def test_stats_has_servcore_counts_all_states_and_queues(api: ApiClient, make_job: Callable[..., Any]) -> None:
    make_job()
    make_job(queue="b", delay=60)
    services.cancel_job(job_id=make_job().pk)

    response = api.get("/stats")

    assert response.status_code == 200
    body = response.json()
    counts = {
        k: body[k] for k in ("queued", "running", "done", "failed", "total", "scheduled", "retrying", "cancelled")
    }
    assert counts == {
        "queued": 1,
        "running": 0,
        "done": 0,
        "failed": 0,
        "total": 3,
        "scheduled": 1,
        "retrying": 0,
        "cancelled": 1,
    }
    assert body["queues"]["b"]["counts"]["scheduled"] == 1 and body["queues"]["default"]["total"] == 2


def test_tasks_lists_the_registry(api: ApiClient) -> None:
    response = api.get("/tasks")

    by_name = {t["name"]: t for t in response.json()}
    assert by_name["tests.tasks.with_options"] == {
        "name": "tests.tasks.with_options",
        "short_name": "with_options",
        "registered": True,
        "queue": "default",
        "priority": 0,
        "max_attempts": 4,
        "timeout": 30,
        "docstring": "Declares Jobdeck's extra task options (max_attempts, timeout).",
        "version": None,  # unversioned
        "versions": [],  # no live worker lists it
    }


def test_metrics_need_credentials(anonymous_api: ApiClient) -> None:
    response = anonymous_api.client.get("/metrics")

    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required: send 'Authorization: Bearer <token>'"}


def test_metrics_expose_counts_workers_and_histograms(
    api: ApiClient, make_job: Callable[..., Any], worker: WorkerProcess
) -> None:
    make_job(queue="a")

    response = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.secret}"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.content.decode()
    assert 'jobdeck_jobs{queue="a",state="queued"} 1\n' in text
    assert "jobdeck_workers 1\n" in text
    assert 'jobdeck_attempt_run_seconds_bucket{le="+Inf"} 0\n' in text
    assert "# TYPE jobdeck_job_wait_seconds histogram\n" in text
    assert 'jobdeck_queue_oldest_waiting_seconds{queue="a"} ' in text


def test_metrics_outcome_counter_sums_every_process(api: ApiClient) -> None:
    from django.utils import timezone

    from jobs.models import OutcomeCounter

    now = timezone.now()
    OutcomeCounter.objects.bulk_create(
        [
            OutcomeCounter(process="h:1:a/1", queue="default", new_status="done", count=5, updated_at=now),
            OutcomeCounter(process="h:1:a/2", queue="default", new_status="done", count=7, updated_at=now),
            OutcomeCounter(process="h:1:a/2", queue="media", new_status="failed", count=1, updated_at=now),
        ]
    )

    text = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.secret}"}).content.decode()

    assert "# TYPE jobdeck_job_outcomes_total counter\n" in text
    assert 'jobdeck_job_outcomes_total{queue="default",outcome="done"} 12\n' in text
    assert 'jobdeck_job_outcomes_total{queue="media",outcome="failed"} 1\n' in text


def test_metrics_histogram_buckets_are_cumulative() -> None:
    from jobs.api.metrics import _histogram

    lines = _histogram("x", "help", [0.001, 0.2, 0.2, 7.0, 5000.0])

    assert 'x_bucket{le="0.005"} 1' in lines and 'x_bucket{le="0.25"} 3' in lines
    assert 'x_bucket{le="10"} 4' in lines and 'x_bucket{le="3600"} 4' in lines
    assert 'x_bucket{le="+Inf"} 5' in lines and "x_count 5" in lines and "x_sum 5007.401000" in lines
