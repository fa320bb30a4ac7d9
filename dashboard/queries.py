"""The jobs list's URL: its query string read into jobs.listing.JobFilters, and the columns a row shows.

Malformed values are ignored rather than refused: a hand-edited or old link still opens a page.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from django.http import QueryDict

from jobs.listing import JobFilters
from jobs.status import Status

# The columns a job row shows: never the payload or result, which can be large.
ROW_FIELDS = (
    "id",
    "queue",
    "task_name",
    "status",
    "priority",
    "attempt",
    "interrupted",
    "max_attempts",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "progress",
    "cancel_requested_at",
    "worker",
)


# "payload.user_id:42" or "payload.user.id:\"abc\"": a key path of plain names, then the value.
PAYLOAD_SEARCH = re.compile(r"^payload((?:\.[A-Za-z0-9_-]{1,100}){1,5}):(.*)$", re.DOTALL)


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


def _payload_search(text: str) -> tuple[tuple[str, ...], Any]:
    """("user_id",), 42 from "payload.user_id:42"; ((), None) when the text is not a payload search."""
    found = PAYLOAD_SEARCH.match(text)
    if not found:
        return (), None
    raw = found.group(2).strip()
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # plain text: payload.email:a@example.com
    return tuple(found.group(1).lstrip(".").split(".")), value


def parse_filters(query: QueryDict) -> JobFilters:
    """The jobs list's filters from a query string; unknown or malformed values are ignored."""
    status = query.get("status", "")
    search = query.get("q", "").strip()[:500]
    path, value = _payload_search(search)
    return JobFilters(
        status=status if status in Status.values else "",
        queue=query.get("queue", "").strip()[:100],
        task=query.get("task", "").strip()[:255],
        priority=int_or_none(query.get("priority")),
        job_id=None if path else int_or_none(search.lstrip("#")),
        worker=query.get("worker", "").strip()[:200],
        created_after=_time_or_none(query.get("created_after")),
        created_before=_time_or_none(query.get("created_before")),
        payload_path=path,
        payload_value=value,
        oldest_first=query.get("order") == "oldest",
    )
