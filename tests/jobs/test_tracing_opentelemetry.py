"""jobs.tracing with OpenTelemetry's API installed: the task's span is a child of the context stored
with the job, and a job enqueued inside a span carries that span."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import propagate
from opentelemetry import trace as otel_trace

from jobs import tracing

# opentelemetry-api is an optional extra in production and a pinned test requirement
# (requirements-dev.txt), so this file always runs; tests/jobs/test_tracing.py covers the path without it.

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "00-11111111111111111111111111111111-2222222222222222-01"


def test_job_span_runs_in_the_stored_trace() -> None:
    with tracing.JobSpan("t process", lambda: {"traceparent": PARENT}, lambda: {"jobdeck.task": "t"}):
        span_context = otel_trace.get_current_span().get_span_context()
        assert format(span_context.trace_id, "032x") == TRACE_ID
        # A job enqueued by the task joins the trace through the span, not the stored header.
        assert tracing.capture({"traceparent": OTHER})["traceparent"].split("-")[1] == TRACE_ID
    assert not otel_trace.get_current_span().get_span_context().is_valid


def test_job_span_parent_kind_and_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict[str, Any]] = []

    class Tracer:
        @contextlib.contextmanager
        def start_as_current_span(self, name: str, **kwargs: Any) -> Iterator[None]:
            started.append({"name": name, **kwargs})
            yield

    monkeypatch.setattr(otel_trace, "get_tracer", lambda *args, **kwargs: Tracer())

    with tracing.JobSpan("t process", lambda: {"traceparent": PARENT}, lambda: {"messaging.message.id": "7"}):
        pass

    [span] = started
    parent = otel_trace.get_current_span(span["context"]).get_span_context()
    assert span["name"] == "t process" and span["kind"] == otel_trace.SpanKind.CONSUMER
    assert (format(parent.trace_id, "032x"), format(parent.span_id, "016x")) == (TRACE_ID, "00f067aa0ba902b7")
    assert span["attributes"] == {"messaging.message.id": "7"}


def test_an_open_span_wins_over_the_headers() -> None:
    tracer = otel_trace.get_tracer("tests")
    with tracer.start_as_current_span("request", context=propagate.extract({"traceparent": PARENT})):
        assert tracing.capture({"traceparent": OTHER})["traceparent"].split("-")[1] == TRACE_ID
    assert tracing.capture({"traceparent": OTHER}) == {"traceparent": OTHER}  # no span open: the headers


def test_tracing_off_opens_no_span(settings: Any) -> None:
    settings.JOBDECK_TRACING = False

    with tracing.JobSpan("t process", lambda: {"traceparent": PARENT}, dict):
        assert not otel_trace.get_current_span().get_span_context().is_valid
