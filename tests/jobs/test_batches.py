"""Batches in one process: enqueue (all or nothing, validation), the three callbacks' outcomes, the
"only" dependency mode, progress and waiting reason (jobs.services.batches, jobs.states.batches)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from jobs import batch_selectors, services, states, waiting
from jobs.exceptions import InvalidJob
from jobs.models import Batch, Job, JobDependency, JobEvent
from jobs.services import JobSpec
from jobs.states import Finish
from jobs.status import Status
from tests.task_helpers import run_one

pytestmark = pytest.mark.django_db(transaction=True)


def spec(*args: Any, **fields: Any) -> JobSpec:
    return JobSpec(task_name="tests.tasks.add", args=list(args or (1, 2)), **fields)


def batch_of(n: int, **callbacks: Any) -> services.NewBatch:
    return services.enqueue_batch(specs=[spec(i, 1) for i in range(n)], description="test", **callbacks)


def status(pk: int | None) -> str:
    return Job.objects.get(pk=pk).status


def all_callbacks() -> dict[str, JobSpec]:
    return {"on_success": spec(100, 0), "on_complete": spec(200, 0), "on_failure": spec(300, 0)}


def test_a_batch_stores_members_callbacks_and_links() -> None:
    new = batch_of(3, **all_callbacks())

    batch = Batch.objects.get()
    assert batch.total == 3 and batch.description == "test"
    assert [j.status for j in new.jobs] == [Status.QUEUED] * 3
    assert set(Job.objects.filter(batch_id=batch.pk).values_list("pk", flat=True)) == {j.pk for j in new.jobs}
    assert Job.objects.filter(batch_id=batch.pk, has_dependents=True).count() == 3
    for role, mode in (("on_success", "cancel"), ("on_complete", "run"), ("on_failure", "only")):
        callback = Job.objects.get(pk=getattr(batch, f"{role}_id"))
        assert (callback.status, callback.pending_parents, callback.after_failure) == (Status.SCHEDULED, 3, mode)
        assert callback.batch_id is None  # a callback is not a member
        assert JobDependency.objects.filter(child=callback, resolved=False).count() == 3
    assert min(c.pk for c in new.callbacks.values()) > max(j.pk for j in new.jobs)


def test_all_members_done_runs_on_success_and_on_complete_and_cancels_on_failure() -> None:
    new = batch_of(3, **all_callbacks())
    for _ in range(3):
        run_one()
    assert states.promote_due() == 3

    ids = {role: job.pk for role, job in new.callbacks.items()}
    assert status(ids["on_success"]) == Status.QUEUED
    assert status(ids["on_complete"]) == Status.QUEUED
    failure_cb = Job.objects.get(pk=ids["on_failure"])
    assert failure_cb.status == Status.CANCELLED
    assert failure_cb.last_error == "batch succeeded: no failure callback needed"
    event = JobEvent.objects.filter(job=failure_cb, new_status=Status.CANCELLED).get()
    assert event.reason == "batch succeeded: no failure callback needed"


def test_a_failed_member_cancels_on_success_and_runs_the_others_once_all_finished() -> None:
    new = batch_of(3, **all_callbacks())
    ids = {role: job.pk for role, job in new.callbacks.items()}
    Job.objects.filter(pk=new.jobs[0].pk).update(max_attempts=1)
    run_one(Status.FAILED)
    states.promote_due()

    # on_success ends at once; the others wait for the two members left.
    assert status(ids["on_success"]) == Status.CANCELLED
    assert Job.objects.get(pk=ids["on_success"]).last_error == f"dependency #{new.jobs[0].pk} failed"
    assert status(ids["on_complete"]) == Status.SCHEDULED
    assert status(ids["on_failure"]) == Status.SCHEDULED
    run_one()
    run_one()
    assert states.promote_due() == 2
    assert status(ids["on_complete"]) == Status.QUEUED
    assert status(ids["on_failure"]) == Status.QUEUED


def test_a_cancelled_member_counts_as_a_failure() -> None:
    new = batch_of(2, on_failure=spec(9, 9))
    services.cancel_job(job_id=new.jobs[0].pk)
    run_one()
    states.promote_due()

    assert status(new.callbacks["on_failure"].pk) == Status.QUEUED


def test_after_failure_only_on_a_plain_job() -> None:
    a, b = services.enqueue_job(spec=spec()), services.enqueue_job(spec=spec())
    child = services.enqueue_job(spec=spec(after=[a.pk, b.pk], after_failure="only"))
    run_one()
    run_one()
    states.promote_due()

    child = Job.objects.get(pk=child.pk)
    assert child.status == Status.CANCELLED
    assert child.last_error == "no dependency failed: nothing to run after a failure"


def test_after_failure_only_after_done_parents_is_cancelled_not_queued() -> None:
    a = services.enqueue_job(spec=spec())
    run_one()
    child = services.enqueue_job(spec=spec(after=[a.pk], after_failure="only"))

    assert child.status == Status.SCHEDULED  # blocked: promote_due cancels it
    assert states.promote_due() == 1
    assert status(child.pk) == Status.CANCELLED


def test_progress_counts_members_by_state() -> None:
    new = batch_of(4, **all_callbacks())
    Job.objects.filter(pk=new.jobs[0].pk).update(max_attempts=1)
    run_one(Status.FAILED)
    run_one()
    services.cancel_job(job_id=new.jobs[2].pk)
    states.claim_next(queues=["default"], worker="w1", lease_seconds=30)

    detail = batch_selectors.batch_detail(new.batch.pk)
    assert detail.progress.as_dict() == {
        "total": 4,
        "done": 1,
        "failed": 1,
        "cancelled": 1,
        "running": 1,
        "waiting": 0,
    }
    assert detail.finished_at is None


def test_finished_at_is_the_last_members_finish() -> None:
    new = batch_of(2)
    run_one()
    run_one()

    detail = batch_selectors.batch_detail(new.batch.pk)
    assert detail.finished_at == max(Job.objects.filter(batch_id=new.batch.pk).values_list("finished_at", flat=True))


def test_a_callback_waiting_says_how_many_jobs_of_its_batch_are_left() -> None:
    new = batch_of(3, on_complete=spec(9, 9))
    run_one()

    callback = Job.objects.get(pk=new.callbacks["on_complete"].pk)
    assert waiting.waiting_reason(callback) == f"waiting for 2 of 3 jobs of batch {new.batch.pk}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"specs": []}, "a batch needs at least one job"),
        ({"specs": [spec(), JobSpec(task_name="nope.nope")]}, "job 1: Unknown task 'nope.nope'"),
        (
            {"specs": [spec(idempotency_key="k")]},
            "job 0: a job of a batch cannot have an idempotency key or unique_for",
        ),
        (
            {"specs": [spec()], "on_success": spec(after=[1])},
            "on_success: a callback cannot have `after`: it waits for the batch",
        ),
        (
            {"specs": [spec()], "on_failure": spec(priority=1000)},
            "on_failure: priority must be a whole number between -100 and 100, or high, medium or low",
        ),
        ({"specs": [spec()], "description": "x" * 201}, "description must be a string of at most 200 characters"),
    ],
)
def test_a_bad_batch_is_refused_and_nothing_is_stored(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        services.enqueue_batch(**fields)

    assert caught.value.message == message
    assert Job.objects.count() == 0
    assert Batch.objects.count() == 0


def test_a_large_batch_links_every_member_in_few_statements(django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(40):
        new = batch_of(2500, **all_callbacks())

    assert JobDependency.objects.filter(child_id=new.callbacks["on_success"].pk).count() == 2500
    assert Job.objects.get(pk=new.callbacks["on_success"].pk).pending_parents == 2500


def _finish_together(claimed: states.ClaimedJob, start: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        start.wait()
        assert states.record(Finish(claimed=claimed, to=Status.DONE, reason="done"))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    finally:
        connection.close()


def test_the_last_two_members_finishing_at_once_release_each_callback_once() -> None:
    for _ in range(5):
        new = batch_of(2, **all_callbacks())
        claims = [states.claim_next(queues=["default"], worker=f"w{n}", lease_seconds=30) for n in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_finish_together, args=(c, start, errors)) for c in claims if c]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        ids = [job.pk for job in new.callbacks.values()]
        assert list(Job.objects.filter(pk__in=ids).values_list("pending_parents", flat=True)) == [0, 0, 0]
        assert states.promote_due() == 3
        assert [status(pk) for pk in ids] == [Status.QUEUED, Status.QUEUED, Status.CANCELLED]
        Job.objects.filter(pk__in=ids).delete()
