"""The read side of rate limits and concurrency keys: each limit's use of its window, and the busiest keys."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max
from django.utils import timezone

from jobs.exceptions import RateLimitNotFound
from jobs.models import Job, RateLimit, RateStart

BUSIEST_KEYS = 20  # keys listed by busiest_keys(): a dashboard table, not a report


@dataclass(frozen=True)
class RateLimitUsage:
    scope: str
    name: str
    max_starts: int
    period: float
    starts: int  # starts in the current window (the last `period` seconds)
    next_start_at: datetime.datetime | None  # when the window has room again; None: it has room now

    @property
    def full(self) -> bool:
        return self.next_start_at is not None


@dataclass(frozen=True)
class KeyUsage:
    key: str
    running: int
    limit: int | None  # the largest concurrency_limit among the key's running jobs
    waiting: int  # queued jobs with the key


def frees_at(limit: RateLimit, *, now: float) -> tuple[int, float | None]:
    """(starts in `limit`'s window, epoch seconds when it has room again or None: room now). Two
    queries, both through ratestart_limit_at_idx."""
    window = RateStart.objects.filter(rate_limit=limit, at__gt=now - limit.period)
    starts = window.count()
    if starts < limit.max_starts:
        return starts, None
    # Room again once the max_starts-th newest start leaves the window.
    newest = window.order_by("-at").values_list("at", flat=True)[limit.max_starts - 1 : limit.max_starts]
    return starts, newest[0] + limit.period


def rate_limit_usage(*, scope: str | None = None) -> list[RateLimitUsage]:
    """Every rate limit (or those of one scope), by scope and name, with its current window's use.
    One query, plus one or two per limit (limits are few: one per queue, task or key configured)."""
    limits = RateLimit.objects.order_by("scope", "name")
    if scope is not None:
        limits = limits.filter(scope=scope)
    now = timezone.now().timestamp()
    usage = []
    for limit in limits:
        starts, free = frees_at(limit, now=now)
        next_at = None if free is None else datetime.datetime.fromtimestamp(free, tz=datetime.UTC)
        usage.append(RateLimitUsage(limit.scope, limit.name, limit.max_starts, limit.period, starts, next_at))
    return usage


def rate_limit_detail(*, scope: str, name: str) -> RateLimitUsage:
    """One limit with its window's use. Raises RateLimitNotFound."""
    for usage in rate_limit_usage(scope=scope):
        if usage.name == name:
            return usage
    raise RateLimitNotFound()


def busiest_keys(*, limit: int = BUSIEST_KEYS) -> list[KeyUsage]:
    """The concurrency keys with the most running jobs (at most `limit`), with their waiting jobs.
    Two bounded queries (one when no keyed job runs): the running jobs through job_running_key_idx
    (as many as the workers run), the queued jobs of those keys only through job_queued_key_idx."""
    running = (
        Job.objects.running_keyed()
        .values("concurrency_key")
        .annotate(running=Count("id"), limit=Max("concurrency_limit"))
        .order_by("-running", "concurrency_key")[:limit]
    )
    rows = list(running)
    keys: list[str] = [row["concurrency_key"] or "" for row in rows]  # never empty: filtered on isnull
    if not keys:
        return []
    waiting = dict(
        Job.objects.queued_keyed()
        .filter(concurrency_key__in=keys)
        .values("concurrency_key")
        .annotate(n=Count("id"))
        .values_list("concurrency_key", "n")
        .order_by()
    )
    return [
        KeyUsage(key=key, running=r["running"], limit=r["limit"], waiting=waiting.get(key, 0))
        for r, key in zip(rows, keys, strict=True)
    ]
