"""Observability with real workers: JSON log lines carrying the job's context, and the enqueue's
trace context handed to the task (jobs.context), to the jobs it enqueues, and with OpenTelemetry
installed to the span it runs in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobs import services, tracing
from jobs.models import Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def done(job_id: int) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.status == Status.DONE else None


@pytest.mark.workers
@pytest.mark.parametrize("kind", ["thread", "process", "isolated"])
def test_json_log_lines_carry_the_job(start_workers: Any, kind: str) -> None:
    traced = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.trace_info"))
    failing = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.log_then_fail_once", max_attempts=2))
    worker = start_workers("-w", "1", "-k", kind, JOBDECK_LOG_FORMAT="json")

    wait_until(lambda: done(traced.pk) and done(failing.pk), timeout=30)
    worker.stop()

    entries = [json.loads(line) for line in worker.log().splitlines() if line.strip()]  # every line is JSON
    assert all({"timestamp", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(e["message"].startswith("worker ") and e.get("worker_id") for e in entries)  # the engine's own
    [line] = [e for e in entries if e["message"] == f"trace info of job {traced.pk}"]
    assert line["level"] == "INFO" and line["logger"] == "tests.tasks.trace"
    assert line["job_id"] == traced.pk and line["task"] == "tests.tasks.trace_info" and line["queue"] == "default"
    assert line["attempt"] == 1 and line["worker"]
    [error] = [e for e in entries if e["message"] == "attempt 1 could not find the thing"]
    assert error["job_id"] == failing.pk and error["attempt"] == 1 and error["level"] == "ERROR"
    assert "KeyError: 'missing thing'" in error["exception"]  # the traceback stays inside the one line


@pytest.mark.workers
def test_task_sees_the_trace_context_and_its_jobs_join_the_trace(
    start_workers: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "_otel", lambda: None)  # this process enqueues with no span open
    job = services.enqueue_job(
        spec=JobSpec(
            task_name="tests.tasks.trace_info",
            kwargs={"enqueue_child": True},
            trace_context={"traceparent": PARENT, "tracestate": "rojo=1"},
        )
    )
    start_workers("-w", "1")

    result = wait_until(lambda: done(job.pk), timeout=30).result

    assert result["trace_context"] == {"traceparent": PARENT, "tracestate": "rojo=1"}
    child = Job.objects.get(pk=result["child"])
    if result["otel_trace_id"] is None:  # no OpenTelemetry in the worker: the job's own context
        assert child.trace_context == {"traceparent": PARENT, "tracestate": "rojo=1"}
    else:  # the task's span, a child of the enqueue's: same trace, its own span id
        assert result["otel_trace_id"] == TRACE_ID
        assert child.trace_context["traceparent"].split("-")[1] == TRACE_ID
