"""Reads the dashboard needs that jobs.selectors does not offer yet (candidates to move there).

Every function here only reads, with a bounded number of queries whatever the table size.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Max
from django.db.models.fields.json import KeyTransform
from django.http import QueryDict

from jobs.admin.pagination import COUNT_CAP
from jobs.models import Job, JobEvent, JobLog, JobQuerySet
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


# "payload.user_id:42" or "payload.user.id:\"abc\"": a key path of plain names, then the value.
PAYLOAD_SEARCH = re.compile(r"^payload((?:\.[A-Za-z0-9_-]{1,100}){1,5}):(.*)$", re.DOTALL)
INPUT_TIME = "%Y-%m-%dT%H:%M:%S"  # how the time range is written in the URL and the form


@dataclass(frozen=True)
class JobFilters:
    """The jobs list's filters, as the URL carries them."""

    status: str = ""
    queue: str = ""
    task: str = ""
    priority: int | None = None
    job_id: int | None = None  # the search box: one job by id ("123" or "#123")
    worker: str = ""
    created_after: datetime.datetime | None = None  # inclusive, aware UTC
    created_before: datetime.datetime | None = None  # exclusive
    payload_path: tuple[str, ...] = ()  # the search box: payload.<path>:<value>
    payload_value: Any = None  # the value as JSON (42, "abc", true), else the text typed

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.narrowed)

    @property
    def counts_by_sample(self) -> bool:
        """Whether no (column, status) index serves per-state counts within these filters: the task,
        worker, priority or time range narrow the list (the queue has job_queue_status_idx)."""
        return bool(self.task or self.worker or self.priority is not None or self.created_after or self.created_before)

    @property
    def narrowed(self) -> bool:
        """Whether anything other than the state narrows the list (then the state counts are its own)."""
        return bool(
            self.queue
            or self.task
            or self.priority is not None
            or self.job_id is not None
            or self.worker
            or self.created_after
            or self.created_before
            or self.payload_path
        )

    @property
    def search(self) -> str:
        """The search box's text, as the URL carries it."""
        if self.job_id is not None:
            return str(self.job_id)
        if self.payload_path:
            return "payload." + ".".join(self.payload_path) + ":" + _value_text(self.payload_value)
        return ""

    @property
    def created_after_text(self) -> str:
        return self.created_after.strftime(INPUT_TIME) if self.created_after else ""

    @property
    def created_before_text(self) -> str:
        return self.created_before.strftime(INPUT_TIME) if self.created_before else ""

    def matches(self, *, job_id: int, status: str, queue: str, task: str, priority: int) -> bool:
        """Whether a new job with these values belongs in a list with these filters (no query).

        A new job has no worker yet and was created now; its payload is not known here, so a
        payload search or a worker or end-time filter never takes new jobs live (reload shows them).
        """
        if self.worker or self.created_before or self.payload_path:
            return False
        return (
            (not self.status or status == self.status)
            and (not self.queue or queue == self.queue)
            and (not self.task or task == self.task)
            and (self.priority is None or priority == self.priority)
            and (self.job_id is None or job_id == self.job_id)
        )


