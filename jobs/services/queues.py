"""A queue's settings: pause, resume and its concurrency limit."""

from __future__ import annotations

from django.db import transaction

from jobs import database, options
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
