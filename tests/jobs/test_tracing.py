"""jobs.tracing without OpenTelemetry: which traceparent headers are kept, and what a new job carries."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def _without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests hold whether or not OpenTelemetry is installed: they pretend it is not."""
    monkeypatch.setattr(tracing, "_otel", lambda: None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"traceparent": PARENT}, {"traceparent": PARENT}),
        ({"traceparent": f" {PARENT.upper()} "}, {"traceparent": PARENT}),
        (
            {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"},
            {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"},
        ),
        # A later version may add fields: the four known ones are kept.
        ({"traceparent": "01" + PARENT[2:] + "-what-comes-next"}, {"traceparent": "01" + PARENT[2:]}),
        # A tracestate that is too long or not printable ASCII is dropped; the traceparent stays.
        ({"traceparent": PARENT, "tracestate": "a=" + "b" * 600}, {"traceparent": PARENT}),
        ({"traceparent": PARENT, "tracestate": "a=b\nc"}, {"traceparent": PARENT}),
    ],
)
def test_valid_traceparent_is_kept(headers: dict[str, str], expected: dict[str, str]) -> None:
    assert tracing.carrier_from_headers(headers) == expected


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        "garbage",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero parent id
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff is invalid
        PARENT + "-extra",  # version 00 has exactly four fields
        PARENT[:-1],
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
    ],
)
def test_invalid_traceparent_is_ignored(traceparent: str) -> None:
    assert tracing.carrier_from_headers({"traceparent": traceparent, "tracestate": "a=b"}) is None


def test_capture_prefers_the_request_then_the_running_job() -> None:
    assert tracing.capture() is None
    assert tracing.capture({"traceparent": PARENT}) == {"traceparent": PARENT}
    running = {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
    reads: list[int] = []

    def load() -> dict[str, Any]:
        reads.append(1)
        return running

    with tracing.JobSpan("t process", load, dict):
        assert reads == []  # without OpenTelemetry, the job's context is read only when needed
        assert tracing.capture() == running
        assert tracing.capture({"traceparent": PARENT}) == {"traceparent": PARENT}
    assert tracing.capture() is None


def test_tracing_off_carries_nothing(settings: Any) -> None:
    settings.JOBDECK_TRACING = False

    assert tracing.capture({"traceparent": PARENT}) is None
