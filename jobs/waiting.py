"""Why a waiting job has not started yet, in one line for the job page and the API's job detail.

One function; each area of issue 12 adds its case in a block of its own (snoozed, retry N of M,
waiting for a worker that has the task, a deadline).
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from jobs.models import Job
from jobs.status import WAITING


def _moment(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def waiting_reason(job: Job) -> str | None:
    """Why `job` waits, or what ends its wait; None when it is not waiting or nothing needs saying."""
    if job.status not in WAITING:
        return None
    # Expiry (issue 12): a deadline to start by. Past it, the claim skips the job and the workers'
    # housekeeping ends it cancelled within a tick.
    if job.expires_at is not None:
        if job.expires_at <= timezone.now():
            return f"expired at {_moment(job.expires_at)}: ends cancelled without running"
        return f"expires at {_moment(job.expires_at)} if not started"
    return None
