"""A worker's "record the last outcome, claim the next job" is one transaction: on PostgreSQL outside
any atomic block it is the pipeline's implicit transaction, committed at its Sync; if any statement
fails, none of it is kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jobs import states
from jobs.models import Attempt, Job, JobEvent
from jobs.states import sql
from jobs.status import Status

# Committed data, as a worker sees it: no test transaction around the call under test.
pytestmark = pytest.mark.django_db(transaction=True)


def claim(queue: str = "default") -> states.ClaimedJob:
    claimed = states.claim_next(queues=[queue], worker="w", lease_seconds=30)
    assert claimed is not None
    return claimed


def test_outcome_and_next_claim_commit_together(make_job: Callable[..., Job]) -> None:
    first, second = make_job(), make_job()
    running = claim()

    written, claimed = states.finish_and_claim(
        states.Finish(running, Status.DONE, "done", result=7), queues=["default"], worker="w", lease_seconds=30
    )

    assert written is True and claimed is not None and claimed.id == second.pk
    assert Job.objects.get(pk=first.pk).status == Status.DONE and Job.objects.get(pk=first.pk).result == 7
    assert Job.objects.get(pk=second.pk).status == Status.RUNNING
    assert Attempt.objects.filter(job_id=first.pk).count() == 1
    assert JobEvent.objects.filter(job_id=second.pk, new_status=Status.RUNNING).count() == 1


BROKEN_CLAIMS = {
    # The database refuses the claim after it has run the outcome's statement.
    "server": lambda sql: sql.replace("attempt = attempt + 1", "no_such_column = 1"),
    # The driver refuses the claim before sending it (a Python-side error mid-transaction).
    "client": lambda sql: sql.replace("worker = %s", "worker = 'w'"),
}


@pytest.mark.parametrize("where", sorted(BROKEN_CLAIMS))
def test_a_failing_claim_takes_the_outcome_back_with_it(
    where: str, make_job: Callable[..., Job], monkeypatch: Any
) -> None:
    first, second = make_job(), make_job()
    running = claim()
    real = sql.claim_sql
    monkeypatch.setattr(sql, "claim_sql", lambda **kw: BROKEN_CLAIMS[where](real(**kw)))
    outcome = states.Finish(running, Status.DONE, "done", result=7)

    with pytest.raises(Exception):  # noqa: B017, PT011 - the database's or the driver's own error
        states.finish_and_claim(outcome, queues=["default"], worker="w", lease_seconds=30)

    job = Job.objects.get(pk=first.pk)
    assert job.status == Status.RUNNING and job.result is None  # the outcome was rolled back
    assert not Attempt.objects.filter(job_id=first.pk).exists()
    assert Job.objects.get(pk=second.pk).status == Status.QUEUED

    monkeypatch.undo()  # the worker's next try writes the same outcome
    written, claimed = states.finish_and_claim(outcome, queues=["default"], worker="w", lease_seconds=30)
    assert written is True and claimed is not None and claimed.id == second.pk
    assert Job.objects.get(pk=first.pk).result == 7
