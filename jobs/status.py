"""The job states and the table of allowed moves between them (pure data; the jobs/states package applies it)."""

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
    Status.FAILED: frozenset({Status.QUEUED}),
    Status.CANCELLED: frozenset({Status.QUEUED}),
}

WAITING = frozenset({Status.SCHEDULED, Status.QUEUED, Status.RETRYING})
ACTIVE = WAITING | {Status.RUNNING}
FINISHED = frozenset({Status.DONE, Status.FAILED, Status.CANCELLED})
