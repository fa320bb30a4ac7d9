"""selectors.queue_stats: exact counts, and capped counts that read a bounded number of index entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import selectors, services
from jobs.models import Job
from jobs.status import Status

pytestmark = pytest.mark.django_db


def test_capped_counts_match_exact_ones_under_the_cap_and_stop_at_it(make_job: Callable[..., Job]) -> None:
    for _ in range(5):
        make_job()
    make_job(queue="media")
    make_job(queue="media", delay=3600)
    services.pause_queue(name="idle")

    exact = selectors.queue_stats()
    capped = selectors.queue_stats(cap=3)

    assert exact["default"].counts[Status.QUEUED] == 5
    assert capped["default"].counts[Status.QUEUED] == 3
    assert capped["default"].capped == {Status.QUEUED}
    assert capped["media"].counts == exact["media"].counts and not capped["media"].capped
    assert capped["idle"].paused and capped["idle"].total == 0
    assert capped["default"].oldest_waiting_seconds is not None
    assert selectors.queue_stats(cap=100)["default"].counts == exact["default"].counts


def test_capped_counts_are_one_statement(make_job: Callable[..., Job]) -> None:
    make_job()
    with CaptureQueriesContext(connection) as queries:
        selectors.queue_stats(cap=1000)
    limited = [q["sql"] for q in queries.captured_queries if "LIMIT 1001" in q["sql"]]
    assert len(limited) == 1
    # queue names, the counts (with PostgreSQL's two SET LOCAL in a savepoint), oldest runnable, settings
    assert len(queries.captured_queries) <= 8


def test_queue_names_and_oldest_runnable_use_one_probe_per_queue(make_job: Callable[..., Job]) -> None:
    first = make_job(queue="b")
    make_job(queue="b")
    make_job(queue="a", delay=3600)  # scheduled: has a queue, but nothing runnable
    make_job(queue="c")

    assert selectors.queue_names() == ["a", "b", "c"]
    oldest = selectors.oldest_runnable(["a", "b", "c", "nope"])
    assert set(oldest) == {"b", "c"}
    assert oldest["b"] == Job.objects.get(pk=first.pk).run_at
