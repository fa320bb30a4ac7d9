"""Per-process totals of ended attempts by (queue, new status) and by (task, new status), written as
OutcomeCounter and TaskOutcomeCounter rows for /metrics.

A worker process counts in memory and the lease keeper writes the totals about every
heartbeat: one upsert of this process's own rows, so no two processes ever write the same row and
the hot path (claim and finish) gains no statement. A process killed with -9 loses at most the
counts since its last write.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from django.utils import timezone

from jobs.models import OutcomeCounter, TaskOutcomeCounter


class OutcomeTotals:
    """Running totals of one process; thread-safe."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.lock = threading.Lock()
        self.totals: Counter[tuple[str, str]] = Counter()
        self.written: dict[tuple[str, str], int] = {}
        self.task_totals: Counter[tuple[str, str]] = Counter()
        self.task_written: dict[tuple[str, str], int] = {}
        self.pid = os.getpid()

    def add(self, queue: str, new_status: str, task: str = "") -> None:
        """Count one attempt of `queue` (and of `task`, when given) that moved its job to `new_status`."""
        with self.lock:
            self._check_process()
            self.totals[(queue, new_status)] += 1
            if task:
                self.task_totals[(task, new_status)] += 1

    def _check_process(self) -> None:
        # A forked worker starts from its parent's copy: its own counts start at zero.
        if os.getpid() != self.pid:
            self.pid = os.getpid()
            self.totals.clear()
            self.written.clear()
            self.task_totals.clear()
            self.task_written.clear()

    def write(self) -> int:
        """Upsert the totals that changed since the last write. Returns the rows written."""
        with self.lock:
            self._check_process()
            changed = {key: n for key, n in self.totals.items() if self.written.get(key) != n}
            task_changed = {key: n for key, n in self.task_totals.items() if self.task_written.get(key) != n}
            process = f"{self.worker}/{self.pid}"[:220]
        if not changed and not task_changed:
            return 0
        now = timezone.now()
        if changed:
            OutcomeCounter.objects.bulk_create(
                [
                    OutcomeCounter(process=process, queue=queue, new_status=new_status, count=n, updated_at=now)
                    for (queue, new_status), n in changed.items()
                ],
                update_conflicts=True,
                unique_fields=["process", "queue", "new_status"],
                update_fields=["count", "updated_at"],
            )
        if task_changed:
            TaskOutcomeCounter.objects.bulk_create(
                [
                    TaskOutcomeCounter(process=process, task=task, new_status=new_status, count=n, updated_at=now)
                    for (task, new_status), n in task_changed.items()
                ],
                update_conflicts=True,
                unique_fields=["process", "task", "new_status"],
                update_fields=["count", "updated_at"],
            )
        with self.lock:
            self.written.update(changed)
            self.task_written.update(task_changed)
        return len(changed) + len(task_changed)
