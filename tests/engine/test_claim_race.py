"""Races between two database connections: claims, cancels, finishes and rescues never double up or go back.

Each racer runs in its own thread with its own connection, released together by a barrier.
SQLite serialises the writers (IMMEDIATE transactions); PostgreSQL lets claimers skip locked rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from jobs import services, states
from jobs.exceptions import InvalidTransition
from jobs.models import Attempt, Job, JobEvent
from jobs.status import ALLOWED, Status

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 10


def race(*racers: Callable[[], Any]) -> list[Any]:
    """Run each racer in its own thread and connection, all released at once.

    Returns each racer's return value, or the exception it raised.
    """
    barrier = threading.Barrier(len(racers))
    results: list[Any] = [None] * len(racers)

    def run(index: int, racer: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()  # connect before the barrier, so the race is on the statements
            barrier.wait(timeout=10)
            results[index] = racer()
        except Exception as exc:  # handed back to the test, which decides whether it was allowed
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a racer hung"
    return results


def claimer(worker: str) -> Callable[[], states.ClaimedJob | None]:
    return partial(states.claim_next, queues=["default"], worker=worker, lease_seconds=60.0)


def assert_history_consistent(job_id: int) -> list[tuple[str, str]]:
    """Events form one unbroken chain of allowed moves ending at the job's status. Returns the chain."""
    events = list(JobEvent.objects.filter(job_id=job_id).order_by("id").values_list("old_status", "new_status"))
    assert events[0][0] == ""
    for (earlier, before), (old, new) in zip(events, events[1:], strict=False):
        assert old == before, events
        # running -> running: cancel requested; queued -> an attempt's end right after a rescue's
        # running -> queued: that attempt's late outcome (states.hot.write_late_finish).
        late = (earlier, old) == (Status.RUNNING, Status.QUEUED) and new in ALLOWED[Status.RUNNING]
        assert new in ALLOWED[old] or old == new == Status.RUNNING or late, events
    assert events[-1][1] == Job.objects.get(pk=job_id).status
    return events


def test_two_claimers_racing_for_one_job_claim_it_exactly_once(make_job: Callable[..., Job]) -> None:
    for _ in range(ROUNDS):
        job = make_job()

        results = race(claimer("w1"), claimer("w2"))

        assert not [r for r in results if isinstance(r, Exception)], results
        claims = [r for r in results if r is not None]
        assert [(c.id, c.attempt) for c in claims] == [(job.pk, 1)]
        job.refresh_from_db()
        assert (job.status, job.attempt, job.worker) == (Status.RUNNING, 1, claims[0].worker)
        assert assert_history_consistent(job.pk) == [("", "queued"), ("queued", "running")]


def test_two_claimers_racing_for_two_jobs_take_one_each(make_job: Callable[..., Job]) -> None:
    for _ in range(ROUNDS):
        jobs = {make_job().pk, make_job().pk}

        results = race(claimer("w1"), claimer("w2"))

        assert sorted(r.id for r in results) == sorted(jobs), results
        assert states.claim_next(queues=["default"], worker="w3", lease_seconds=60) is None


def test_two_claimers_racing_under_a_concurrency_limit_of_one_start_one_job(make_job: Callable[..., Job]) -> None:
    for round_ in range(ROUNDS):
        queue = f"limited-{round_}"
        services.set_queue_concurrency(name=queue, limit=1)
        make_job(queue=queue)
        make_job(queue=queue)
        claim = partial(states.claim_next, queues=[queue], lease_seconds=60.0)

        results = race(partial(claim, worker="w1"), partial(claim, worker="w2"))

        assert not [r for r in results if isinstance(r, Exception)], results
        assert len([r for r in results if r is not None]) == 1
        assert list(Job.objects.filter(queue=queue).order_by("id").values_list("status", flat=True)) == [
            Status.RUNNING,
            Status.QUEUED,
        ]


def test_cancel_racing_claim_either_keeps_the_job_from_starting_or_flags_it(make_job: Callable[..., Job]) -> None:
    for _ in range(ROUNDS):
        job = make_job()

        cancelled, claimed = race(partial(services.cancel_job, job_id=job.pk, actor="alice"), claimer("w1"))

        assert not isinstance(cancelled, Exception) and not isinstance(claimed, Exception), (cancelled, claimed)
        job.refresh_from_db()
        if claimed is None:  # the cancel won: the job never starts
            assert job.status == Status.CANCELLED
            assert assert_history_consistent(job.pk) == [("", "queued"), ("queued", "cancelled")]
        else:  # the claim won: the running job carries the cancel request
            assert (job.status, claimed.id) == (Status.RUNNING, job.pk)
            assert job.cancel_requested_at is not None
            assert assert_history_consistent(job.pk) == [("", "queued"), ("queued", "running"), ("running", "running")]


def test_cancel_racing_finish_ends_done_with_consistent_history(make_job: Callable[..., Job]) -> None:
    for _ in range(ROUNDS):
        job = make_job()
        claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=60)
        assert claimed is not None

        cancelled, finished = race(
            partial(services.cancel_job, job_id=job.pk, actor="alice"),
            partial(states.record, states.Finish(claimed, Status.DONE, reason="done", result=3)),
        )

        assert finished is True
        job.refresh_from_db()
        assert (job.status, job.result) == (Status.DONE, 3)
        history = assert_history_consistent(job.pk)
        if isinstance(cancelled, InvalidTransition):  # the finish won: nothing left to cancel
            assert history == [("", "queued"), ("queued", "running"), ("running", "done")]
        else:  # the cancel flagged the job first, then the worker's finish landed
            assert history == [("", "queued"), ("queued", "running"), ("running", "running"), ("running", "done")]
        assert list(Attempt.objects.filter(job=job).values_list("number", "outcome")) == [(1, "done")]


def test_rescue_racing_finish_ends_the_job_with_its_real_outcome(make_job: Callable[..., Job]) -> None:
    """Whoever writes first, the attempt's real outcome is stored: a finish landing after the rescue
    is a late outcome (states.hot.write_late_finish) and replaces the rescue's 'lost' attempt."""
    for _ in range(ROUNDS):
        job = make_job()
        claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=-1)  # lease already lapsed
        assert claimed is not None

        rescued, finished = race(
            states.rescue_expired,
            partial(states.record, states.Finish(claimed, Status.DONE, reason="done", result=3)),
        )

        job.refresh_from_db()
        assert finished is True and rescued in (0, 1)
        assert (job.status, job.attempt, job.result) == (Status.DONE, 1, 3)
        assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["done"]
        history = assert_history_consistent(job.pk)
        if rescued:  # requeued first, then the late outcome
            assert history[2:] == [("running", "queued"), ("queued", "done")]
        else:
            assert history[2:] == [("running", "done")]
