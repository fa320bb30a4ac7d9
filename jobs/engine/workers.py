"""WorkerProcess rows: who is running, since when, and their heartbeat."""

from __future__ import annotations

import os
import socket

from django.db.models.functions import Now
from django.utils.crypto import get_random_string

from jobs.models import WorkerProcess


def new_worker_name() -> str:
    """A unique name for this runworkers process (host:pid:random); it tags every job it claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{get_random_string(6)}"


def register_worker(
    *, name: str, queues: tuple[str, ...], concurrency: int, worker_type: str, tasks: list[str] | None = None
) -> WorkerProcess:
    """Record this runworkers process as running, with the task refs it can run (None: unknown)."""
    host = socket.gethostname()
    worker = WorkerProcess.objects.create(
        name=name,
        host=host,
        pid=os.getpid(),
        queues=list(queues),
        concurrency=concurrency,
        worker_type=worker_type,
        tasks=tasks,
        started_at=Now(),  # the database clock, like every heartbeat
        last_heartbeat=Now(),
    )
    worker.refresh_from_db(fields=["started_at", "last_heartbeat"])
    return worker


def heartbeat(name: str) -> None:
    """On the database clock, which judges liveness too (WorkerProcessQuerySet): host clocks may differ."""
    WorkerProcess.objects.filter(name=name).update(last_heartbeat=Now())


def mark_stopped(name: str) -> None:
    WorkerProcess.objects.filter(name=name).update(stopped_at=Now(), last_heartbeat=Now())
