"""The state machine (jobs/states/): every allowed and forbidden move, stale writes, claim, rescue, promote."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidTransition
from jobs.models import Attempt, Job, JobEvent
from jobs.status import ALLOWED, Status

WORKER = "host-a:100:abc"
HOUR = datetime.timedelta(hours=1)


def claim(*queues: str, worker: str = WORKER, lease_seconds: float = 60.0) -> states.ClaimedJob | None:
    return states.claim_next(queues=list(queues) or ["default"], worker=worker, lease_seconds=lease_seconds)


def boom(outcome: str = Attempt.Outcome.FAILED) -> states.Failure:
    return states.Failure(outcome=outcome, error_class="builtins.ValueError", message="boom", traceback="tb")


def make_due(job: Job) -> None:
    """Move a waiting job's run_at into the past (a plain field, not its status)."""
    Job.objects.filter(pk=job.pk).update(run_at=timezone.now() - datetime.timedelta(seconds=1))


def history(job: Job | int) -> list[tuple[str, str, str]]:
    job_id = job if isinstance(job, int) else job.pk
    return list(JobEvent.objects.filter(job_id=job_id).order_by("id").values_list("old_status", "new_status", "reason"))


def status_of(job: Job | int) -> str:
    return Job.objects.get(pk=job if isinstance(job, int) else job.pk).status


@dataclass
class Held:
    """A job driven into some state, with the worker's claim when it was ever claimed."""

    job: Job
    claimed: states.ClaimedJob | None = None


@pytest.fixture
def job_in(make_job: Callable[..., Job]) -> Callable[[str], Held]:
    """Drive a fresh job into `status` through the state machine's own functions."""

    def make(status: str) -> Held:
        if status == Status.SCHEDULED:
            return Held(make_job(delay=3600))
        job = make_job()
        if status == Status.QUEUED:
            return Held(job)
        if status == Status.CANCELLED:
            assert states.transition(job, Status.CANCELLED, reason="cancelled", finished_at=timezone.now())
            return Held(job)
        claimed = claim()
        assert claimed is not None and claimed.id == job.pk
        if status == Status.DONE:
            assert states.record(states.Finish(claimed, Status.DONE, reason="done", result=3))
        elif status == Status.RETRYING:
            assert states.record(
                states.Finish(claimed, Status.RETRYING, reason="retry", failure=boom(), retry_at=timezone.now() + HOUR)
            )
        elif status == Status.FAILED:
            assert states.record(states.Finish(claimed, Status.FAILED, reason="failed", failure=boom()))
        job.refresh_from_db()
        assert job.status == status
        return Held(job, claimed)

    return make


# --- One test per allowed edge, each through the function that makes that move in production --------


def _promote(held: Held) -> None:
    make_due(held.job)
    assert states.promote_due() == 1


def _cancel_waiting(held: Held) -> None:
    assert states.transition(held.job, Status.CANCELLED, reason="cancelled", finished_at=timezone.now())


def _claim(held: Held) -> None:
    claimed = claim()
    assert claimed is not None and claimed.id == held.job.pk


def _manual_retry(held: Held) -> None:
    assert states.transition(held.job, Status.QUEUED, reason="manual retry", run_at=timezone.now(), finished_at=None)


def _rearm(held: Held) -> None:
    """The move rearm_failed() makes for a job whose parents run again (tests/jobs/test_workflow_retry.py
    drives it through whole workflows)."""
    assert states.transition(held.job, Status.SCHEDULED, reason="workflow retry", pending_parents=1, finished_at=None)


def _finish(to: str, **kwargs: object) -> Callable[[Held], None]:
    def move(held: Held) -> None:
        assert held.claimed is not None
        extra = {"retry_at": timezone.now() + HOUR} if to == Status.RETRYING else {}
        assert states.record(states.Finish(held.claimed, to, reason=f"finished {to}", **kwargs, **extra))

    return move


