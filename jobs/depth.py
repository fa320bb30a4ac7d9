"""How full the queues are (back-pressure): waiting jobs counted up to a cap, and refused enqueues summed."""

from __future__ import annotations

from django.db import connection
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from jobs.models import Job, RefusalCounter
from jobs.status import WAITING

# The waiting states as SQL literals, for the capped count below (constants, never user input).
_WAITING_SQL = ", ".join(f"'{status}'" for status in sorted(WAITING))


def waiting_depth(queue: str, *, cap: int) -> int:
    """The queue's waiting jobs (scheduled, queued, retrying), counted up to `cap`: a range scan of
    job_queue_status_idx that reads at most `cap` entries, whatever the backlog."""
    table = Job._meta.db_table
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE queue = %s AND status IN ({_WAITING_SQL}) LIMIT %s) t"  # noqa: S608 - constants
    with connection.cursor() as cursor:
        cursor.execute(sql, [queue, cap])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def waiting_depths(caps: dict[str, int]) -> dict[str, int]:
    """waiting_depth() of each queue in `caps` (queue -> cap), in one statement."""
    if not caps:
        return {}
    table = Job._meta.db_table
    branch = (
        "SELECT CAST(%s AS TEXT), (SELECT COUNT(*) FROM ("
        f"SELECT 1 FROM {table} WHERE queue = %s AND status IN ({_WAITING_SQL}) LIMIT %s) t)"  # noqa: S608 - constants
    )
    params = [value for queue, cap in caps.items() for value in (queue, queue, cap)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join([branch] * len(caps)), params)
        return {queue: int(count) for queue, count in cursor.fetchall()}


def refused_totals() -> dict[str, int]:
    """New jobs refused so far per queue because it was full, summed over every process."""
    rows = RefusalCounter.objects.values_list("queue").annotate(total=Sum("count")).order_by()
    return {queue: int(total) for queue, total in rows}


def refused_total() -> Coalesce:
    """refused_totals() of one queue, as an expression to annotate Queue rows with (0 when none)."""
    per_queue = (
        RefusalCounter.objects.filter(queue=OuterRef("name"))
        .values("queue")
        .annotate(total=Sum("count"))
        .values("total")
    )
    return Coalesce(Subquery(per_queue), 0)
