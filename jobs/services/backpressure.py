"""Back-pressure on enqueue: a queue's max depth of waiting jobs, checked in the enqueue's own transaction.

1. Which queues have a limit is read from the Queue table at most once per LIMITS_TTL seconds per
   process (one query for all queues), so an enqueue into a queue without a limit costs nothing.
   A limit set in this process applies at once; other processes see a change within the TTL.
2. For a limited queue, the enqueue's transaction first takes the queue's turn, then counts its
   waiting jobs (up to the limit) and inserts only if the new jobs fit. PostgreSQL: a transaction
   advisory lock per queue, so concurrent enqueuers on every host take turns and each count sees the
   previous one's committed jobs (not the Queue row, which claims lock for the concurrency limit).
   SQLite: transactions begin IMMEDIATE, so the count and the insert hold the one write lock.
   The depth therefore never passes the limit through enqueues. Jobs already in the system are
   never refused: a retry, a rescue or a manual retry can take a queue past its limit.
3. A full queue raises QueueFull, or, with overflow "block", the enqueue waits up to block_seconds
   for room, polling without holding the turn. Inside the caller's own transaction it never waits
   (a wait there would hold the caller's locks, on SQLite the database's write lock): it refuses.
4. Each refusal adds to this process's RefusalCounter row for the queue (/metrics, dashboard).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from jobs import database, depth
from jobs.exceptions import QueueFull
from jobs.models import Overflow, Queue, RefusalCounter

LIMITS_TTL = 2.0
LOCK_NAMESPACE = 0x4A44  # first key of pg_advisory_xact_lock(namespace, queue id): "JD"
POLL_FIRST, POLL_MAX = 0.02, 0.5  # a blocked enqueue's polling interval, doubling


@dataclass(frozen=True, slots=True)
class DepthLimit:
    queue_id: int
    max_depth: int
    overflow: str
    block_seconds: float


_lock = threading.Lock()
_limits: dict[str, DepthLimit] = {}
_loaded_at = -LIMITS_TTL


def limits() -> dict[str, DepthLimit]:
    """The queues with a max depth, from this process's cache (read again after LIMITS_TTL)."""
    global _loaded_at, _limits
    with _lock:
        if time.monotonic() - _loaded_at >= LIMITS_TTL:
            rows = Queue.objects.filter(max_depth__isnull=False).values_list(
                "name", "pk", "max_depth", "overflow", "block_seconds"
            )
            _limits = {
                name: DepthLimit(pk, limit, overflow, block)
                for name, pk, limit, overflow, block in rows
                if limit is not None  # always, by the filter; for the type checker
            }
            _loaded_at = time.monotonic()
        return _limits


def forget_limits() -> None:
    """Read the limits afresh at the next enqueue (after a change, and in tests)."""
    global _loaded_at
    with _lock:
        _loaded_at = -LIMITS_TTL


def assume_no_limits() -> None:
    """Mark the cache fresh and empty (tests whose database has no limited queue)."""
    global _loaded_at, _limits
    with _lock:
        _limits, _loaded_at = {}, time.monotonic()


def limited(wanted: Mapping[str, int]) -> dict[str, int]:
    """Of `wanted` (new jobs per queue), those going to a queue with a max depth."""
    known = limits()
    return {queue: n for queue, n in wanted.items() if queue in known}


def _check_room(wanted: Mapping[str, int]) -> None:
    """Inside the enqueue's transaction: take each queue's turn (in name order, so two bulks never
    deadlock), count its waiting jobs, raise QueueFull if the new ones do not fit."""
    known = limits()
    for queue in sorted(wanted):
        limit, n = known.get(queue), wanted[queue]
        if limit is None:
            continue  # the limit was removed since the caller looked (the cache was read again)
        if n > limit.max_depth:
            raise QueueFull(queue, depth=limit.max_depth, max_depth=limit.max_depth, wanted=n)
        if database.is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, limit.queue_id & 0x7FFFFFFF])
        current = depth.waiting_depth(queue, cap=limit.max_depth)
        if current + n > limit.max_depth:
            raise QueueFull(queue, depth=current, max_depth=limit.max_depth, wanted=n)


def admit[T](wanted: Mapping[str, int], store: Callable[[], T]) -> T:
    """Run `store` (the insert) in one transaction once the limited queues of `wanted` have room.

    Raises QueueFull when a queue is full and refuses, or stays full for its block_seconds.
    """
    can_wait = not connection.in_atomic_block
    deadline: float | None = None
    pause = POLL_FIRST
    while True:
        try:
            with transaction.atomic():
                _check_room(wanted)
                return store()
        except QueueFull as exc:
            limit = limits().get(exc.queue)
            if not can_wait or limit is None or limit.overflow != Overflow.BLOCK or exc.wanted > exc.max_depth:
                raise
            now = time.monotonic()
            deadline = now + limit.block_seconds if deadline is None else min(deadline, now + limit.block_seconds)
            if now + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:220]


def record_refusal(exc: QueueFull) -> None:
    """Count the refused jobs on this process's row for the queue (its own row: no contention)."""
    process = process_name()
    now = timezone.now()
    updated = RefusalCounter.objects.filter(process=process, queue=exc.queue).update(
        count=F("count") + exc.wanted, updated_at=now
    )
    if not updated:
        counter, created = RefusalCounter.objects.get_or_create(
            process=process, queue=exc.queue, defaults={"count": exc.wanted, "updated_at": now}
        )
        if not created:  # another thread of this process created it in between
            RefusalCounter.objects.filter(pk=counter.pk).update(count=F("count") + exc.wanted, updated_at=now)