MOVES: dict[tuple[str, str], Callable[[Held], None]] = {
    (Status.SCHEDULED, Status.QUEUED): _promote,
    (Status.SCHEDULED, Status.CANCELLED): _cancel_waiting,
    (Status.QUEUED, Status.RUNNING): _claim,
    (Status.QUEUED, Status.CANCELLED): _cancel_waiting,
    (Status.RUNNING, Status.DONE): _finish(Status.DONE, result=3),
    (Status.RUNNING, Status.RETRYING): _finish(Status.RETRYING, failure=boom()),
    (Status.RUNNING, Status.FAILED): _finish(Status.FAILED, failure=boom()),
    (Status.RUNNING, Status.CANCELLED): _finish(Status.CANCELLED, failure=boom(Attempt.Outcome.CANCELLED)),
    (Status.RUNNING, Status.QUEUED): _finish(Status.QUEUED, failure=boom(Attempt.Outcome.INTERRUPTED)),
    (Status.RETRYING, Status.QUEUED): _promote,
    (Status.RETRYING, Status.CANCELLED): _cancel_waiting,
    (Status.DONE, Status.QUEUED): _manual_retry,
    (Status.FAILED, Status.QUEUED): _manual_retry,
    (Status.CANCELLED, Status.QUEUED): _manual_retry,
    (Status.FAILED, Status.SCHEDULED): _rearm,
    (Status.CANCELLED, Status.SCHEDULED): _rearm,
}
FORBIDDEN = [(old, new) for old in Status for new in Status if new not in ALLOWED[old]]


def edge_id(edge: tuple[str, str]) -> str:
    return f"{edge[0]}-to-{edge[1]}"


def test_every_allowed_edge_has_a_move_test() -> None:
    assert set(MOVES) == {(old, new) for old, targets in ALLOWED.items() for new in targets}


@pytest.mark.parametrize(("old", "new"), list(MOVES), ids=[edge_id(e) for e in MOVES])
def test_allowed_move_changes_status_and_writes_one_event(job_in: Callable[[str], Held], old: str, new: str) -> None:
    held = job_in(old)
    before = history(held.job)

    MOVES[(old, new)](held)

    after = history(held.job)
    assert status_of(held.job) == new
    assert after[: len(before)] == before
    assert [(o, n) for o, n, _ in after[len(before) :]] == [(old, new)]


@pytest.mark.parametrize(("old", "new"), FORBIDDEN, ids=[edge_id(e) for e in FORBIDDEN])
def test_forbidden_move_raises_invalid_transition_and_writes_nothing(
    job_in: Callable[[str], Held], old: str, new: str
) -> None:
    held = job_in(old)
    before = history(held.job)

    with pytest.raises(InvalidTransition) as caught:
        states.transition(held.job, new, reason="forbidden")

    assert caught.value.status_code == 409
    assert caught.value.message == f"Job {held.job.pk} is {old} and cannot become {new}"
    assert status_of(held.job) == old
    assert history(held.job) == before


@pytest.mark.parametrize("to", [Status.SCHEDULED, Status.RUNNING])
def test_finish_to_a_state_running_cannot_reach_raises_and_writes_nothing(
    job_in: Callable[[str], Held], to: str
) -> None:
    held = job_in(Status.RUNNING)
    assert held.claimed is not None

    with pytest.raises(InvalidTransition):
        states.record(states.Finish(held.claimed, to, reason="nonsense"))

    assert status_of(held.job) == Status.RUNNING
    assert Attempt.objects.count() == 0


# --- Stale writes ------------------------------------------------------------------------------------


def test_transition_from_stale_read_returns_false_and_writes_nothing(make_job: Callable[..., Job]) -> None:
    job = make_job()
    stale = Job.objects.get(pk=job.pk)
    assert claim() is not None

    assert states.transition(stale, Status.CANCELLED, reason="cancelled", finished_at=timezone.now()) is False

    assert stale.status == Status.QUEUED  # the caller's copy is not pretended to have moved
    assert status_of(job) == Status.RUNNING
    assert history(job) == [("", "queued", "enqueued"), ("queued", "running", "claimed")]


