"""ServCore's manual test script, adapted to a registered task and a token, against a real server and workers."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from jobs import tokens
from tests.api.http import call
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def test_servcore_walkthrough(live_server: Any, start_workers: Callable[..., Any], django_user_model: Any) -> None:
    django_user_model.objects.create_user(username="ops", password="pw")
    api = partial(call, live_server.url + "/api/v1", token=tokens.create_token(username="ops")[1])

    # 1-2. health and stats before anything happens
    assert call(live_server.url + "/api/v1", "GET", "/health") == (200, {"status": "OK"})
    status, stats = api("GET", "/stats")
    assert status == 200 and stats["total"] == 0

    # 3-5. submit two jobs (one with max_attempts 5) and schedule one an hour ahead
    status, first = api("POST", "/jobs", {"payload": {"task": "add", "a": 1, "b": 2}})
    assert status == 202 and first["message"] == "Job accepted"
    status, second = api("POST", "/jobs", {"payload": {"task": "add", "a": 3, "b": 4}, "max_attempts": 5})
    assert status == 202
    run_at = (timezone.now() + datetime.timedelta(hours=1)).replace(microsecond=0)
    run_at_text = run_at.isoformat().replace("+00:00", "Z")
    status, future = api("POST", "/jobs/schedule", {"payload": {"task": "add", "a": 0, "b": 0}, "run_at": run_at_text})
    assert status == 202 and future["message"] == "Job scheduled" and future["run_at"] == run_at_text
    assert api("GET", f"/jobs/{first['job_id']}")[1]["status"] == "queued"

    # 6. workers start; wait for processing
    start_workers("--workers", "2")
    ids = [first["job_id"], second["job_id"]]
    wait_until(lambda: all(api("GET", f"/jobs/{i}")[1]["status"] == "done" for i in ids), timeout=30)

    # 7. list all jobs, newest first
    status, jobs = api("GET", "/jobs")
    assert status == 200
    assert [(j["id"], j["status"]) for j in jobs] == [
        (future["job_id"], "scheduled"),
        (second["job_id"], "done"),
        (first["job_id"], "done"),
    ]

    # 8-9. each job by id, and its history: queued -> running -> done
    one, two = (api("GET", f"/jobs/{i}")[1] for i in ids)
    assert (one["result"], one["max_attempts"], two["result"], two["max_attempts"]) == (3, 3, 7, 5)
    assert one["started_at"] and one["finished_at"]
    for job_id in ids:
        events = api("GET", f"/jobs/{job_id}/events")[1]
        assert [e["new_status"] for e in events] == ["queued", "running", "done"]
        attempts = api("GET", f"/jobs/{job_id}/attempts")[1]
        assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "done")]

    # stats and health at the end: the scheduled job is not waiting yet, a live worker serves the queue
    status, stats = api("GET", "/stats")
    assert (stats["done"], stats["scheduled"], stats["queued"], stats["total"]) == (2, 1, 0, 3)
    assert call(live_server.url + "/api/v1", "GET", "/health") == (200, {"status": "OK"})
    assert api("GET", "/jobs/999999") == (404, {"error": "Job not found"})


def test_attempts_and_logs_of_a_retried_job(
    live_server: Any, start_workers: Callable[..., Any], django_user_model: Any
) -> None:
    django_user_model.objects.create_user(username="ops", password="pw")
    api = partial(call, live_server.url + "/api/v1", token=tokens.create_token(username="ops")[1])
    start_workers("--workers", "1")

    job_id = api("POST", "/jobs", {"task": "tests.tasks.log_then_fail_once", "payload": {}})[1]["job_id"]
    wait_until(lambda: api("GET", f"/jobs/{job_id}")[1]["status"] == "done", timeout=30)

    attempts = api("GET", f"/jobs/{job_id}/attempts")[1]
    assert [(a["number"], a["outcome"], a["error_class"]) for a in attempts] == [
        (1, "failed", "builtins.ValueError"),
        (2, "done", ""),
    ]
    first = api("GET", f"/jobs/{job_id}/logs?attempt=1")[1]
    second = api("GET", f"/jobs/{job_id}/logs?attempt=2")[1]
    assert [line["message"] for line in first][0] == "attempt 1 starts"
    assert [(line["level_name"], line["message"]) for line in second] == [
        ("INFO", "attempt 2 starts"),
        ("WARNING", "attempt 2 recovered"),
    ]
