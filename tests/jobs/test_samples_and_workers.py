"""jobs.selectors' run and wait samples (the charts and /metrics read them) and the worker rows."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import selectors, states
from jobs.engine.workers import register_worker
from jobs.models import Attempt, Job
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db


def test_run_and_wait_samples_are_per_job_newest_first(make_job: Callable[..., Job]) -> None:
    now = timezone.now()
    for queue, seconds in [("a", 1), ("b", 2)]:
        job = run_job(make_job(queue=queue).pk)
        Attempt.objects.filter(job=job).update(started_at=now - datetime.timedelta(seconds=seconds), finished_at=now)
        Job.objects.filter(pk=job.pk).update(
            run_at=now - datetime.timedelta(seconds=3 * seconds), started_at=now - datetime.timedelta(seconds=seconds)
        )
    make_job(queue="a")  # queued: not started, no wait sample

    assert selectors.run_samples(limit=10) == [("b", 2.0), ("a", 1.0)]
    assert selectors.wait_samples(limit=10) == [("b", 4.0), ("a", 2.0)]
    assert selectors.run_samples(limit=1) == [("b", 2.0)]


def test_wait_samples_search_only_the_newest_scan_jobs_when_asked(make_job: Callable[..., Job]) -> None:
    run_job(make_job().pk)
    make_job()
    make_job()

    assert len(selectors.wait_samples(limit=10)) == 1
    assert selectors.wait_samples(limit=10, scan=2) == []  # the started job is the third newest
    assert len(selectors.wait_samples(limit=10, scan=3)) == 1


def test_worker_rows_carry_liveness_and_their_running_jobs_from_two_queries(make_job: Any) -> None:
    busy = register_worker(name="host:1:a", queues=("mail",), concurrency=2, worker_type="thread")
    register_worker(name="host:2:b", queues=("default",), concurrency=1, worker_type="process")
    first, second = make_job(queue="mail"), make_job(queue="mail")
    for _ in range(2):
        assert states.claim_next(queues=["mail"], worker=busy.name, lease_seconds=60) is not None

    with CaptureQueriesContext(connection) as captured:
        rows = {row.name: row for row in selectors.worker_list()}

    assert len(captured) == 2
    assert rows["host:1:a"].is_alive is True and rows["host:1:a"].id == busy.pk
    assert rows["host:1:a"].running == [(first.pk, "tests.tasks.add"), (second.pk, "tests.tasks.add")]
    assert rows["host:1:a"].running_job_ids == [first.pk, second.pk]
    assert rows["host:2:b"].running == [] and rows["host:2:b"].queues == ["default"]