def test_transition_with_stale_attempt_returns_false_and_writes_nothing(make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert claim() is not None
    first_run = Job.objects.get(pk=job.pk)
    assert states.release_worker_jobs(worker=WORKER, reason="shutdown") == 1
    assert claim() is not None  # attempt 2, running again: same status, different attempt
    before = history(job)

    assert states.transition(first_run, Status.FAILED, reason="late", finished_at=timezone.now()) is False

    assert status_of(job) == Status.RUNNING
    assert history(job) == before


def test_finish_with_stale_attempt_writes_nothing(make_job: Callable[..., Job]) -> None:
    job = make_job()
    first = claim()
    assert first is not None
    assert states.release_worker_jobs(worker=WORKER, reason="shutdown") == 1
    second = claim()
    assert second is not None and second.attempt == 2
    before = history(job)

    assert states.record(states.Finish(first, Status.DONE, reason="done", result=3)) is False

    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (Status.RUNNING, 2, None)
    assert history(job) == before
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "interrupted")]


def test_finish_of_an_already_finished_attempt_writes_nothing(job_in: Callable[[str], Held]) -> None:
    held = job_in(Status.DONE)
    assert held.claimed is not None
    before = history(held.job)

    assert (
        states.record(states.Finish(held.claimed, Status.FAILED, reason="duplicate delivery", failure=boom())) is False
    )

    assert status_of(held.job) == Status.DONE
    assert history(held.job) == before
    assert Attempt.objects.count() == 1


def test_request_cancel_twice_writes_one_event(job_in: Callable[[str], Held]) -> None:
    held = job_in(Status.RUNNING)

    assert states.request_cancel(held.job, actor="alice") is True
    assert states.request_cancel(held.job, actor="alice") is False

    assert history(held.job)[-1] == ("running", "running", "cancel requested")
    assert [n for _, n, r in history(held.job) if r == "cancel requested"] == ["running"]


# --- Claim ---------------------------------------------------------------------------------------------


def test_claim_marks_job_running_with_lease_attempt_and_event(make_job: Callable[..., Job]) -> None:
    job = make_job(kwargs={}, args=[1, 2])

    claimed = claim(lease_seconds=30)

    assert claimed is not None
    assert (claimed.id, claimed.queue, claimed.task_name, claimed.args, claimed.payload) == (
        job.pk,
        "default",
        "tests.tasks.add",
        [1, 2],
        {},
    )
    assert (claimed.attempt, claimed.max_attempts, claimed.timeout, claimed.worker) == (1, 3, None, WORKER)
    job.refresh_from_db()
    assert (job.status, job.attempt, job.worker) == (Status.RUNNING, 1, WORKER)
    assert job.started_at == claimed.started_at
    lease_left = (job.lease_expires_at - timezone.now()).total_seconds()
    assert 20 < lease_left <= 30
    event = JobEvent.objects.filter(job=job).last()
    assert (event.old_status, event.new_status, event.attempt, event.actor) == ("queued", "running", 1, WORKER)


def test_claim_returns_none_when_nothing_is_queued(make_job: Callable[..., Job]) -> None:
    make_job(delay=3600)

    assert claim() is None


def test_claim_order_is_priority_desc_then_run_at_then_id(make_job: Callable[..., Job]) -> None:
    now = timezone.now()
    low = make_job(priority=0, run_at=now - datetime.timedelta(minutes=10))
    newer = make_job(priority=5, run_at=now - datetime.timedelta(minutes=1))
    older = make_job(priority=5, run_at=now - datetime.timedelta(minutes=5))
    older_twin = make_job(priority=5, run_at=now - datetime.timedelta(minutes=5))
    negative = make_job(priority=-5, run_at=now - datetime.timedelta(hours=1))

    order = [claim().id for _ in range(5)]  # type: ignore[union-attr]

    assert order == [older.pk, older_twin.pk, newer.pk, low.pk, negative.pk]
    assert claim() is None


def test_claim_skips_paused_queue_until_resumed(make_job: Callable[..., Job]) -> None:
    paused = make_job(queue="paused", priority=10)
    open_job = make_job(queue="open")
    services.pause_queue(name="paused")

    assert claim("paused", "open").id == open_job.pk  # type: ignore[union-attr]
    assert claim("paused", "open") is None
    assert status_of(paused) == Status.QUEUED

    services.resume_queue(name="paused")
    assert claim("paused", "open").id == paused.pk  # type: ignore[union-attr]


