"""Rate limits (issue 13, point 3): at most N job starts per period for a queue, a task or a
concurrency key, across all workers. The claim enforces them (jobs/states/sql.py)."""

from __future__ import annotations

from django.db import transaction

from jobs import database, options
from jobs.dbguard import write_service
from jobs.exceptions import InvalidJob
from jobs.models import RateLimit, RateStart

MAX_PERIOD = 86_400.0  # a day: the starts of the last period are kept and counted


@write_service
def set_rate_limit(*, scope: str, name: str, max_starts: int, period: float) -> RateLimit:
    """At most `max_starts` starts per `period` seconds for the queue, task (module path) or key
    `name`. Replaces the scope's and name's previous limit. Raises InvalidJob for a bad value."""
    if scope not in RateLimit.Scope.values:
        raise InvalidJob("scope must be queue, task or key")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise InvalidJob("name must be a string of 1-255 characters")
    if not options.is_int(max_starts) or max_starts < 1:
        raise InvalidJob("max_starts must be a whole number of at least 1")
    if not options.is_number(period) or not 0 < period <= MAX_PERIOD:
        raise InvalidJob(f"period must be a positive number of seconds, at most {MAX_PERIOD:g}")
    with transaction.atomic():
        limit, _ = RateLimit.objects.update_or_create(
            scope=scope, name=name, defaults={"max_starts": max_starts, "period": float(period)}
        )
        database.notify_new_jobs()  # a raised limit may let waiting jobs start now
    return limit


@write_service
def remove_rate_limit(*, scope: str, name: str) -> bool:
    """Remove the limit of `scope` and `name`; returns whether there was one."""
    with transaction.atomic():
        deleted, _ = RateLimit.objects.filter(scope=scope, name=name).delete()
        database.notify_new_jobs()
    return deleted > 0


@write_service
def prune_rate_starts(*, now: float) -> int:
    """Delete the start records no window can count any more (older than their limit's period).
    Returns how many were deleted."""
    deleted = 0
    for limit in RateLimit.objects.all():
        deleted += RateStart.objects.filter(rate_limit=limit, at__lte=now - limit.period).delete()[0]
    return deleted
