"""A queue's settings: pause, resume, its concurrency limit, its default retry policy and its max depth."""

from __future__ import annotations

from typing import Literal

from django.db import transaction

from jobs import database, options, retry
from jobs.dbguard import write_service
from jobs.exceptions import InvalidQueue
from jobs.models import Overflow, Queue
from jobs.services import backpressure


def _queue_name(name: str) -> str:
    if not options.is_queue_name(name):
        raise InvalidQueue(options.QUEUE_NAME_ERROR)
    return name


@write_service
def pause_queue(*, name: str) -> Queue:
    """Stop workers claiming from `name` (running jobs finish). Returns the queue's settings."""
    queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"paused": True})
    return queue


@write_service
def resume_queue(*, name: str) -> Queue:
    """Let workers claim from `name` again. Returns the queue's settings."""
    with transaction.atomic():
        queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"paused": False})
        database.notify_new_jobs()
    return queue


@write_service
def set_queue_concurrency(*, name: str, limit: int | None) -> Queue:
    """Limit how many jobs of `name` run at once across all workers (None: no limit)."""
    if limit is not None and (not options.is_int(limit) or limit < 1):
        raise InvalidQueue("concurrency must be a whole number of at least 1, or null for no limit")
    with transaction.atomic():
        queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"concurrency": limit})
        database.notify_new_jobs()
    return queue


@write_service
def set_queue_retry_policy(
    *, name: str, backoff: object = None, retry_on: object = None, discard_on: object = None
) -> Queue:
    """Set the default retry policy of the queue's jobs (all None: no default, the settings apply).
    A job's or its task's own policy comes first (jobs.retry). Workers see a change within
    jobs.engine.policies.QUEUE_POLICY_TTL seconds. Raises InvalidQueue for a bad part."""
    try:
        policy = retry.policy_json(backoff=backoff, retry_on=retry_on, discard_on=discard_on)
    except ValueError as exc:
        raise InvalidQueue(str(exc)) from None
    queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults={"retry_policy": policy})
    return queue


@write_service
def set_queue_max_depth(
    *,
    name: str,
    max_depth: int | None | Literal["keep"] = "keep",
    overflow: str | None = None,
    block_seconds: float | None = None,
) -> Queue:
    """Limit how many jobs of `name` may wait (scheduled, queued or retrying; None: no limit; "keep":
    unchanged).

    `overflow`: what an enqueue into a full queue does, "refuse" (QueueFull at once) or "block" (wait
    up to `block_seconds` for room, then QueueFull); None keeps the current choice. Other processes
    apply a change within jobs.services.backpressure.LIMITS_TTL seconds. Raises InvalidQueue.
    """
    values: dict[str, object] = {}
    if max_depth != "keep":
        if max_depth is not None and (not options.is_int(max_depth) or not 1 <= max_depth <= options.MAX_DEPTH_LIMIT):
            raise InvalidQueue(options.MAX_DEPTH_ERROR)
        values["max_depth"] = max_depth
    if overflow is not None:
        if overflow not in Overflow.values:
            raise InvalidQueue(options.OVERFLOW_ERROR)
        values["overflow"] = overflow
    if block_seconds is not None:
        if not options.is_number(block_seconds) or not 0 < block_seconds <= options.BLOCK_SECONDS_LIMIT:
            raise InvalidQueue(options.BLOCK_SECONDS_ERROR)
        values["block_seconds"] = float(block_seconds)
    queue, _ = Queue.objects.update_or_create(name=_queue_name(name), defaults=values)
    backpressure.forget_limits()
    return queue
