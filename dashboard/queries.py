"""Reads the dashboard needs that jobs.selectors does not offer yet (candidates to move there).

Every function here only reads, with a bounded number of queries whatever the table size.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max
from django.http import QueryDict

from jobs.models import Job, JobEvent, JobLog
from jobs.status import Status

# The columns a job row shows: never the payload or result, which can be large.
ROW_FIELDS = (
    "id",
    "queue",
    "task_name",
    "status",
    "priority",
    "attempt",
    "max_attempts",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "progress",
    "cancel_requested_at",
    "worker",
)


@dataclass(frozen=True)
class JobFilters:
    """The jobs list's filters, as the URL carries them."""

    status: str = ""
    queue: str = ""
    task: str = ""
    priority: int | None = None
    job_id: int | None = None  # the search box: one job by id

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.queue or self.task or self.priority is not None or self.job_id is not None)

    def matches(self, *, job_id: int, status: str, queue: str, task: str, priority: int) -> bool:
        """Whether a job with these values belongs in a list with these filters (no query)."""
        return (
            (not self.status or status == self.status)
            and (not self.queue or queue == self.queue)
            and (not self.task or task == self.task)
            and (self.priority is None or priority == self.priority)
            and (self.job_id is None or job_id == self.job_id)
        )


def job_page(*, filters: JobFilters, before_id: int | None, limit: int) -> tuple[list[Job], int | None]:
    """One page of jobs, newest first, keyset-paginated on id (unique, so it is its own tie-break).

    Returns the rows and the `before_id` of the next page (None on the last page). One query.
    """
    qs = Job.objects.only(*ROW_FIELDS).order_by("-id")
    if filters.job_id is not None:
        qs = qs.filter(pk=filters.job_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.queue:
        qs = qs.filter(queue=filters.queue)
    if filters.task:
        qs = qs.filter(task_name=filters.task)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    rows = list(qs[: limit + 1])  # one extra row says whether a next page exists
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None


def rows_by_id(ids: list[int]) -> list[Job]:
    """Job rows (list columns only) for `ids`, newest first. One query."""
    return list(Job.objects.only(*ROW_FIELDS).filter(pk__in=ids).order_by("-id"))


def last_event_id() -> int:
    """The newest JobEvent id (0 when there is none): the cursor a page is rendered at. Uses the primary key."""
    return JobEvent.objects.aggregate(last=Max("id"))["last"] or 0


def last_log_id() -> int:
    """The newest JobLog id (0 when there is none). Uses the primary key."""
    return JobLog.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(after_id: int, *, limit: int) -> list[tuple[int, int]]:
    """(event id, job id) of the events after `after_id`, oldest first, at most `limit`. An index range scan."""
    return list(JobEvent.objects.filter(id__gt=after_id).order_by("id").values_list("id", "job_id")[:limit])


def logs_after(after_id: int, *, job_ids: list[int], limit: int) -> list[tuple[int, int]]:
    """(log id, job id) of log lines after `after_id` of `job_ids`, oldest first, at most `limit`."""
    return list(
        JobLog.objects.filter(id__gt=after_id, job_id__in=job_ids).order_by("id").values_list("id", "job_id")[:limit]
    )


def job_progress(job_ids: list[int]) -> dict[int, tuple[str, float | None, str]]:
    """(status, progress, progress message) of each job in `job_ids`. One query by primary key."""
    rows = Job.objects.filter(pk__in=job_ids).values_list("pk", "status", "progress", "progress_message")
    return {pk: (status, progress, message) for pk, status, progress, message in rows}


def int_or_none(value: str | None) -> int | None:
    """The integer in a query-string value, or None when it is empty or not a number."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_filters(query: QueryDict) -> JobFilters:
    """The jobs list's filters from a query string; unknown or malformed values are ignored."""
    status = query.get("status", "")
    search = query.get("q", "").strip().lstrip("#")
    return JobFilters(
        status=status if status in Status.values else "",
        queue=query.get("queue", "").strip()[:100],
        task=query.get("task", "").strip()[:255],
        priority=int_or_none(query.get("priority")),
        job_id=int_or_none(search),
    )
