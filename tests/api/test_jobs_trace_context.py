"""POST /jobs keeps the request's W3C trace context with the job; GET /jobs/{id} shows it."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import tracing
from tests.api.conftest import ApiClient

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def _without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """With OpenTelemetry installed and no span open, capture() falls back to the headers all the same;
    pretending it is absent keeps these tests about the headers alone."""
    monkeypatch.setattr(tracing, "_otel", lambda: None)


def test_traceparent_of_the_enqueue_is_carried_to_the_job(api: ApiClient) -> None:
    headers = {"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7"}
    response = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}, headers=headers)

    assert response.status_code == 202
    job = api.get(f"/jobs/{response.json()['job_id']}").json()
    assert job["trace_context"] == {"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7"}


def test_scheduled_and_bulk_jobs_carry_it_too(api: ApiClient) -> None:
    headers = {"traceparent": PARENT}
    scheduled = api.post(
        "/jobs/schedule",
        {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "run_at": "2099-01-01T00:00:00Z"},
        headers=headers,
    )
    bulk = api.post(
        "/jobs/bulk",
        {"jobs": [{"task": "tests.tasks.add", "payload": {"a": n, "b": 1}} for n in range(2)]},
        headers=headers,
    )

    assert scheduled.status_code == 202 and bulk.status_code == 202
    ids = [scheduled.json()["job_id"], *bulk.json()["job_ids"]]
    assert [api.get(f"/jobs/{i}").json()["trace_context"] for i in ids] == [{"traceparent": PARENT}] * 3


def test_batch_and_workflow_jobs_carry_it_too(api: ApiClient) -> None:
    headers = {"traceparent": PARENT}
    job = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}
    batch = api.post("/batches", {"jobs": [job, job], "on_complete": job}, headers=headers)
    workflow = api.post("/workflows", {"chain": [job, {"group": [job, job]}]}, headers=headers)

    assert batch.status_code == 202 and workflow.status_code == 202
    ids = [*batch.json()["job_ids"], batch.json()["on_complete_id"], *workflow.json()["job_ids"]]
    assert [api.get(f"/jobs/{i}").json()["trace_context"] for i in ids] == [{"traceparent": PARENT}] * 6


@pytest.mark.parametrize("traceparent", [None, "not-a-traceparent", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"])
def test_no_or_invalid_traceparent_leaves_none_and_the_job_is_accepted(api: ApiClient, traceparent: Any) -> None:
    headers = {} if traceparent is None else {"traceparent": traceparent}
    response = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}, headers=headers)

    assert response.status_code == 202
    assert api.get(f"/jobs/{response.json()['job_id']}").json()["trace_context"] is None
