"""The state machine's decisions (jobs/states/decisions.py and history.py's value rows), without a database."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from jobs.exceptions import InvalidTransition
from jobs.models import Attempt
from jobs.states import ClaimedJob, Failure, Finish, attempts_spent
from jobs.states.decisions import check_move, counts_as_interrupted, finish_fields, late_reason, rescue_move
from jobs.states.history import ATTEMPT_COLUMNS, EVENT_COLUMNS, attempt_row, event_row
from jobs.status import ALLOWED, Status

NOW = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(minutes=5)
CLAIMED = ClaimedJob(
    id=7,
    queue="default",
    task_name="tests.add",
    args=[1, 2],
    payload={},
    attempt=2,
    max_attempts=3,
    timeout=None,
    worker="w1",
    started_at=NOW,
)
BOOM = Failure(outcome=Attempt.Outcome.FAILED, error_class="builtins.ValueError", message="boom", traceback="tb")


def finish(
    to: str, *, result: Any = None, failure: Failure | None = None, retry_at: datetime.datetime | None = None
) -> Finish:
    return Finish(CLAIMED, to, "test", result=result, failure=failure, retry_at=retry_at, ended_at=LATER)


def test_check_move_allows_every_allowed_edge_and_refuses_the_rest() -> None:
    for old in Status.values:
        for new in Status.values:
            if new in ALLOWED[old]:
                check_move(1, old, new)
            else:
                with pytest.raises(InvalidTransition):
                    check_move(1, old, new)


def test_attempts_spent_leaves_out_interrupted_attempts() -> None:
    assert attempts_spent(attempt=3, interrupted=2) == 1
    assert CLAIMED.attempts_spent == 2


def test_done_sets_result_finish_time_full_progress_and_clears_the_error() -> None:
    fields = finish_fields(finish(Status.DONE, result={"sum": 3}))

    assert fields == {
        "status": Status.DONE,
        "lease_expires_at": None,
        "result": {"sum": 3},
        "finished_at": LATER,
        "last_error": "",
        "progress": 1.0,
    }


def test_retry_sets_run_at_and_last_error_but_no_finish_time() -> None:
    fields = finish_fields(finish(Status.RETRYING, failure=BOOM, retry_at=LATER))

    assert fields == {
        "status": Status.RETRYING,
        "lease_expires_at": None,
        "run_at": LATER,
        "last_error": "builtins.ValueError: boom",
    }


@pytest.mark.parametrize("to", [Status.FAILED, Status.CANCELLED])
def test_failed_and_cancelled_set_the_finish_time(to: str) -> None:
    assert finish_fields(finish(to, failure=BOOM))["finished_at"] == LATER


def test_finish_fields_pass_datetimes_and_the_result_through_the_adapters() -> None:
    fields = finish_fields(finish(Status.DONE, result=3), dt=lambda v: f"dt:{v:%H:%M}", json=lambda v: f"json:{v}")

    assert fields["finished_at"] == "dt:12:05" and fields["result"] == "json:3"


def test_finish_to_a_state_running_cannot_reach_raises() -> None:
    with pytest.raises(InvalidTransition):
        finish_fields(finish(Status.SCHEDULED))


def test_last_error_is_cut_to_the_error_cap() -> None:
    long = Failure(outcome=Attempt.Outcome.FAILED, error_class="E", message="x" * 20_000)

    assert len(finish_fields(finish(Status.FAILED, failure=long))["last_error"]) == 10_000


def test_only_an_interrupted_attempt_counts_as_interrupted() -> None:
    interrupted = Failure(outcome=Attempt.Outcome.INTERRUPTED, message="shutdown")

    assert counts_as_interrupted(finish(Status.QUEUED, failure=interrupted))
    assert not counts_as_interrupted(finish(Status.FAILED, failure=BOOM))
    assert not counts_as_interrupted(finish(Status.DONE))


def test_late_reason_says_the_outcome_was_stored_late() -> None:
    assert late_reason("done") == "done (stored late: its lease had run out)"


@pytest.mark.parametrize(
    ("cancel_requested", "attempt", "interrupted", "expected"),
    [
        (False, 1, 0, (Status.QUEUED, "worker lost; requeued")),
        (False, 3, 0, (Status.FAILED, "worker lost")),
        (False, 3, 1, (Status.QUEUED, "worker lost; requeued")),  # an interrupted attempt is not spent
        (True, 1, 0, (Status.CANCELLED, "worker lost after cancel was requested")),
    ],
)
def test_rescue_requeues_fails_or_cancels(
    cancel_requested: bool, attempt: int, interrupted: int, expected: tuple[str, str]
) -> None:
    to, reason, fields = rescue_move(
        cancel_requested=cancel_requested, attempt=attempt, interrupted=interrupted, max_attempts=3, now=NOW
    )

    assert (to, reason) == expected
    assert fields["status"] == to and fields["lease_expires_at"] is None and fields["last_error"] == "worker lost"
    assert ("finished_at" in fields) is (to != Status.QUEUED)


def test_event_row_follows_the_column_list_and_cuts_reason_and_actor() -> None:
    row = event_row(job_id=1, queue="q", old="", new="queued", attempt=0, reason="r" * 600, actor="a" * 300, at=NOW)

    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    assert len(values["reason"]) == 500 and len(values["actor"]) == 200 and values["created_at"] == NOW


def test_attempt_row_of_a_success_and_of_a_failure() -> None:
    common = {"job_id": 1, "number": 2, "worker": "w1", "started_at": NOW, "finished_at": LATER}
    done = dict(
        zip(ATTEMPT_COLUMNS, attempt_row(**common, failure=None, progress=0.5, progress_message="m"), strict=True)
    )
    huge = Failure(outcome=Attempt.Outcome.FAILED, error_class="E" * 300, message="m" * 20_000, traceback="t" * 200_000)
    failed = dict(
        zip(ATTEMPT_COLUMNS, attempt_row(**common, failure=huge, progress=None, progress_message=""), strict=True)
    )

    assert done["outcome"] == Attempt.Outcome.DONE and done["error_message"] == "" and done["progress"] == 0.5
    assert failed["outcome"] == Attempt.Outcome.FAILED
    assert (len(failed["error_class"]), len(failed["error_message"]), len(failed["traceback"])) == (
        255,
        10_000,
        100_000,
    )
