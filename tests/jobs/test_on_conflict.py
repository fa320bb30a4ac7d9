"""Unique per concurrency key: on_conflict "drop" returns the job already waiting or running with the
key; "replace" cancels the waiting ones ("replaced by #N") and stores the new one. Exact under 20
concurrent enqueuers, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job, JobEvent
from jobs.services import JobSpec
from jobs.status import Status
from tests.jobs.test_unique_for import run_threads

pytestmark = pytest.mark.django_db


def enqueue(key: str = "customer:42", **fields: Any) -> tuple[Job, bool]:
    spec = JobSpec(task_name="tests.tasks.add", args=[1, 2], concurrency_key=key, **fields)
    return services.enqueue_job_outcome(spec=spec, actor="alice")


def test_drop_returns_the_waiting_job_then_the_running_one_then_enqueues_again() -> None:
    first, created = enqueue(on_conflict="drop")
    again, again_created = enqueue(on_conflict="drop")
    other, other_created = enqueue("customer:7", on_conflict="drop")

    assert (created, again_created, other_created) == (True, False, True)
    assert again.pk == first.pk and other.pk != first.pk
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == first.pk
    assert enqueue(on_conflict="drop")[0].pk == first.pk  # running: still dropped
    assert states.record(states.Finish(claimed, Status.DONE, "done", result=3))

    after, after_created = enqueue(on_conflict="drop")

    assert after_created and after.pk != first.pk
    assert Job.objects.filter(concurrency_key="customer:42").count() == 2


def test_replace_cancels_the_waiting_job_with_the_reason() -> None:
    old, _ = enqueue(on_conflict="replace")
    other, _ = enqueue("customer:7", on_conflict="replace")

    new, created = enqueue(on_conflict="replace")

    assert created
    assert Job.objects.get(pk=old.pk).status == Status.CANCELLED
    event = JobEvent.objects.get(job_id=old.pk, new_status=Status.CANCELLED)
    assert (event.reason, event.actor) == (f"replaced by #{new.pk}", "alice")
    assert Job.objects.get(pk=new.pk).status == Status.QUEUED
    assert Job.objects.get(pk=other.pk).status == Status.QUEUED


def test_replace_leaves_a_running_job_alone() -> None:
    running, _ = enqueue(on_conflict="replace")
    finish_claim = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert finish_claim is not None and finish_claim.id == running.pk

    new, created = enqueue(on_conflict="replace")

    assert created and Job.objects.get(pk=running.pk).status == Status.RUNNING
    assert Job.objects.get(pk=new.pk).status == Status.QUEUED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": None, "on_conflict": "drop"}, "on_conflict needs a concurrency_key"),
        ({"on_conflict": "keep"}, 'on_conflict must be "drop" or "replace"'),
        ({"on_conflict": "drop", "idempotency_key": "k"}, "give on_conflict or an idempotency_key / unique_for"),
        ({"on_conflict": "replace", "unique_for": 60}, "give on_conflict or an idempotency_key / unique_for"),
    ],
)
def test_bad_on_conflict_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob, match=message.replace("(", r"\(")):
        enqueue(**fields)
    assert not Job.objects.exists()


def test_a_task_declares_drop_for_its_computed_key() -> None:
    from tests.tasks import refresh_customer

    first = refresh_customer.enqueue(customer_id=42)
    again = refresh_customer.enqueue(customer_id=42)
    other = refresh_customer.enqueue(customer_id=7)

    assert again.id == first.id != other.id
    assert Job.objects.get(pk=int(first.id)).concurrency_key == "customer:42"


def test_bulk_enqueue_drops_within_the_bulk_too() -> None:
    spec = JobSpec(task_name="tests.tasks.add", args=[1, 2], concurrency_key="k", on_conflict="drop")

    jobs = services.enqueue_jobs(specs=[spec, spec, spec])

    assert len({j.pk for j in jobs}) == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_drops_store_one_job() -> None:
    ids, errors = run_threads(20, lambda: enqueue(on_conflict="drop")[0].pk)

    assert errors == []
    assert len(ids) == 20 and len(set(ids)) == 1
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_replaces_leave_one_waiting_job() -> None:
    ids, errors = run_threads(20, lambda: enqueue(on_conflict="replace")[0].pk)

    assert errors == []
    assert len(set(ids)) == 20
    assert list(Job.objects.filter(status=Status.QUEUED).values_list("pk", flat=True)) == [max(ids)]
    assert Job.objects.filter(status=Status.CANCELLED).count() == 19
    # Each replaced job names the job that replaced it, the next one stored.
    reasons = dict(JobEvent.objects.filter(new_status=Status.CANCELLED).values_list("job_id", "reason"))
    ordered = sorted(ids)
    assert reasons == {old: f"replaced by #{new}" for old, new in zip(ordered, ordered[1:], strict=False)}
