"""What the engine's loop asks the state machine between moves: when the next job falls due, and
which of its running jobs someone asked to cancel.

Kept beside the moves they feed rather than in jobs/selectors.py, the edges' read side: both read
only the columns the state machine itself writes (run_at of waiting jobs, cancel_requested_at).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import connection

from jobs.models import Job
from jobs.states import sql
from jobs.status import Status


def next_due_at() -> datetime.datetime | None:
    """The earliest run_at among scheduled and retrying jobs not waiting for parents, or None."""
    if connection.vendor == "sqlite":  # through the due index by name: see sql.next_due_sqlite
        job = next(iter(Job.objects.raw(sql.next_due_sqlite(connection.alias))), None)
        return None if job is None else job.run_at
    return Job.objects.ready_later().order_by("run_at").values_list("run_at", flat=True).first()


def cancel_requested(claims: Iterable[tuple[int, int]]) -> set[int]:
    """Ids among the given running claims that someone asked to cancel."""
    ids = [job_id for job_id, _ in claims]
    if not ids:
        return set()
    return set(
        Job.objects.filter(pk__in=ids, status=Status.RUNNING, cancel_requested_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
