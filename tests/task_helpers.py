"""Jobs brought to an outcome through the state machine (the per-task figures', dependencies', batches' and
workflows' tests)."""

from __future__ import annotations

from typing import Any

from jobs.models import Job
from jobs.status import Status


def finish_job(make_job: Any, task: str = "tests.tasks.add", *, to: str = Status.DONE, error: str = "") -> Job:
    """A job of `task` made through the services, claimed and ended as `to` (done, failed or retrying);
    `error` ("module.Class: message") is the failure of a failed or retrying attempt."""
    from jobs import states

    job = make_job(task, queue="figures", max_attempts=1 if to == Status.FAILED else 3)
    claimed = states.claim_next(queues=["figures"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    failure = None
    if to != Status.DONE:
        error_class, _, message = error.partition(": ")
        failure = states.Failure(outcome="failed", error_class=error_class, message=message, traceback="Traceback...")
    assert states.record(states.Finish(claimed, to, reason=to, result=3, failure=failure))
    return Job.objects.get(pk=job.pk)


def live_worker(name: str, tasks: list[str] | None) -> str:
    """A live worker row listing `tasks` (None: a worker from before workers listed their tasks)."""
    from django.utils import timezone

    from jobs.models import WorkerProcess

    now = timezone.now()
    WorkerProcess.objects.create(
        name=name,
        host="host-a",
        pid=1,
        queues=["default"],
        concurrency=1,
        worker_type="thread",
        tasks=tasks,
        started_at=now,
        last_heartbeat=now,
    )
    return name


def run_one(to: str = Status.DONE, *, queue: str = "default") -> int:
    """Claim the next runnable job of `queue` and finish it `to` (done, or failed with "boom");
    returns its id."""
    from jobs import states

    claimed = states.claim_next(queues=[queue], worker="w1", lease_seconds=30)
    assert claimed is not None
    failure = None if to == Status.DONE else states.Failure(outcome="failed", message="boom")
    assert states.record(states.Finish(claimed=claimed, to=to, reason=to, failure=failure))
    return claimed.id
