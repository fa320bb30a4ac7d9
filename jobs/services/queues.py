"""A queue's settings: pause, resume, its concurrency limit and its default retry policy."""

from __future__ import annotations

from django.db import transaction

from jobs import database, options, retry
from jobs.dbguard import write_service
from jobs.exceptions import InvalidQueue
from jobs.models import Queue


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
