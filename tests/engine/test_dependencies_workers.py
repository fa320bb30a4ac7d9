"""Dependencies with real worker processes: a child never starts before every parent finished,
across 4 processes (thread and process types), when parents fail, and when a worker running a
parent is killed with -9."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from jobs import services
from jobs.models import Job, JobDependency
from jobs.services import JobSpec
from jobs.status import FINISHED, Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def sleeper(seconds: float, *, after: list[int] = (), **fields: object) -> JobSpec:  # type: ignore[assignment]
    return JobSpec(task_name="tests.tasks.cooperative_sleep", args=[seconds], after=list(after), **fields)


def assert_never_early() -> None:
    """Every child that started did so at or after the finish of each of its parents, and only
    when its parents were done (or, for after_failure "run", finished)."""
    jobs = {j.pk: j for j in Job.objects.all()}
    for link in JobDependency.objects.all():
        child, parent = jobs[link.child_id], jobs[link.parent_id]
        if child.started_at is None:
            continue
        assert parent.status in FINISHED, (child.pk, parent.pk)
        assert parent.finished_at is not None
        assert child.started_at >= parent.finished_at, (child.pk, parent.pk)


def test_four_workers_never_start_a_child_before_its_parents(start_workers) -> None:
    rng = random.Random(13)  # noqa: S311 - test data
    roots = services.enqueue_jobs(specs=[sleeper(rng.uniform(0.0, 0.05)) for _ in range(60)])
    for kind in ("thread", "thread", "process", "process"):
        start_workers("-w", "2", "-k", kind)
    # Children enqueued while their parents run and finish: the enqueue races the finishes.
    ids = [j.pk for j in roots]
    for _ in range(3):
        level = services.enqueue_jobs(
            specs=[sleeper(rng.uniform(0.0, 0.03), after=rng.sample(ids, rng.randint(1, 4))) for _ in range(60)]
        )
        ids = [j.pk for j in level]

    wait_until(lambda: not Job.objects.active().exists(), timeout=180)

    assert set(Job.objects.values_list("status", flat=True)) == {Status.DONE}
    assert_never_early()


def test_with_workers_a_failed_parent_cancels_or_runs_its_children(start_workers, tmp_path: Path) -> None:
    parent = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.fail_until", args=[str(tmp_path / "log"), 5], max_attempts=1)
    )
    ok = services.enqueue_job(spec=sleeper(0.2))
    cancelled = services.enqueue_job(spec=sleeper(0, after=[parent.pk, ok.pk]))
    runs = services.enqueue_job(spec=sleeper(0, after=[parent.pk, ok.pk], after_failure="run"))
    start_workers("-w", "2")

    wait_until(lambda: not Job.objects.active().exists(), timeout=60)

    cancelled.refresh_from_db()
    runs.refresh_from_db()
    assert cancelled.status == Status.CANCELLED
    assert cancelled.last_error == f"dependency #{parent.pk} failed"
    assert cancelled.attempt == 0
    assert runs.status == Status.DONE
    assert_never_early()


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_kill_9_of_the_worker_running_a_parent_keeps_the_child_waiting(
    start_workers, tmp_path: Path, kind: str
) -> None:
    started = tmp_path / "started"
    parent = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.cooperative_sleep", args=[1.0, str(started)], max_attempts=3)
    )
    child = services.enqueue_job(spec=sleeper(0, after=[parent.pk]))
    first = start_workers("-w", "1", "-k", kind)
    wait_until(started.exists)

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    start_workers("-w", "1", "-k", kind)

    wait_until(lambda: Job.objects.get(pk=child.pk).status == Status.DONE, timeout=40)
    parent.refresh_from_db()
    assert parent.status == Status.DONE
    assert parent.attempt == 2  # the rescued parent ran again; the child waited for its finish
    assert_never_early()


def test_a_retried_workflow_never_runs_a_child_before_its_parents_new_run(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "log"
    parent = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.fail_until", args=[str(log), 2], max_attempts=1))
    child = services.enqueue_job(spec=sleeper(0, after=[parent.pk]))
    grandchild = services.enqueue_job(spec=sleeper(0, after=[child.pk]))
    start_workers("-w", "2")
    start_workers("-w", "2", "-k", "process")
    wait_until(lambda: not Job.objects.active().exists(), timeout=60)
    assert Job.objects.get(pk=grandchild.pk).status == Status.CANCELLED

    result = services.retry_workflow(job_id=grandchild.pk, actor="test")

    assert (result.matched, result.changed) == (3, 3)
    wait_until(lambda: not Job.objects.active().exists(), timeout=60)
    jobs = {j.pk: j for j in Job.objects.filter(pk__in=[parent.pk, child.pk, grandchild.pk])}
    assert {j.status for j in jobs.values()} == {Status.DONE}
    assert jobs[child.pk].attempt == 1 and jobs[grandchild.pk].attempt == 1  # each ran once, after the retry
    second_run = float(log.read_text().splitlines()[1].split()[1])
    assert jobs[child.pk].started_at.timestamp() >= second_run
    assert_never_early()