def test_claim_respects_queue_concurrency_limit_across_workers(make_job: Callable[..., Job]) -> None:
    services.set_queue_concurrency(name="limited", limit=2)
    jobs = [make_job(queue="limited") for _ in range(3)]
    first = claim("limited", worker="w1")
    second = claim("limited", worker="w2")
    assert first is not None and second is not None

    assert claim("limited", worker="w3") is None
    assert status_of(jobs[2]) == Status.QUEUED

    assert states.record(states.Finish(first, Status.DONE, reason="done", result=3))
    assert claim("limited", worker="w3").id == jobs[2].pk  # type: ignore[union-attr]


def test_concurrency_limit_of_one_queue_does_not_block_another(make_job: Callable[..., Job]) -> None:
    services.set_queue_concurrency(name="limited", limit=1)
    make_job(queue="limited")
    make_job(queue="limited")
    free = make_job(queue="free")
    assert claim("limited") is not None

    assert claim("limited", "free").id == free.pk  # type: ignore[union-attr]


def test_claim_only_takes_from_given_queues(make_job: Callable[..., Job]) -> None:
    other = make_job(queue="other", priority=100)
    mine = make_job(queue="emails")

    assert claim("default", "emails").id == mine.pk  # type: ignore[union-attr]
    assert claim("default", "emails") is None
    assert claim("other").id == other.pk  # type: ignore[union-attr]


def test_claim_with_no_queues_returns_none(make_job: Callable[..., Job]) -> None:
    make_job()

    assert states.claim_next(queues=[], worker=WORKER, lease_seconds=60) is None


def test_claim_next_runs_a_fixed_number_of_queries(make_job: Callable[..., Job], django_assert_num_queries) -> None:  # noqa: ANN001
    for _ in range(20):
        make_job()
    # SQLite: savepoint, UPDATE ... RETURNING, event INSERT, the rate limits' start records (an
    # INSERT ... SELECT over the limits that apply: none here, a lookup in an empty table), release.
    # PostgreSQL: savepoint, the lock on concurrency-limited queue rows, one UPDATE with the event
    # and start-record INSERTs in CTEs, release.
    expected = 4 if connection.vendor == "postgresql" else 5

    with django_assert_num_queries(expected):
        assert claim() is not None


# --- Leases and rescue ---------------------------------------------------------------------------------


def test_rescue_requeues_expired_job_with_attempts_left(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    assert claim(lease_seconds=-60) is not None  # its worker stopped heartbeating a minute ago

    assert states.rescue_expired() == 1

    job.refresh_from_db()
    assert (job.status, job.attempt, job.lease_expires_at, job.last_error) == (Status.QUEUED, 1, None, "worker lost")
    assert history(job)[-1] == ("running", "queued", "worker lost; requeued")
    assert list(Attempt.objects.values_list("job_id", "number", "outcome", "error_class", "error_message")) == [
        (job.pk, 1, "lost", "jobs.context.WorkerLost", f"lease expired while held by {WORKER}")
    ]
    assert claim().attempt == 2  # type: ignore[union-attr]


def test_rescue_fails_expired_job_whose_attempts_are_spent(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=1)
    assert claim(lease_seconds=-60) is not None

    assert states.rescue_expired() == 1

    job.refresh_from_db()
    assert (job.status, job.last_error, job.lease_expires_at) == (Status.FAILED, "worker lost", None)
    assert job.finished_at is not None
    assert history(job)[-1] == ("running", "failed", "worker lost")
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "lost")]


def test_interrupted_attempts_are_recorded_but_not_spent(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=1)
    for _ in range(2):  # two deploys in a row interrupt it
        claimed = claim()
        failure = states.Failure(outcome=Attempt.Outcome.INTERRUPTED, message="interrupted by shutdown")
        assert states.record(states.Finish(claimed, Status.QUEUED, "interrupted by shutdown", failure=failure))
    job.refresh_from_db()
    assert (job.status, job.attempt, job.interrupted, job.attempts_spent) == (Status.QUEUED, 2, 2, 0)

    third = claim(lease_seconds=-60)
    assert (third.attempt, third.interrupted, third.attempts_spent) == (3, 2, 1)  # type: ignore[union-attr]
    assert states.rescue_expired() == 1  # a crash is spent: its one attempt is gone
    assert status_of(job) == Status.FAILED


