"""The read side of a workflow: the connected part of the dependency graph that holds one job
(its jobs, its links and the count per state), bounded, nearest jobs first.

The dashboard's workflow page, the API's GET /jobs/{id}/workflow and the workflow services all
read it here, so they agree on which jobs a workflow is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from jobs.database import is_postgres
from jobs.exceptions import JobNotFound
from jobs.models import Job, JobDependency
from jobs.status import FINISHED, Status

# At most this many jobs in one read: a larger component is shown (and acted on) as its part
# nearest the job, and says so. 2,000 boxes is already past what a page can draw legibly.
MAX_JOBS = 2000
_CHUNK = 500  # ids per IN (...): SQLite's parameter limit, with room to spare
MAX_JOB_ID = 2**63 - 1  # a bigint: a larger id cannot exist, and the database would refuse it as a parameter
FIELDS = ("pk", "task_name", "status", "queue", "pending_parents", "after_failure", "failed_parent", "last_error")


@dataclass(frozen=True)
class Workflow:
    """The jobs connected to `job_id` through dependencies (id order), and their links."""

    job_id: int
    jobs: list[Job]
    links: list[tuple[int, int]]  # (parent id, child id), both in `jobs`
    truncated: bool  # more jobs are connected than MAX_JOBS: `jobs` is the nearest part
    limit: int = MAX_JOBS
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Every job of the workflow is done, failed or cancelled: nothing more will change by itself."""
        return all(job.status in FINISHED for job in self.jobs)

    @property
    def ids(self) -> list[int]:
        return [job.pk for job in self.jobs]


def _links_touching(ids: list[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = JobDependency.objects.filter(Q(child_id__in=chunk) | Q(parent_id__in=chunk))
        found += rows.values_list("parent_id", "child_id")
    return found


# The component as one recursive query, whatever its depth (a chain of 2,000 jobs is one statement,
# not 2,000). UNION drops rows already found, so the walk ends; both databases run the recursion
# level by level, so the rows come nearest first and the limit keeps the nearest part. PostgreSQL
# computes only the rows the outer LIMIT fetches; SQLite takes the LIMIT inside the recursive step.
_WALK = (
    "WITH RECURSIVE walk(id) AS (SELECT CAST(%s AS BIGINT) UNION "
    "SELECT CASE WHEN l.parent_id = w.id THEN l.child_id ELSE l.parent_id END "
    "FROM {links} l JOIN walk w ON l.parent_id = w.id OR l.child_id = w.id{inner}) "
    "SELECT id FROM walk{outer}"
)


def _walk(job_id: int, limit: int) -> list[int]:
    """Up to `limit` + 1 job ids connected to `job_id` (itself first), nearest first."""
    table = connection.ops.quote_name(JobDependency._meta.db_table)
    if is_postgres():
        statement = _WALK.format(links=table, inner="", outer=" LIMIT %s")
    else:
        statement = _WALK.format(links=table, inner=" LIMIT %s", outer="")
    with connection.cursor() as cursor:
        cursor.execute(statement, [job_id, limit + 1])
        return [row[0] for row in cursor.fetchall()]


def workflow(job_id: int, *, limit: int = MAX_JOBS) -> Workflow:
    """The workflow of job `job_id`: the jobs its links reach in either direction, nearest first,
    at most `limit` (then `truncated`), read in a handful of queries. Raises JobNotFound."""
    try:
        job_id = int(job_id)
    except (TypeError, ValueError):
        raise JobNotFound(job_id) from None
    if not 1 <= job_id <= MAX_JOB_ID or not Job.objects.filter(pk=job_id).exists():
        raise JobNotFound(job_id)
    # 1. The ids, nearest first (the job itself is the first row).
    found = _walk(job_id, limit)
    truncated = len(found) > limit
    seen = dict.fromkeys(found[:limit])
    # 2. Read the jobs, and keep the links whose both ends were kept.
    ids = sorted(seen)
    jobs: list[Job] = []
    for start in range(0, len(ids), _CHUNK):
        jobs += Job.objects.filter(pk__in=ids[start : start + _CHUNK]).only(*FIELDS)
    jobs.sort(key=lambda job: job.pk)
    kept = {job.pk for job in jobs}
    links = sorted({(p, c) for p, c in _links_touching(ids) if p in kept and c in kept})
    counts = Counter(job.status for job in jobs)
    return Workflow(
        job_id=job_id,
        jobs=jobs,
        links=links,
        truncated=truncated,
        limit=limit,
        counts={status: counts.get(status, 0) for status in Status.values},
    )
