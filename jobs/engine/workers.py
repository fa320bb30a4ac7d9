"""WorkerProcess rows: who is running, since when, and their heartbeat."""

from __future__ import annotations

import os
import socket

from django.utils import timezone
from django.utils.crypto import get_random_string

from jobs.models import WorkerProcess


def register_worker(*, queues: tuple[str, ...], concurrency: int, worker_type: str) -> WorkerProcess:
    """Record this runworkers process; its name (host:pid:random) tags every job it claims."""
    host = socket.gethostname()
    now = timezone.now()
    return WorkerProcess.objects.create(
        name=f"{host}:{os.getpid()}:{get_random_string(6)}",
        host=host,
        pid=os.getpid(),
        queues=list(queues),
        concurrency=concurrency,
        worker_type=worker_type,
        started_at=now,
        last_heartbeat=now,
    )


def heartbeat(name: str) -> None:
    WorkerProcess.objects.filter(name=name).update(last_heartbeat=timezone.now())


def mark_stopped(name: str) -> None:
    WorkerProcess.objects.filter(name=name).update(stopped_at=timezone.now(), last_heartbeat=timezone.now())
