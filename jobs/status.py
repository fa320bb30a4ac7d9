"""The job states, the table of allowed moves between them, and how attempts are counted (pure: the
jobs/states package applies them; the model and the state machine both need them, so they live below both)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")  # run_at in the future
    QUEUED = "queued", _("Queued")  # runnable now
    RUNNING = "running", _("Running")  # claimed by a worker, under lease
    RETRYING = "retrying", _("Retrying")  # failed with attempts left; run_at = next try
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")  # attempts spent or non-retryable: the dead-letter set
    CANCELLED = "cancelled", _("Cancelled")


ALLOWED: dict[str, frozenset[str]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED}),
    # running -> queued: a drained or rescued job goes back to the queue.
    Status.RUNNING: frozenset({Status.DONE, Status.RETRYING, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
    Status.RETRYING: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.DONE: frozenset({Status.QUEUED}),
    # failed|cancelled -> scheduled: a workflow retry re-arms a job to wait for its parents' new run
    # (jobs/states/rearm.py); a done job is never re-armed.
    Status.FAILED: frozenset({Status.QUEUED, Status.SCHEDULED}),
    Status.CANCELLED: frozenset({Status.QUEUED, Status.SCHEDULED}),
}

WAITING = frozenset({Status.SCHEDULED, Status.QUEUED, Status.RETRYING})
ACTIVE = WAITING | {Status.RUNNING}
FINISHED = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})


def attempts_spent(*, attempt: int, interrupted: int, snoozes: int = 0) -> int:
    """The attempts that count against max_attempts: every attempt started, less those our own
    shutdown interrupted and those the task snoozed (jobs.context.snooze). Two deploys in a row must
    not fail a healthy job, so an interrupted attempt is recorded (outcome `interrupted`,
    Job.interrupted + 1) but not spent; a snoozed one likewise (outcome `snoozed`, Job.snoozes + 1).
    A lease rescue after a crash is spent: the job itself may be what killed its worker."""
    return attempt - interrupted - snoozes


# Dependencies (issue 13): what a parent that failed for good or was cancelled does to a job waiting
# for it. "cancel": the job is cancelled; "run": it runs anyway once every parent has finished;
# "only": it runs only if some parent failed or was cancelled, and is cancelled when every parent
# is done (a batch's on_failure callback).
AFTER_FAILURE_MODES = ("cancel", "run", "only")


def cancelled_when_due(*, failed_parent: int | None, after_failure: str) -> bool:
    """Whether a job with no parents left to wait for ends cancelled instead of running: a parent
    failed and the job's mode is "cancel", or none failed and it is "only"."""
    if failed_parent is None:
        return after_failure == "only"
    return after_failure == "cancel"
