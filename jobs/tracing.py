"""W3C trace context carried from an enqueue to the job's run, and OpenTelemetry spans when installed.

A job stores the trace context it was enqueued under as a small carrier, {"traceparent": ...,
"tracestate": ...} (Job.trace_context). OpenTelemetry is optional: when `opentelemetry-api` is
importable and JOBDECK_TRACING is on, the carrier is the enqueuing code's current span and the
worker runs the task inside a span whose parent it is. Without it, the carrier is the request's
`traceparent` header kept as sent (or the running job's own, for a job enqueued by a job), and the
task reads it from jobs.context; nothing is imported and nothing else runs.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from jobs.conf import read_flag

# version 00: 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids are invalid (W3C 3.2.2).
_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE_MAX = 512  # the W3C advice for what a vendor may keep; longer ones are dropped, not cut

Carrier = dict[str, str]
# The carrier of the job running in this thread (or a function that reads it, called only when a
# job enqueues another): a job it enqueues joins the same trace.
_running: contextvars.ContextVar[Carrier | Callable[[], Carrier | None] | None] = contextvars.ContextVar(
    "jobdeck_trace", default=None
)


def enabled() -> bool:
    """JOBDECK_TRACING (default on): store trace context with new jobs and, with OpenTelemetry, run
    tasks inside spans. Off: jobs carry none and the worker never reads it."""
    return read_flag("JOBDECK_TRACING", True)


@functools.cache
def _otel() -> tuple[Any, Any] | None:
    """(opentelemetry.trace, a W3C trace context propagator), or None when the API is not installed.

    The W3C propagator itself rather than the configured global one: what a job stores is W3C trace
    context, whatever else (B3, baggage) the process propagates over HTTP."""
    try:
        from opentelemetry import trace  # type: ignore[import-not-found, unused-ignore]
        from opentelemetry.trace.propagation.tracecontext import (  # type: ignore[import-not-found, unused-ignore]
            TraceContextTextMapPropagator,
        )
    except ImportError:
        return None
    return trace, TraceContextTextMapPropagator()


def carrier_from_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The trace context of a request's `traceparent` and `tracestate` headers, or None when there is
    no valid traceparent (W3C: a receiver ignores an invalid one; the request itself stands)."""
    parent = (headers.get("traceparent") or "").strip().lower()
    # A later version may append fields after a "-"; version 00 has exactly these four.
    if not _TRACEPARENT.fullmatch(parent[:55]) or (len(parent) > 55 and (parent[:2] == "00" or parent[55] != "-")):
        return None
    carrier = {"traceparent": parent[:55]}
    state = (headers.get("tracestate") or "").strip()
    if state and len(state) <= _TRACESTATE_MAX and state.isprintable() and state.isascii():
        carrier["tracestate"] = state
    return carrier


def capture(headers: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The trace context a job enqueued now carries, or None: OpenTelemetry's current span when
    there is one (an instrumented request, a task running in its span), else the request's
    headers, else the running job's own carrier."""
    if not enabled():
        return None
    otel = _otel()
    if otel is not None:
        trace, propagator = otel
        if trace.get_current_span().get_span_context().is_valid:
            injected: dict[str, str] = {}
            propagator.inject(injected)
            found = carrier_from_headers(injected)
            if found is not None:
                return found
    if headers is not None:
        found = carrier_from_headers(headers)
        if found is not None:
            return found
    running = _running.get()
    return running() if callable(running) else running


class JobSpan:
    """Run a job's attempt under its trace context, given as a function that reads it: as the running
    carrier (jobs it enqueues join the trace, read only then) and, with OpenTelemetry, inside a
    consumer span `name` whose parent the carrier names (read on entry), with `attributes()`.

    A class, not a generator context manager: without OpenTelemetry it is one context variable set
    and reset, about 2 us per job with the caller's closures (the generator form cost 4 us)."""

    __slots__ = ("_attributes", "_load", "_name", "_span", "_token")

    def __init__(
        self, name: str, load: Callable[[], Carrier | None], attributes: Callable[[], Mapping[str, Any]]
    ) -> None:
        self._name, self._load, self._attributes = name, load, attributes
        self._span: Any = None

    def __enter__(self) -> None:
        otel = _otel()
        if otel is None or not enabled():
            self._token = _running.set(self._load)
            return
        trace, propagator = otel
        carrier = self._load()
        self._token = _running.set(carrier)
        try:
            self._span = trace.get_tracer("jobdeck").start_as_current_span(
                self._name,
                context=propagator.extract(carrier) if carrier else None,
                kind=trace.SpanKind.CONSUMER,
                attributes=dict(self._attributes()),
            )
            self._span.__enter__()
        except BaseException:
            _running.reset(self._token)
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._span is not None:
                self._span.__exit__(*exc)  # records an exception on the span and ends it
        finally:
            _running.reset(self._token)
