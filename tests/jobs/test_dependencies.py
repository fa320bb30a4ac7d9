"""Dependencies between jobs in one process: enqueue validation, release on each kind of finish,
failure propagation (jobs.states.dependencies)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job, JobDependency, JobEvent
from jobs.services import JobSpec
from jobs.states import Finish, reads
from jobs.status import Status
from tests.task_helpers import run_one

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(*args: Any, **fields: Any) -> Job:
    return services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=list(args or (1, 2)), **fields))


def reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def test_child_waits_scheduled_and_blocked_until_its_parents_are_done() -> None:
    a, b = enqueue(), enqueue()
    child = enqueue(after=[a.pk, b.pk])

    assert child.status == Status.SCHEDULED
    assert reload(child).pending_parents == 2
    assert set(Job.objects.filter(pk__in=[a.pk, b.pk]).values_list("has_dependents", flat=True)) == {True}
    assert states.promote_due() == 0
    assert run_one() == a.pk
    assert reload(child).pending_parents == 1
    assert states.promote_due() == 0
    assert run_one() == b.pk
    assert states.promote_due() == 1
    assert reload(child).status == Status.QUEUED
    assert run_one() == child.pk


def test_parent_already_done_counts_at_once() -> None:
    a = enqueue()
    run_one()
    child = enqueue(after=[a.pk])

    assert reload(child).pending_parents == 0
    assert child.status == Status.QUEUED  # nothing to wait for: runnable at once
    assert JobDependency.objects.get(child=child).resolved


def test_failed_parent_cancels_the_child_with_the_reason() -> None:
    a = enqueue(max_attempts=1)
    child = enqueue(after=[a.pk])
    grandchild = enqueue(after=[child.pk])

    run_one(Status.FAILED)
    states.promote_due()
    states.promote_due()

    child, grandchild = reload(child), reload(grandchild)
    assert child.status == Status.CANCELLED
    assert child.last_error == f"dependency #{a.pk} failed"
    assert JobEvent.objects.filter(job=child, new_status=Status.CANCELLED).get().reason == f"dependency #{a.pk} failed"
    assert grandchild.status == Status.CANCELLED
    assert grandchild.last_error == f"dependency #{child.pk} cancelled"


def test_failed_parent_with_after_failure_run_runs_the_child_once_all_finished() -> None:
    a, b = enqueue(max_attempts=1), enqueue()
    child = enqueue(after=[a.pk, b.pk], after_failure="run")

    run_one(Status.FAILED)
    assert states.promote_due() == 0
    run_one()
    assert states.promote_due() == 1
    assert reload(child).status == Status.QUEUED
    assert reload(child).failed_parent == a.pk


def test_cancelling_a_waiting_parent_cancels_the_child() -> None:
    a = enqueue(delay=3600)
    child = enqueue(after=[a.pk])

    services.cancel_job(job_id=a.pk)
    states.promote_due()

    assert reload(child).status == Status.CANCELLED
    assert reload(child).last_error == f"dependency #{a.pk} cancelled"


def test_a_parent_retried_and_done_again_is_counted_once() -> None:
    a, b = enqueue(max_attempts=1), enqueue(delay=3600)
    child = enqueue(after=[a.pk, b.pk], after_failure="run")
    run_one(Status.FAILED)
    services.retry_job(job_id=a.pk)
    assert run_one() == a.pk

    assert reload(child).pending_parents == 1


def test_blocked_child_cannot_be_run_now() -> None:
    a = enqueue()
    child = enqueue(after=[a.pk])

    assert not reload(child).can_run_now
    with pytest.raises(Exception):  # noqa: B017, PT011 - InvalidTransition
        services.run_job_now(job_id=child.pk)
    assert reload(child).status == Status.SCHEDULED


@pytest.mark.parametrize(
    ("after", "message"),
    [
        ([999999], "after: job #999999 does not exist"),
        (["x"], "after must be a list of job ids"),
        ([0], "after must be a list of job ids"),
        ("1", "after must be a list of job ids"),
    ],
)
def test_bad_after_is_refused_and_nothing_is_stored(after: Any, message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        enqueue(after=after)
    assert caught.value.message == message
    assert not Job.objects.exists()


def test_bad_after_failure_is_refused() -> None:
    a = enqueue()
    with pytest.raises(InvalidJob) as caught:
        enqueue(after=[a.pk], after_failure="ignore")
    assert caught.value.message == 'after_failure must be "cancel", "run" or "only"'


def test_bulk_enqueue_links_each_job_and_a_missing_parent_stores_nothing() -> None:
    a = enqueue()
    jobs = services.enqueue_jobs(
        specs=[JobSpec(task_name="tests.tasks.add", args=[i, 1], after=[a.pk]) for i in range(3)]
    )
    assert {j.status for j in jobs} == {Status.SCHEDULED}
    assert JobDependency.objects.filter(parent=a).count() == 3
    with pytest.raises(InvalidJob):
        services.enqueue_jobs(
            specs=[
                JobSpec(task_name="tests.tasks.add", args=[1, 1], after=[a.pk]),
                JobSpec(task_name="tests.tasks.add", args=[1, 1], after=[a.pk + 100]),
            ]
        )
    assert Job.objects.count() == 4


def _finish_together(claimed: states.ClaimedJob, start: Any, errors: list[BaseException]) -> None:
    from django.db import connection

    try:
        start.wait()
        assert states.record(Finish(claimed=claimed, to=Status.DONE, reason="done"))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    finally:
        connection.close()


def test_two_parents_finishing_at_once_release_their_shared_children_exactly() -> None:
    import threading

    for _ in range(10):
        parents = [enqueue(), enqueue()]
        children = [enqueue(after=[p.pk for p in parents]) for _ in range(3)]
        claims = [states.claim_next(queues=["default"], worker=f"w{n}", lease_seconds=30) for n in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_finish_together, args=(c, start, errors)) for c in claims if c]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert [reload(c).pending_parents for c in children] == [0, 0, 0]
        assert states.promote_due() == 3
        Job.objects.filter(pk__in=[c.pk for c in children]).delete()


def test_due_reads_use_the_index_that_leaves_out_children_waiting_for_parents() -> None:
    """promote_due() and the "next due" probe walk job_due_ready_idx, which holds no blocked child:
    10,000 children waiting in a chain cost these once-a-second reads nothing."""
    parent = enqueue()
    for _ in range(20):
        enqueue(after=[parent.pk])
    with CaptureQueriesContext(connection) as queries:
        assert states.promote_due() == 0
        assert reads.next_due_at() is None
    statements = [q["sql"] for q in queries.captured_queries if "SELECT" in q["sql"]]
    assert len(statements) == 2, statements
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table this small is cheapest to scan; forbid that to see the index a large one uses.
            cursor.execute("SET LOCAL enable_seqscan = off")
        for statement in statements:
            explain = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
            cursor.execute(f"{explain} {statement}")
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "job_due_ready_idx" in plan, plan
    run_one()
    assert states.promote_due() == 20
    assert reads.next_due_at() is None


def test_next_due_at_is_the_earliest_run_at_of_a_ready_job() -> None:
    soon, later = timezone.now() + datetime.timedelta(seconds=60), timezone.now() + datetime.timedelta(hours=1)
    parent = enqueue(run_at=later)
    enqueue(after=[parent.pk])  # waiting for its parent: due whenever, but not "due"
    enqueue(run_at=soon)
    assert reads.next_due_at() == soon
