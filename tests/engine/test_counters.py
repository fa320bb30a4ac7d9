"""Outcome totals: per-process rows written as running totals; real workers' counts reach /metrics' source."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from jobs import selectors, services, task_stats
from jobs.engine.counters import OutcomeTotals
from jobs.models import Job, OutcomeCounter, TaskOutcomeCounter
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until


@pytest.mark.django_db
def test_totals_are_upserted_only_when_they_change(django_assert_num_queries) -> None:  # noqa: ANN001
    totals = OutcomeTotals("host:1:abc")
    totals.add("default", "done")
    totals.add("default", "done")
    totals.add("media", "failed")
    assert totals.write() == 2
    with django_assert_num_queries(0):
        assert totals.write() == 0
    totals.add("default", "done")
    assert totals.write() == 1

    rows = set(OutcomeCounter.objects.values_list("process", "queue", "new_status", "count"))
    process = f"host:1:abc/{os.getpid()}"
    assert rows == {(process, "default", "done", 3), (process, "media", "failed", 1)}
    assert selectors.outcome_totals() == {("default", "done"): 3, ("media", "failed"): 1}


@pytest.mark.django_db
def test_totals_by_task_are_upserted_beside_the_queue_ones() -> None:
    totals = OutcomeTotals("host:1:abc")
    totals.add("default", "done", "tests.tasks.add")
    totals.add("media", "done", "tests.tasks.add")
    totals.add("default", "failed", "gone.tasks.old")
    assert totals.write() == 5  # three queue rows, two task rows
    totals.add("default", "done", "tests.tasks.add")
    assert totals.write() == 2

    rows = set(TaskOutcomeCounter.objects.values_list("task", "new_status", "count"))
    assert rows == {("tests.tasks.add", "done", 3), ("gone.tasks.old", "failed", 1)}
    # A task no registry or live worker has is summed as "other": the label's values stay bounded.
    assert task_stats.task_outcome_totals() == {("tests.tasks.add", "done"): 3, ("other", "failed"): 1}


@pytest.mark.django_db
def test_a_forked_process_starts_its_own_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    totals = OutcomeTotals("w")
    totals.add("default", "done")
    monkeypatch.setattr(os, "getpid", lambda: 999_999)  # as seen from a forked child
    totals.add("default", "done")
    totals.write()
    assert list(OutcomeCounter.objects.values_list("process", "count")) == [("w/999999", 1)]


@pytest.mark.workers
@pytest.mark.parametrize("kind", ["thread", "process"])
def test_workers_count_every_outcome_and_write_them_by_shutdown(start_workers, tmp_path: Path, kind: str) -> None:
    specs = [JobSpec(task_name="tests.tasks.add", args=[1, n]) for n in range(5)]
    specs.append(JobSpec(task_name="tests.tasks.fail_until", args=[str(tmp_path / "f"), 9], max_attempts=2))
    services.enqueue_jobs(specs=specs)
    worker = start_workers("-w", "2", "-k", kind)

    wait_until(lambda: not Job.objects.active().exists())
    assert Job.objects.filter(status=Status.FAILED).count() == 1
    worker.signal(signal.SIGTERM)  # a drain runs the shutdown hooks, which write the totals
    assert worker.wait() == 0

    assert selectors.outcome_totals() == {("default", "done"): 5, ("default", "retrying"): 1, ("default", "failed"): 1}
    assert task_stats.task_outcome_totals() == {
        ("tests.tasks.add", "done"): 5,
        ("tests.tasks.fail_until", "retrying"): 1,
        ("tests.tasks.fail_until", "failed"): 1,
    }