def test_rescue_counts_only_spent_attempts(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=2)
    claim()
    assert states.release_worker_jobs(worker=WORKER, reason="worker shut down before the job finished") == 1
    assert claim(lease_seconds=-60) is not None

    assert states.rescue_expired() == 1

    job.refresh_from_db()
    assert (job.status, job.attempt, job.interrupted) == (Status.QUEUED, 2, 1)  # 1 of 2 spent: requeued
    assert list(Attempt.objects.values_list("number", "outcome")) == [(1, "interrupted"), (2, "lost")]


def test_rescue_ends_expired_cancel_requested_job_cancelled(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    assert claim(lease_seconds=-60) is not None
    services.cancel_job(job_id=job.pk)

    assert states.rescue_expired() == 1

    assert status_of(job) == Status.CANCELLED
    assert history(job)[-1] == ("running", "cancelled", "worker lost after cancel was requested")


def test_rescue_leaves_job_with_live_lease_alone(make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert claim(lease_seconds=60) is not None
    before = history(job)

    assert states.rescue_expired() == 0

    assert status_of(job) == Status.RUNNING
    assert history(job) == before
    assert Attempt.objects.count() == 0


def test_renew_leases_extends_only_this_workers_current_claims(make_job: Callable[..., Job]) -> None:
    mine, theirs = make_job(), make_job()
    my_claim = claim(worker="w1", lease_seconds=-60)
    their_claim = claim(worker="w2", lease_seconds=-60)
    assert my_claim is not None and their_claim is not None

    renewed = states.renew_leases(worker="w1", claims=[(mine.pk, 1), (theirs.pk, 1), (mine.pk, 7)], lease_seconds=60)

    assert renewed == 1
    assert states.rescue_expired() == 1  # only the other worker's job had lapsed
    assert (status_of(mine), status_of(theirs)) == (Status.RUNNING, Status.QUEUED)


# --- Promote and release -------------------------------------------------------------------------------


def test_promote_due_queues_due_scheduled_and_retrying_jobs_and_leaves_future_ones(
    make_job: Callable[..., Job],
) -> None:
    retrying_due, retrying_later = make_job(), make_job()
    for job in (retrying_due, retrying_later):
        claimed = claim()
        assert claimed is not None and claimed.id == job.pk
        assert states.record(
            states.Finish(claimed, Status.RETRYING, reason="retry", failure=boom(), retry_at=timezone.now() + HOUR)
        )
    scheduled_due, scheduled_later = make_job(delay=3600), make_job(delay=3600)
    make_due(retrying_due)
    make_due(scheduled_due)

    assert states.promote_due() == 2

    assert [status_of(j) for j in (scheduled_due, retrying_due, scheduled_later, retrying_later)] == [
        Status.QUEUED,
        Status.QUEUED,
        Status.SCHEDULED,
        Status.RETRYING,
    ]
    assert history(scheduled_due)[-1] == ("scheduled", "queued", "due")
    assert history(retrying_due)[-1] == ("retrying", "queued", "due")
    assert states.promote_due() == 0


def test_release_worker_jobs_requeues_only_that_workers_running_jobs(make_job: Callable[..., Job]) -> None:
    mine, theirs, waiting = make_job(), make_job(), make_job()
    assert claim(worker="w1").id == mine.pk  # type: ignore[union-attr]
    assert claim(worker="w2").id == theirs.pk  # type: ignore[union-attr]

    assert states.release_worker_jobs(worker="w1", reason="shutdown") == 1

    mine.refresh_from_db()
    assert (mine.status, mine.lease_expires_at) == (Status.QUEUED, None)
    assert history(mine)[-1] == ("running", "queued", "shutdown")
    assert list(Attempt.objects.values_list("job_id", "number", "worker", "outcome", "error_message")) == [
        (mine.pk, 1, "w1", "interrupted", "shutdown")
    ]
    assert status_of(theirs) == Status.RUNNING
    assert history(waiting) == [("", "queued", "enqueued")]


# --- Late outcomes: stored after a rescue, unless a later attempt started -----------------------------


def rescued(job: Job) -> states.ClaimedJob:
    """Claim `job` with a lease that ran out, and let the rescuer requeue it (as when the database
    refused the worker's writes, renewals included, for longer than a lease)."""
    claimed = claim(lease_seconds=-60)
    assert claimed is not None and claimed.id == job.pk
    assert states.rescue_expired() == 1
    assert status_of(job) == Status.QUEUED
    return claimed


def test_late_outcome_of_a_rescued_job_replaces_the_rescue(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    claimed = rescued(job)

    assert states.record(states.Finish(claimed, Status.DONE, "done", result=7))

    job.refresh_from_db()
    assert (job.status, job.attempt, job.result, job.last_error, job.lease_expires_at) == (Status.DONE, 1, 7, "", None)
    assert job.finished_at is not None
    assert list(Attempt.objects.filter(job=job).values_list("number", "outcome")) == [(1, "done")]
    assert history(job)[-2:] == [
        ("running", "queued", "worker lost; requeued"),
        ("queued", "done", "done (stored late: its lease had run out)"),
    ]
    assert claim() is None  # it does not run again


def test_late_failure_of_a_rescued_job_is_retried_as_usual(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    claimed = rescued(job)
    retry_at = timezone.now() + HOUR

    assert states.record(states.Finish(claimed, Status.RETRYING, "will retry", failure=boom(), retry_at=retry_at))

    job.refresh_from_db()
    assert (job.status, job.attempt, job.run_at, job.last_error) == (
        Status.RETRYING,
        1,
        retry_at,
        "builtins.ValueError: boom",
    )
    assert list(Attempt.objects.filter(job=job).values_list("number", "outcome", "error_message")) == [
        (1, "failed", "boom")
    ]


def test_late_outcome_is_discarded_once_the_next_attempt_started(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    claimed = rescued(job)
    assert claim().attempt == 2  # type: ignore[union-attr]

    assert not states.record(states.Finish(claimed, Status.DONE, "done", result=7))

    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (Status.RUNNING, 2, None)
    assert list(Attempt.objects.filter(job=job).values_list("number", "outcome")) == [(1, "lost")]


def test_late_outcome_leaves_a_job_cancelled_after_its_rescue_cancelled(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=3)
    claimed = rescued(job)
    services.cancel_job(job_id=job.pk)

    assert not states.record(states.Finish(claimed, Status.DONE, "done", result=7))

    assert status_of(job) == Status.CANCELLED
    assert list(Attempt.objects.filter(job=job).values_list("outcome", flat=True)) == ["lost"]


def test_late_outcome_leaves_a_job_the_rescuer_failed_failed(make_job: Callable[..., Job]) -> None:
    job = make_job(max_attempts=1)
    claimed = claim(lease_seconds=-60)
    assert states.rescue_expired() == 1

    assert not states.record(states.Finish(claimed, Status.DONE, "done", result=7))

    assert status_of(job) == Status.FAILED


def test_late_outcome_never_touches_a_job_released_at_shutdown(make_job: Callable[..., Job]) -> None:
    """Only the rescuer's requeue (its 'lost' attempt) marks a job whose outcome may come late."""
    job = make_job(max_attempts=3)
    claimed = claim()
    assert states.release_worker_jobs(worker=WORKER, reason="worker shut down before the job finished") == 1

    assert not states.record(states.Finish(claimed, Status.DONE, "done", result=7))

    assert status_of(job) == Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_worker_transaction_stores_a_late_outcome_and_does_not_reclaim_that_job(
    make_job: Callable[..., Job],
) -> None:
    job, other = make_job(max_attempts=3), make_job()
    claimed = rescued(job)

    written, next_claim = states.finish_and_claim(
        states.Finish(claimed, Status.DONE, "done", result=7), queues=["default"], worker=WORKER, lease_seconds=60
    )

    assert written is True
    assert next_claim is not None and next_claim.id == other.pk
    job.refresh_from_db()
    assert (job.status, job.attempt, job.result) == (Status.DONE, 1, 7)
    assert list(Attempt.objects.filter(job=job).values_list("number", "outcome")) == [(1, "done")]