def _value_text(value: Any) -> str:
    """A payload search value as typed: text as it is, unless it would read back as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value)


def filtered_jobs(filters: JobFilters, *, with_status: bool = True) -> JobQuerySet:
    """The jobs matching `filters` (the state too unless `with_status` is False), unordered.

    The payload search compares one JSON key with an exact value. No index serves it: the database
    reads the rows the other filters leave, newest first, until it has the rows asked for.
    """
    qs = Job.objects.all()
    if filters.job_id is not None:
        qs = qs.filter(pk=filters.job_id)
    if with_status and filters.status:
        qs = qs.filter(status=filters.status)
    if filters.queue:
        qs = qs.filter(queue=filters.queue)
    if filters.task:
        qs = qs.filter(task_name=filters.task)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.worker:
        qs = qs.filter(worker=filters.worker)
    if filters.created_after is not None:
        qs = qs.filter(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        qs = qs.filter(created_at__lt=filters.created_before)
    if filters.payload_path:
        qs = payload_equals(qs, path=filters.payload_path, value=filters.payload_value)
    return qs


def payload_equals(qs: JobQuerySet, *, path: tuple[str, ...], value: Any) -> JobQuerySet:
    """`qs` narrowed to jobs whose payload holds exactly `value` at the key `path` (("user", "id")).

    KeyTransform names the keys explicitly, so a key called "contains" or "exact" is a key, not a lookup.
    """
    key: Any = "payload"
    for name in path:
        key = KeyTransform(name, key)
    return qs.alias(payload_key=key).filter(payload_key=value)


def job_page(*, filters: JobFilters, before_id: int | None, limit: int) -> tuple[list[Job], int | None]:
    """One page of jobs, newest first, keyset-paginated on id (unique, so it is its own tie-break).

    Returns the rows and the `before_id` of the next page (None on the last page). One query.
    """
    qs = filtered_jobs(filters).only(*ROW_FIELDS).order_by("-id")
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    rows = list(qs[: limit + 1])  # one extra row says whether a next page exists
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None


def state_counts(filters: JobFilters, *, cap: int = COUNT_CAP) -> dict[str, int]:
    """Jobs per state within the filters (all but the state), each counted up to `cap` + 1. One query.

    Each count reads at most cap + 1 index entries of its state, however big the table is; a value
    above `cap` means "more than cap". The counts are scalar subqueries of one SELECT, because
    SQLite allows no LIMIT inside a UNION.
    """
    base = filtered_jobs(filters, with_status=False)
    parts, params = [], []
    for status in Status.values:
        sql, sub_params = base.filter(status=status).values("pk")[: cap + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608 - the ORM's own SQL
        params.extend(sub_params)
    with connections[base.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip(Status.values, row, strict=True))


def small_state_counts(filters: JobFilters, *, cap: int = COUNT_CAP) -> dict[str, int] | None:
    """Jobs per state within the filters (all but the state) when at most `cap` jobs match, else None.

    For filters no (column, status) index serves (see JobFilters.counts_by_sample): counting each
    state would walk every job of the task (or worker...) per state. One query reads the newest
    cap + 1 matching rows by id and counts their states.
    """
    rows = list(filtered_jobs(filters, with_status=False).order_by("-id").values_list("status", flat=True)[: cap + 1])
    if len(rows) > cap:
        return None
    counts = dict.fromkeys(Status.values, 0)
    for status in rows:
        counts[status] += 1
    return counts


def count_label(count: int, *, cap: int = COUNT_CAP) -> str:
    """A capped count for people: "1,234", or "10,000+" when counting stopped at the cap."""
    return f"{cap:,}+" if count > cap else f"{count:,}"


def matching_ids(filters: JobFilters, *, statuses: frozenset[str], upto: int, limit: int) -> list[int]:
    """Ids of the jobs matching `filters`, in `statuses`, with id <= `upto` (the page's snapshot), oldest
    first, at most `limit`. One query."""
    qs = filtered_jobs(filters).filter(status__in=sorted(statuses), id__lte=upto)
    return list(qs.order_by("id").values_list("pk", flat=True)[:limit])


def last_job_id() -> int:
    """The newest Job id (0 when there is none). Uses the primary key."""
    return Job.objects.aggregate(last=Max("id"))["last"] or 0


def running_by_worker() -> dict[str, list[tuple[int, str]]]:
    """(job id, task) of each running job, by the worker holding it. One query; bounded by the slots."""
    running: dict[str, list[tuple[int, str]]] = {}
    rows = Job.objects.filter(status=Status.RUNNING).order_by("id").values_list("worker", "pk", "task_name")
    for worker, job_id, task in rows:
        running.setdefault(worker, []).append((job_id, task))
    return running


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
    )
