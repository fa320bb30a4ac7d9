"""WorkerProcess rows: who is running, since when, and their heartbeat."""

from __future__ import annotations

import os
import re
import socket

from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils.crypto import get_random_string

from jobs.exceptions import JobdeckError
from jobs.models import WorkerProcess

# A chosen name (runworkers --name): short enough to show, and never containing "~", which marks
# the renamed rows of gone workers that held it before.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
NAME_RULE = "1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"


class WorkerNameTaken(JobdeckError):
    """A live worker already holds the name this one was asked to take."""

    status_code = 409


def new_worker_name() -> str:
    """A unique name for this runworkers process (host:pid:random); it tags every job it claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{get_random_string(6)}"


def check_worker_name(value: str) -> str:
    """`value` if it is a valid chosen worker name; raises ValueError saying what is allowed."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"invalid worker name {value!r}: use {NAME_RULE}")
    return value


def claim_worker_name(
    *, name: str, queues: tuple[str, ...], concurrency: int, worker_type: str, tasks: list[str] | None = None
) -> WorkerProcess:
    """Register this process under a chosen name (runworkers --name), before it starts any worker,
    so no job is ever claimed under a name another live process holds.

    1. A gone worker (stopped, or silent for a lease) that held the name gives it up: its row is
       renamed "<name>~<id>" and kept with its history until pruned.
    2. The row is created. The unique name column decides between this process and a live holder,
       or another process starting under the same name at the same moment.

    Raises WorkerNameTaken (a worker killed with -9 holds its name for one lease, as its jobs).
    """
    for pk in WorkerProcess.objects.gone().filter(name=name).values_list("pk", flat=True):
        WorkerProcess.objects.gone().filter(pk=pk, name=name).update(name=f"{name}~{pk}")
    try:
        with transaction.atomic():
            return register_worker(
                name=name, queues=queues, concurrency=concurrency, worker_type=worker_type, tasks=tasks
            )
    except IntegrityError:
        holder = WorkerProcess.objects.filter(name=name).first()
        where = f" (pid {holder.pid} on {holder.host})" if holder else ""
        raise WorkerNameTaken(f"worker name {name!r} is held by a live worker{where}") from None


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
