"""The dead-letter view: failed jobs grouped by task, exception class and normalised message.

Grouping runs one GROUP BY over the newest WINDOW failed jobs only (a range of the (status, id)
index) on the task and the first ERROR_CHARS characters of Job.last_error ("module.Class:
message"), so at most WINDOW groups come back. Messages that differ only in numbers, hex or
uuids ("id 42 not found", "id 43 not found") are merged here in Python, so the database needs no regular expressions.

Retries act on a snapshot: the jobs that were failed when the page was rendered (failed, and
finished no later than the page's time), never on jobs that failed afterwards.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Subquery
from django.db.models.functions import Coalesce, Substr

# normalise and split_error are the failed page's rules too (tests and callers read them here).
from jobs.error_groups import ERROR_CHARS, group_key, split_error
from jobs.error_groups import normalise as normalise
from jobs.models import Job
from jobs.services import MAX_BULK

WINDOW = 1_000  # the newest failed jobs that are grouped: at 1,000,000 jobs 10,000 took ~200 ms, 2,000 ~40-55 ms
SCAN_CHUNK = 2_000


@dataclass
class FailureGroup:
    task: str
    error_class: str
    message: str  # normalised
    example: str  # one real message of the group
    count: int
    first_seen: datetime.datetime | None
    last_seen: datetime.datetime | None
    sample_job_id: int  # the newest failed job of the group
    versions: list[str] = field(default_factory=list)  # the task versions its jobs were enqueued for


@dataclass(frozen=True)
class FailureReport:
    groups: list[FailureGroup]
    total: int  # failed jobs counted in the groups
    windowed: bool  # WINDOW failed jobs were grouped: older ones may exist and are not counted


def failure_groups(*, limit: int = 100) -> FailureReport:
    """Failed jobs grouped by task + exception class + normalised message, most recent failure first.

    One query: a GROUP BY over the newest WINDOW failed jobs, an id range of the (status, id) index
    whose lower end a scalar subquery finds; at most WINDOW rows come back. Merged, cut to `limit`.
    """
    floor = Job.objects.dead().order_by("-id").values("pk")[WINDOW - 1 : WINDOW]
    rows = (
        Job.objects.dead()
        .filter(id__gte=Coalesce(Subquery(floor), 0))
        .annotate(error=Substr("last_error", 1, ERROR_CHARS))
        .values("task_name", "task_version", "error")
        .annotate(n=Count("id"), first=Min("finished_at"), last=Max("finished_at"), sample=Max("id"))
        .order_by()
    )
    groups: dict[tuple[str, str, str], FailureGroup] = {}
    for row in rows:
        task, error_class, message = key = group_key(row["task_name"], row["error"])
        group = groups.get(key)
        if group is None:
            example = split_error(row["error"])[1]
            group = groups[key] = FailureGroup(
                task, error_class, message, example, row["n"], row["first"], row["last"], row["sample"]
            )
        else:
            group.count += row["n"]
            group.first_seen = _earliest(group.first_seen, row["first"])
            group.last_seen = _latest(group.last_seen, row["last"])
            group.sample_job_id = max(group.sample_job_id, row["sample"])
        if row["task_version"] and row["task_version"] not in group.versions:
            group.versions = sorted([*group.versions, row["task_version"]])
    ordered = sorted(groups.values(), key=lambda g: g.sample_job_id, reverse=True)
    total = sum(g.count for g in groups.values())
    return FailureReport(ordered[:limit], total, windowed=total >= WINDOW)


def _earliest(a: datetime.datetime | None, b: datetime.datetime | None) -> datetime.datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def _latest(a: datetime.datetime | None, b: datetime.datetime | None) -> datetime.datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def snapshot_ids(
    *, at: datetime.datetime, task: str | None = None, error_class: str = "", message: str = "", limit: int = MAX_BULK
) -> tuple[list[int], bool]:
    """Ids of the jobs that were failed at `at` (and still are), of one group when `task` is given.

    Returns at most `limit` ids, oldest first, and whether more matched. A group's jobs are found
    by reading the task's failed jobs and comparing their normalised keys (no index serves a
    normalised message); the task and class narrow the read.
    """
    if task is None:
        ids = list(
            Job.objects.dead().filter(finished_at__lte=at).order_by("id").values_list("id", flat=True)[: limit + 1]
        )
        return ids[:limit], len(ids) > limit
    qs = Job.objects.dead().filter(finished_at__lte=at, task_name=task)
    if error_class:
        qs = qs.filter(last_error__startswith=f"{error_class}: ")
    wanted = (task, error_class, message)
    ids = []
    rows = (
        qs.annotate(error=Substr("last_error", 1, ERROR_CHARS))
        .order_by("id")
        .values_list("id", "error")
        .iterator(chunk_size=SCAN_CHUNK)
    )
    for job_id, error in rows:
        if group_key(task, error) == wanted:
            if len(ids) == limit:
                return ids, True
            ids.append(job_id)
    return ids, False
