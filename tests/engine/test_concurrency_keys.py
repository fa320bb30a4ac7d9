"""Concurrency per key: at most concurrency_limit jobs with the same key run at once, checked in
the claim itself; a job whose key is full waits (no attempt used) without holding up other keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job
from jobs.services import JobSpec
from jobs.status import Status
from jobs.waiting import key_reason, waiting_reason


def enqueue(**fields: Any) -> Job:
    fields.setdefault("task_name", "tests.tasks.add")
    fields.setdefault("args", [1, 2])
    return services.enqueue_job(spec=JobSpec(**fields), actor="alice")


def claim() -> int | None:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    return None if claimed is None else claimed.id


# --- Enqueue ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_alone_gets_a_limit_of_one() -> None:
    job = enqueue(concurrency_key="customer:42")

    assert (job.concurrency_key, job.concurrency_limit) == ("customer:42", 1)
    stored = Job.objects.get(pk=job.pk)
    assert (stored.concurrency_key, stored.concurrency_limit) == ("customer:42", 1)


@pytest.mark.django_db
def test_the_tasks_template_computes_the_key_from_the_arguments() -> None:
    job = enqueue(task_name="tests.tasks.keyed_sync", args=[], kwargs={"customer_id": 7})

    assert (job.concurrency_key, job.concurrency_limit) == ("customer:7", 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"concurrency_key": ""}, "concurrency_key must be a string of 1-255 characters"),
        (
            {"concurrency_key": "k", "concurrency_limit": 0},
            "concurrency_limit must be a whole number between 1 and 10000",
        ),
        ({"concurrency_limit": 2}, "concurrency_limit needs a concurrency_key"),
    ],
)
def test_bad_concurrency_options_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        enqueue(**fields)

    assert caught.value.message == message
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_template_that_does_not_fit_the_arguments_is_refused() -> None:
    with pytest.raises(InvalidJob) as caught:
        enqueue(task_name="tests.tasks.keyed_sync", args=[], kwargs={"other": 1})

    assert caught.value.message.startswith("the task's concurrency_key does not fit the job's arguments")


# --- The claim ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_key_is_skipped_and_other_jobs_behind_it_run() -> None:
    first = enqueue(concurrency_key="customer:42", priority="high")
    second = enqueue(concurrency_key="customer:42", priority="high")
    other_key = enqueue(concurrency_key="customer:7")
    plain = enqueue()

    assert claim() == first.pk
    assert {claim(), claim()} == {other_key.pk, plain.pk}
    assert claim() is None

    waiting = Job.objects.get(pk=second.pk)
    assert waiting.status == Status.QUEUED and waiting.attempt == 0
    assert key_reason(waiting) == "waiting for key customer:42 (1 of 1 running)"
    assert "waiting for key customer:42 (1 of 1 running)" in (waiting_reason(waiting) or "")


@pytest.mark.django_db
def test_a_key_frees_its_slot_when_its_job_ends() -> None:
    first = enqueue(concurrency_key="k")
    second = enqueue(concurrency_key="k")
    assert claim() == first.pk
    assert claim() is None

    Job.objects.filter(pk=first.pk).update(status=Status.DONE)  # as a finish would

    assert claim() == second.pk


@pytest.mark.django_db
def test_a_limit_of_two_runs_two_at_once() -> None:
    jobs = [enqueue(concurrency_key="k", concurrency_limit=2) for _ in range(3)]

    assert [claim(), claim(), claim()] == [jobs[0].pk, jobs[1].pk, None]
    assert key_reason(Job.objects.get(pk=jobs[2].pk)) == "waiting for key k (2 of 2 running)"


@pytest.mark.django_db
def test_a_queued_job_whose_key_has_room_gives_no_key_reason() -> None:
    job = enqueue(concurrency_key="k", concurrency_limit=2)

    assert key_reason(Job.objects.get(pk=job.pk)) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the per-key lock is PostgreSQL's")
def test_two_claimers_never_both_take_a_keys_last_slot() -> None:
    """PostgreSQL: a second connection claiming while the first's claim is uncommitted skips the key
    (the advisory lock), and after the first commits it counts that claim."""
    import psycopg
    from django.db import transaction

    first = enqueue(concurrency_key="k")
    second = enqueue(concurrency_key="k")
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"], autocommit=True
    )
    try:
        with transaction.atomic():
            assert claim() == first.pk  # uncommitted: holds the key's lock
            with other.cursor() as cursor:
                cursor.execute("SELECT jobdeck_key_slot_free('k', 1)")
                assert cursor.fetchone() == (False,)
        with other.cursor() as cursor:
            cursor.execute("SELECT jobdeck_key_slot_free('k', 1)")
            assert cursor.fetchone() == (False,)  # committed: one running, none free
        assert claim() is None
        assert Job.objects.get(pk=second.pk).status == Status.QUEUED
    finally:
        other.close()


def test_the_claim_still_walks_the_claim_index_with_keys_and_rate_limits(make_job: Any) -> None:
    """The key and rate tests are filters on the walk of job_claim_idx, not a different plan."""
    import re

    from jobs.services.rate_limits import set_rate_limit
    from tests.engine.test_claim_plan import claim_select, explain

    set_rate_limit(scope="queue", name="default", max_starts=100, period=60)
    for n in range(4):
        make_job(concurrency_key=f"customer:{n % 2}")
        make_job(queue="emails")

    text = "\n".join(explain(*claim_select()))

    if connection.vendor == "postgresql":
        assert re.search(r"Index (Only )?Scan using job_claim_idx on jobs_job j\b", text), text
    else:
        assert re.search(r"(SCAN|SEARCH) j USING (COVERING )?INDEX job_claim_idx\b", text), text
        assert "job_running_key_idx" in text, text  # the count per keyed row is an index lookup
