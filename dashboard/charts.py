"""The overview's charts: jobs finished and failed per time bucket, and run/wait-time percentiles per queue.

Every read here is bounded by a primary-key range, whatever the size of the tables:

- throughput: a GROUP BY over at most MAX_EVENTS job events by id, so at high volume the chart
  covers less than its hour and says from when;
- run times: the newest MAX_SAMPLES attempts (with their job's queue, one join by primary key);
- wait times: the started jobs among the newest WAIT_SCAN jobs, at most MAX_SAMPLES of them.

One computation serves every viewer of a web process (HTTP pages and the live fanout alike): the
process keeps the chart's counts and reads only the events added since (steps in throughput()),
and reuses the percentiles for up to LATENCY_SECONDS.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TypedDict

from django.db import NotSupportedError
from django.db.models import Count, F, IntegerField, Q
from django.db.models.expressions import Func
from django.utils import timezone

from jobs import selectors
from jobs.models import JobEvent
from jobs.status import Status
from jobs.task_stats import percentile  # the one nearest-rank rule, shared with the task figures

WINDOW_SECONDS = 3600  # the chart's hour
BUCKET_SECONDS = 10
MAX_EVENTS = 30_000  # events one read covers (about 10,000 jobs: each writes a few events)
MAX_SAMPLES = 1_000  # newest attempts, and newest started jobs, behind the percentiles
WAIT_SCAN = 10_000  # newest jobs searched for started ones (a larger unstarted backlog leaves none)
LATENCY_SECONDS = 1.0  # percentiles are reused this long while events arrive (the fanout's pace)
PERCENTILES = (50, 95, 99)


class EpochBucket(Func):
    """floor(seconds since 1970 / size) of a datetime column, as an integer (PostgreSQL and SQLite)."""

    output_field = IntegerField()

    def __init__(self, expression: Any, *, size: int) -> None:
        super().__init__(expression)
        self.size = size

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"EpochBucket is not implemented for {connection.vendor}")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"FLOOR(EXTRACT(EPOCH FROM {sql}) / %s)::bigint", (*params, self.size)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        # Django stores aware datetimes as UTC text; '%%s' reaches SQLite as '%s' (seconds since 1970).
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(CAST(strftime('%%s', {sql}) AS INTEGER) / %s)", (*params, self.size)


@dataclass
class QueueSeries:
    """One queue's counts per bucket of the window (index 0 is the window's first bucket)."""

    done: dict[int, int] = field(default_factory=dict)
    failed: dict[int, int] = field(default_factory=dict)

    @property
    def done_total(self) -> int:
        return sum(self.done.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


@dataclass(frozen=True)
class Throughput:
    """Finished (done) and failed jobs per queue and bucket over the window ending now."""

    first_bucket: int  # epoch seconds // BUCKET_SECONDS of index 0
    buckets: int
    series: dict[str, QueueSeries]
    covered_from: datetime.datetime | None  # the chart's data starts here, not at the window's start

    def as_json(self) -> str:
        """Compact data for the chart (sparse [index, count] pairs), for a data attribute."""
        return json.dumps(
            {
                "bucket": BUCKET_SECONDS,
                "start": self.first_bucket * BUCKET_SECONDS,
                "n": self.buckets,
                "from": None if self.covered_from is None else self.covered_from.timestamp(),
                "queues": {
                    name: {"done": sorted(s.done.items()), "failed": sorted(s.failed.items())}
                    for name, s in self.series.items()
                },
            },
            separators=(",", ":"),
        )


@dataclass
class _State:
    """What this process knows: counts per (queue, bucket) from the events up to `upto`, and percentiles."""

    upto: int = 0  # the last event id read
    upto_created: datetime.datetime | None = None  # its time: tells a reused id (a new database) apart
    counts: dict[tuple[str, int], list[int]] = field(default_factory=dict)  # [done, failed]
    covered_from: datetime.datetime | None = None  # the first read did not reach back this far
    latency: tuple[dict[str, Latency], dict[str, Latency]] | None = None
    latency_upto: int = -1
    latency_at: float = 0.0


_lock = threading.Lock()
_state = _State()


def reset() -> None:
    """Forget what this process has read (tests; the next call reads afresh)."""
    global _state
    with _lock:
        _state = _State()


class EventCount(TypedDict):
    queue: str
    bucket: int
    done: int
    failed: int


def _count_events(*, after_id: int, upto: int, since: datetime.datetime) -> list[EventCount]:
    """Done and failed events in (after_id, upto] written since `since`, per queue and bucket. One query."""
    return list(
        JobEvent.objects.filter(
            id__gt=after_id,
            id__lte=upto,
            new_status__in=[Status.DONE, Status.FAILED],
            created_at__gte=since,
        )
        .exclude(old_status=F("new_status"))  # a note on a finished job (a hook that raised) ends nothing
        .annotate(bucket=EpochBucket(F("created_at"), size=BUCKET_SECONDS))
        .values("queue", "bucket")
        .annotate(
            done=Count("id", filter=Q(new_status=Status.DONE)),
            failed=Count("id", filter=Q(new_status=Status.FAILED)),
        )
        .order_by()
    )


def _advance(state: _State, last_event_id: int, since: datetime.datetime) -> _State:
    """Bring `state` up to `last_event_id`; a new state when it cannot be (caller holds _lock).

    1. One primary-key read gives the times of the state's last event and of `last_event_id`.
       A changed time (the table was emptied and its ids reused) or a gap larger than MAX_EVENTS
       starts a new state. A state already past `last_event_id` (the fanout read on while a page
       took its cursor) is used as it is.
    2. Count the events after the state's last one (at most MAX_EVENTS, an id range) into it.
    3. On a new state whose read did not reach back to `since`, remember when the newest event
       left unread was written: the chart is complete from then on.
    """
    ids = [i for i in (state.upto, last_event_id) if i]
    times = dict(JobEvent.objects.filter(pk__in=ids).values_list("pk", "created_at")) if ids else {}
    if not (state.upto and last_event_id - state.upto <= MAX_EVENTS and times.get(state.upto) == state.upto_created):
        state = _State()
        lower = max(0, last_event_id - MAX_EVENTS)
        if lower:
            # The read stops at `lower`: if the newest event at or below it is inside the window,
            # the chart is complete only from then on (ids below may also be gaps: no event there).
            below = JobEvent.objects.filter(id__lte=lower).order_by("-id").values_list("created_at", flat=True)[:1]
            state.covered_from = next((t for t in below if t > since), None)
        state.upto = lower
    if last_event_id > state.upto or not state.upto_created:
        for row in _count_events(after_id=state.upto, upto=last_event_id, since=since):
            entry = state.counts.setdefault((row["queue"], row["bucket"]), [0, 0])
            entry[0] += row["done"]
            entry[1] += row["failed"]
        state.upto, state.upto_created = last_event_id, times.get(last_event_id)
    return state


def throughput(*, last_event_id: int, now: datetime.datetime | None = None) -> Throughput:
    """Jobs that ended done or failed per queue and BUCKET_SECONDS over the last WINDOW_SECONDS.

    Counts the events up to `last_event_id` (the page's cursor), reading only those this process
    has not counted yet: two queries, three when it starts afresh.
    """
    global _state
    now = now or timezone.now()
    last_bucket = int(now.timestamp()) // BUCKET_SECONDS
    buckets = WINDOW_SECONDS // BUCKET_SECONDS
    first_bucket = last_bucket - buckets + 1
    since = datetime.datetime.fromtimestamp(first_bucket * BUCKET_SECONDS, tz=datetime.UTC)
    with _lock:
        _state = _advance(_state, last_event_id, since)
        for key in [k for k in _state.counts if k[1] < first_bucket]:
            del _state.counts[key]  # out of the window for good
        counts = dict(_state.counts)
        covered_from = _state.covered_from if _state.covered_from and _state.covered_from > since else None
    series: dict[str, QueueSeries] = {}
    for (queue, bucket), (done, failed) in sorted(counts.items()):
        index = min(bucket, last_bucket) - first_bucket  # a clock ahead of ours counts as now
        entry = series.setdefault(queue, QueueSeries())
        if done:
            entry.done[index] = entry.done.get(index, 0) + done
        if failed:
            entry.failed[index] = entry.failed.get(index, 0) + failed
    return Throughput(first_bucket=first_bucket, buckets=buckets, series=series, covered_from=covered_from)


@dataclass(frozen=True)
class Latency:
    """p50/p95/p99 in seconds of one queue's samples, and how many samples there were."""

    samples: int
    p50: float
    p95: float
    p99: float


def _latencies(samples: list[tuple[str, float]]) -> dict[str, Latency]:
    """Percentiles per queue of (queue, seconds) samples."""
    by_queue: dict[str, list[float]] = {}
    for queue, seconds in samples:
        by_queue.setdefault(queue, []).append(seconds)
    result = {}
    for name, values in sorted(by_queue.items()):
        values.sort()
        p50, p95, p99 = (percentile(values, p) for p in PERCENTILES)
        result[name] = Latency(samples=len(values), p50=p50, p95=p95, p99=p99)
    return result


def run_times() -> dict[str, Latency]:
    """Run-time percentiles per queue over the newest MAX_SAMPLES attempts (any outcome). One query."""
    return _latencies(selectors.run_samples(limit=MAX_SAMPLES))


def wait_times() -> dict[str, Latency]:
    """Wait-time percentiles per queue: runnable (run_at) to started, newest started jobs. One query.

    The search is limited to the newest WAIT_SCAN jobs by id (jobs.selectors.wait_samples), so a
    backlog of unstarted jobs bigger than that leaves no samples (its age shows as "oldest waiting").
    """
    return _latencies(selectors.wait_samples(limit=MAX_SAMPLES, scan=WAIT_SCAN))


@dataclass(frozen=True)
class QueueChartRow:
    """One queue's line in the overview's performance table."""

    queue: str
    done: int
    failed: int
    run: Latency | None
    wait: Latency | None


def overview_charts(*, last_event_id: int) -> dict[str, Any]:
    """The overview's chart data and per-queue performance rows (template context).

    Two to five queries: the throughput's, then the percentiles' two when events arrived since
    they were computed, at most once per LATENCY_SECONDS.
    """
    chart = throughput(last_event_id=last_event_id)
    with _lock:
        state = _state
        moved = state.latency_upto != last_event_id
        if state.latency is None or (moved and time.monotonic() - state.latency_at >= LATENCY_SECONDS):
            state.latency = (run_times(), wait_times())
            state.latency_upto, state.latency_at = last_event_id, time.monotonic()
        run, wait = state.latency
    names = sorted(set(chart.series) | set(run) | set(wait))
    empty = QueueSeries()
    rows = [
        QueueChartRow(
            queue=name,
            done=chart.series.get(name, empty).done_total,
            failed=chart.series.get(name, empty).failed_total,
            run=run.get(name),
            wait=wait.get(name),
        )
        for name in names
    ]
    return {
        "chart": chart,
        "chart_json": chart.as_json(),
        "performance": rows,
        "max_events": f"{MAX_EVENTS:,}",
        "max_samples": f"{MAX_SAMPLES:,}",
    }
