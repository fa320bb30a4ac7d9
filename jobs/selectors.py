"""The read side: stats, lists and details that every entry point shows."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Min
from django.utils import timezone

from jobs.exceptions import JobNotFound
from jobs.models import Attempt, Job, JobEvent, Queue, WorkerProcess
from jobs.status import Status


@dataclass
class QueueStats:
    name: str
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    oldest_waiting_seconds: float | None = None
    paused: bool = False
    concurrency: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def queue_stats() -> dict[str, QueueStats]:
    """Counts per queue and state, the age of the oldest runnable job, and queue settings."""
    stats: dict[str, QueueStats] = {}
    for name, status, count in Job.objects.values_list("queue", "status").annotate(n=Count("id")).order_by():
        stats.setdefault(name, QueueStats(name)).counts[status] = count
    now = timezone.now()
    for name, oldest in Job.objects.runnable().values_list("queue").annotate(oldest=Min("run_at")).order_by():
        stats[name].oldest_waiting_seconds = max(0.0, (now - oldest).total_seconds())
    for queue in Queue.objects.all():
        entry = stats.setdefault(queue.name, QueueStats(queue.name))
        entry.paused, entry.concurrency = queue.paused, queue.concurrency
    return dict(sorted(stats.items()))


def job_counts() -> dict[str, int]:
    """Counts per state over all queues."""
    counts = {s.value: 0 for s in Status}
    for status, count in Job.objects.values_list("status").annotate(n=Count("id")).order_by():
        counts[status] = count
    return counts


def has_runnable(queues: Sequence[str]) -> bool:
    """Whether any job in `queues` is runnable now (paused or full queues included)."""
    return Job.objects.runnable().filter(queue__in=queues).exists()


def job_detail(job_id: int) -> Job:
    """One job. Raises JobNotFound."""
    try:
        return Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise JobNotFound(job_id) from None


def job_attempts(job_id: int) -> list[Attempt]:
    return list(Attempt.objects.filter(job_id=job_id).order_by("number", "id"))


def job_events(job_id: int, *, after_id: int = 0) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job_id=job_id, id__gt=after_id).order_by("id"))


def list_jobs(
    *,
    status: str | None = None,
    queue: str | None = None,
    task: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Job]:
    """Jobs newest first, keyset-paginated: pass the last id seen as before_id for the next page."""
    qs = Job.objects.order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if queue:
        qs = qs.filter(queue=queue)
    if task:
        qs = qs.filter(task_name=task)
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    return list(qs[:limit])


def worker_list(*, stale_after: datetime.timedelta = datetime.timedelta(seconds=60)) -> list[WorkerProcess]:
    """Workers that have not stopped, newest first; those silent longer than stale_after are marked stale."""
    now = timezone.now()
    workers = list(WorkerProcess.objects.filter(stopped_at__isnull=True).order_by("-started_at"))
    running: dict[str, list[int]] = {}
    for worker, job_id in Job.objects.filter(status=Status.RUNNING).values_list("worker", "pk"):
        running.setdefault(worker, []).append(job_id)
    for w in workers:
        w.is_stale = now - w.last_heartbeat > stale_after  # type: ignore[attr-defined]
        w.running_job_ids = running.get(w.name, [])  # type: ignore[attr-defined]
    return workers
