"""Job lists: the filters every edge shares (dashboard, REST API, `manage.py jobs`), keyset pages,
capped counts and how they read ("1,000+", "about 98,000"), and the id selections bulk actions act on.

Every function only reads, with a bounded number of queries whatever the table size.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Case, F, JSONField, Q, QuerySet, Subquery, TextField, Value, When
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast, Length

from jobs.conf import read_setting
from jobs.database import is_postgres
from jobs.exceptions import InvalidSearch, UnknownTask
from jobs.models import Job, JobQuerySet
from jobs.registry import all_tasks, get_task
from jobs.status import Status

# Counts stop at a cap: each reads at most cap + 1 index entries whatever the table's size.
COUNT_CAP = 10_000  # one count per page view (the admin's lists, the jobs list's "All")
STATE_COUNT_CAP = 1_000  # per state (and queue) on dashboard views: 7 counts ~4 ms at 1M jobs (10,000: ~30 ms)
INPUT_TIME = "%Y-%m-%dT%H:%M:%S"  # how a time bound is written in a URL or a form
SEARCH_WINDOW = 100_000  # default of JOBDECK_SEARCH_WINDOW: free text reads at most the newest this many job ids
MAX_SEARCH = 200  # characters of free text
MAX_JOB_ID = 2**63 - 1
# "payload.user_id:42" or "payload.user.id:\"abc\"": a key path of plain names, then the value.
PAYLOAD_SEARCH = re.compile(r"^payload((?:\.[A-Za-z0-9_-]{1,100}){1,5}):(.*)$", re.DOTALL)
UNBOUNDED_FIELDS = ("args", "payload", "result")  # a list embeds each only up to a size


@dataclass(frozen=True)
class JobFilters:
    """What narrows a job list. Every field is optional; all given ones must match."""

    status: str = ""
    queue: str = ""
    task: str = ""
    priority: int | None = None
    job_id: int | None = None  # one job by id
    worker: str = ""
    created_after: datetime.datetime | None = None  # inclusive, aware
    created_before: datetime.datetime | None = None  # exclusive
    payload_path: tuple[str, ...] = ()  # a payload key path ("user", "id") ...
    payload_value: Any = None  # ... and the value it must hold exactly
    text: str = ""  # free text in the task name, last error, payload or arguments, within search_window()
    text_in_payload: bool = True  # False for viewers payloads are hidden from
    oldest_first: bool = False  # not a filter: the list's order (newest first unless set)

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.narrowed)

    @property
    def counts_by_sample(self) -> bool:
        """Whether no (column, status) index serves per-state counts within these filters: the task,
        worker, priority or time range narrow the list (the queue has job_queue_status_idx)."""
        return bool(
            self.task
            or self.worker
            or self.priority is not None
            or self.created_after
            or self.created_before
            or self.text
        )

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
            or self.text
        )

    @property
    def search(self) -> str:
        """The filter as a search box shows it (parse_search reads it back): "123" for one job,
        "payload.user_id:42" for a payload value, else the free text."""
        if self.job_id is not None:
            return str(self.job_id)
        if self.payload_path:
            return "payload." + ".".join(self.payload_path) + ":" + _value_text(self.payload_value)
        return self.text

    @property
    def created_after_text(self) -> str:
        return self.created_after.strftime(INPUT_TIME) if self.created_after else ""

    @property
    def created_before_text(self) -> str:
        return self.created_before.strftime(INPUT_TIME) if self.created_before else ""

    def matches(self, *, job_id: int, status: str, queue: str, task: str, priority: int) -> bool:
        """Whether a new job with these values belongs in a list with these filters (no query).

        A new job has no worker yet and was created now; its payload is not known here, so a
        payload or text search or a worker or end-time filter never takes new jobs live (reload shows them).
        """
        if self.worker or self.created_before or self.payload_path or self.text:
            return False
        return (
            (not self.status or status == self.status)
            and (not self.queue or queue == self.queue)
            and (not self.task or task == self.task)
            and (self.priority is None or priority == self.priority)
            and (self.job_id is None or job_id == self.job_id)
        )


def search_window() -> int:
    """How many of the newest job ids a free-text search reads (JOBDECK_SEARCH_WINDOW, default 100,000):
    no index serves a substring match, so the search is bounded rather than a scan of the whole table."""
    return max(1, int(read_setting("JOBDECK_SEARCH_WINDOW", SEARCH_WINDOW)))


def parse_search(text: str) -> dict[str, Any]:
    """The JobFilters fields a search box's text asks for; the one parser of the dashboard, the API (`q`)
    and `manage.py jobs --search`. Raises InvalidSearch with what to write instead.

    "" nothing; "123" or "#123" one job by id; "payload.<key>[.<key>...]:<value>" jobs whose payload holds
    exactly that value (read as JSON when it parses, else as text); anything else is free text.
    """
    text = text.strip()
    if not text:
        return {}
    if "\x00" in text:
        raise InvalidSearch("A search cannot contain a NUL character")
    number = text.removeprefix("#")
    if number.isdigit() and number.isascii():
        if not 1 <= int(number) <= MAX_JOB_ID:
            raise InvalidSearch(f"No job can have the id {number}")
        return {"job_id": int(number)}
    if text.startswith("payload."):
        found = PAYLOAD_SEARCH.match(text)
        if not found:
            raise InvalidSearch(
                "A payload search is payload.<key>:<value> (up to 5 keys of letters, digits, _ or -), "
                "e.g. payload.user_id:42"
            )
        raw = found.group(2).strip()
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw  # plain text: payload.email:a@example.com
        return {"payload_path": tuple(found.group(1).lstrip(".").split(".")), "payload_value": value}
    if len(text) > MAX_SEARCH:
        raise InvalidSearch(f"A search is at most {MAX_SEARCH} characters")
    return {"text": text}


def resolve_task_filter(name: str) -> str:
    """The stored task name a task filter means: a registered task by full or short name (as enqueue takes
    it), or the stored name of jobs whose task has since left the code. Raises InvalidSearch otherwise,
    so an unknown or misspelt name is an error, never an empty list."""
    name = name.strip()
    if not name:
        return ""
    try:
        return get_task(name).name
    except UnknownTask as exc:
        if name in all_tasks() or Job.objects.filter(task_name=name).exists():
            return name
        raise InvalidSearch(exc.message) from None


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

    The payload filter compares one JSON key with an exact value. No index serves it: the database
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
    if filters.text:
        qs = text_search(qs, text=filters.text, in_payload=filters.text_in_payload)
    return qs


def text_search(qs: JobQuerySet, *, text: str, in_payload: bool = True) -> JobQuerySet:
    """`qs` narrowed to the newest search_window() job ids whose task name, last error or (unless
    `in_payload` is False) payload or arguments contain `text`, ignoring case.

    No index serves a substring match: the window (an id range below the newest id, a scalar subquery)
    bounds what the database reads, whatever the table's size.
    """
    newest = Subquery(Job.objects.order_by("-id").values("id")[:1])
    match = Q(task_name__icontains=text) | Q(last_error__icontains=text)
    if in_payload:
        match |= Q(payload_text__icontains=text) | Q(args_text__icontains=text)
        qs = qs.alias(payload_text=Cast("payload", TextField()), args_text=Cast("args", TextField()))
    return qs.filter(match, id__gt=newest - search_window())


def payload_equals(qs: JobQuerySet, *, path: tuple[str, ...], value: Any) -> JobQuerySet:
    """`qs` narrowed to jobs whose payload holds exactly `value` at the key `path` (("user", "id")).

    KeyTransform names the keys explicitly, so a key called "contains" or "exact" is a key, not a lookup.
    """
    key: Any = "payload"
    for name in path:
        key = KeyTransform(name, key)
    return qs.alias(payload_key=key).filter(payload_key=value)


def list_jobs(
    filters: JobFilters,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
    fields: Sequence[str] = (),
    embed_max_chars: int | None = None,
) -> list[Job]:
    """Jobs newest first (oldest first with `filters.oldest_first`), keyset-paginated on id (unique,
    so its own tie-break): the next page starts past the last id seen, `before_id` newest first,
    `after_id` oldest first. Every list index ends in id, so either direction walks it. `fields`
    limits the columns read. One query.

    `offset` serves page-number paging; its cost grows with the depth, the keyset's does not.

    With `embed_max_chars`, args, payload and result are not loaded; each row carries
    `<field>_embedded` (the value, or None when its JSON is longer than that) and `<field>_chars`
    instead, so a page never holds more than a bounded amount whatever its jobs carry.
    """
    qs = filtered_jobs(filters).order_by("id" if filters.oldest_first else "-id")
    if fields:
        qs = qs.only(*fields)
    if embed_max_chars is not None:
        qs = _bounded(qs, embed_max_chars)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return list(qs[offset : offset + limit])


def _bounded(qs: JobQuerySet, max_chars: int) -> JobQuerySet:
    """Embed each unbounded column only when its JSON text is short enough, decided by the
    database, so a large value is never sent to this process."""
    qs = qs.defer(*UNBOUNDED_FIELDS).annotate(
        **{f"{name}_chars": Length(Cast(name, output_field=TextField())) for name in UNBOUNDED_FIELDS}
    )
    return qs.annotate(
        **{
            f"{name}_embedded": Case(
                When(**{f"{name}_chars__lte": max_chars}, then=F(name)),
                default=Value(None, output_field=JSONField()),
                output_field=JSONField(),
            )
            for name in UNBOUNDED_FIELDS
        }
    )


def job_page(
    filters: JobFilters, *, past_id: int | None, limit: int, fields: Sequence[str] = ()
) -> tuple[list[Job], int | None]:
    """One keyset page in the filters' order, starting past `past_id` (None: the first page), and the
    `past_id` of the next page (None on the last page). One query."""
    # One extra row: is there more?
    if filters.oldest_first:
        rows = list_jobs(filters, after_id=past_id, limit=limit + 1, fields=fields)
    else:
        rows = list_jobs(filters, before_id=past_id, limit=limit + 1, fields=fields)
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None


def job_ids(filters: JobFilters, *, limit: int, statuses: Collection[str] = (), upto: int | None = None) -> list[int]:
    """Ids of the jobs matching `filters` (and in `statuses`, with id <= `upto`, when given), oldest
    first, at most `limit`: what a bulk action by filter acts on. One query.

    `upto` pins the selection to the jobs that existed when a page was shown (a snapshot).
    """
    qs = filtered_jobs(filters)
    if statuses:
        qs = qs.filter(status__in=sorted(statuses))
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    return list(qs.order_by("id").values_list("pk", flat=True)[:limit])


def state_counts(filters: JobFilters, *, cap: int = STATE_COUNT_CAP) -> dict[str, int]:
    """Jobs per state within the filters (all but the state), each counted up to `cap` + 1. One query.

    Each count reads at most cap + 1 index entries of its state, however big the table is; a value
    above `cap` means "more than cap". The counts are scalar subqueries of one SELECT, because
    SQLite allows no LIMIT inside a UNION.
    """
    base = filtered_jobs(filters, with_status=False)
    parts: list[str] = []
    params: list[Any] = []
    for status in Status.values:
        sql, sub_params = base.filter(status=status).values("pk")[: cap + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped)")  # noqa: S608 - the ORM's own SQL
        params.extend(sub_params)
    with connections[base.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip(Status.values, row, strict=True))


def small_state_counts(filters: JobFilters, *, cap: int = STATE_COUNT_CAP) -> dict[str, int] | None:
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


def capped_count(queryset: QuerySet[Any], *, cap: int = COUNT_CAP) -> int:
    """The rows of `queryset` counted up to `cap` + 1 (above `cap` means "more"): one query,
    `SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1)`, that reads at most cap + 1 index entries."""
    return queryset[: cap + 1].count()


def row_estimate(queryset: QuerySet[Any]) -> int:
    """The planner's row count (pg_class.reltuples) of an unfiltered PostgreSQL table, else 0 (unknown)."""
    connection = connections[queryset.db]
    if not is_postgres(connection) or queryset.query.has_filters():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return max(0, int(row[0])) if row else 0  # -1 means "never analysed"


def count_label(count: int, *, more: bool = False) -> str:
    """A count for people: "1,234", or "1,234+" when counting stopped there and `more` rows exist."""
    return f"{count:,}+" if more else f"{count:,}"


def capped_label(count: int, *, cap: int) -> str:
    """The label of a count read up to `cap` + 1 (state_counts): "1,000+" when above the cap."""
    return count_label(min(count, cap), more=count > cap)


def total_label(queryset: QuerySet[Any], *, counted: int, cap: int = COUNT_CAP) -> str:
    """The label of `counted`, a capped_count of `queryset`: exact up to the cap; past it PostgreSQL's
    estimate of an unfiltered table ("about 98,000") when that is larger, else "10,000+"."""
    if counted <= cap:
        return count_label(counted)
    estimate = row_estimate(queryset)
    return f"about {estimate:,}" if estimate > cap else count_label(cap, more=True)
