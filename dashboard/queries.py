"""The jobs list's URL: its query string read into jobs.listing.JobFilters and written back from them,
and the columns a row shows.

A search or task that cannot be run is refused (InvalidSearch); other malformed values are ignored.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import QueryDict

from jobs.listing import JobFilters, parse_search, resolve_task_filter
from jobs.status import Status

# The columns a job row shows: never the payload or result, which can be large.
ROW_FIELDS = (
    "id",
    "queue",
    "task_name",
    "task_version",  # shown as "@version" after the task's name
    "status",
    "priority",
    "attempt",
    "interrupted",
    "snoozes",
    "max_attempts",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "progress",
    "cancel_requested_at",
    "worker",
)


def int_or_none(value: str | None) -> int | None:
    """The integer in a query-string value, or None when it is empty or not a number."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _time_or_none(value: str | None) -> datetime.datetime | None:
    """An ISO date or date-time ("2024-05-01T12:30"); naive values are UTC. None when empty or malformed."""
    try:
        moment = datetime.datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def parse_filters(query: QueryDict) -> JobFilters:
    """The jobs list's filters from a query string.

    The search (`q`) and the task are read as the API and the CLI read them (listing.parse_search,
    listing.resolve_task_filter): one that cannot be run raises InvalidSearch, which the page shows,
    rather than being dropped (a dropped search lists, and offers to act on, every job). Other
    malformed values are ignored, so a hand-edited or old link still opens a page.
    """
    status = query.get("status", "")
    return JobFilters(
        status=status if status in Status.values else "",
        queue=query.get("queue", "").strip()[:100],
        task=resolve_task_filter(query.get("task", "")[:300]),
        priority=int_or_none(query.get("priority")),
        worker=query.get("worker", "").strip()[:200],
        created_after=_time_or_none(query.get("created_after")),
        created_before=_time_or_none(query.get("created_before")),
        oldest_first=query.get("order") == "oldest",
        **parse_search(query.get("q", "")),
    )


def query_string(filters: JobFilters, **changes: Any) -> str:
    """The query string for these filters with `changes` applied (empty values dropped): what
    parse_filters reads back."""
    values = {
        "status": filters.status,
        "queue": filters.queue,
        "task": filters.task,
        "priority": "" if filters.priority is None else filters.priority,
        "worker": filters.worker,
        "created_after": filters.created_after_text,
        "created_before": filters.created_before_text,
        "q": filters.search,
        "order": "oldest" if filters.oldest_first else "",
        **changes,
    }
    query = QueryDict(mutable=True)
    for key, value in values.items():
        if value not in ("", None):
            query[key] = str(value)
    return query.urlencode()
