"""A huey storage whose queue is the Job table: dequeue() claims the next runnable job row.

huey's own queue, schedule and result store are unused: jobs enter through jobs.services, the
database keeps their order and state, and huey only runs what dequeue() hands it. The consumer's
scheduler tick (read_schedule, once a second) does the engine's housekeeping instead.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, close_old_connections, connection, connections
from django.utils import timezone
from huey.constants import EmptyData
from huey.storage import BaseStorage

from jobs import schedules, selectors, services, states
from jobs.conf import EngineSettings
from jobs.engine import workers
from jobs.engine.wake import Waker, make_waker

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
TICK_SLACK_SECONDS = 0.05


def _die_with_parent() -> None:
    """Linux: a forked worker gets SIGKILL when its runworkers parent dies, so kill -9 of the
    parent never leaves orphans claiming jobs under a name nobody heartbeats."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


class JobStorage(BaseStorage):
    blocking = True  # dequeue() waits itself, so huey's consumer never sleeps-and-backs-off

    def __init__(
        self, name: str = "jobdeck", *, queues: tuple[str, ...], worker_name: str, engine: EngineSettings, **kw: Any
    ) -> None:
        super().__init__(name)
        self.queues = queues
        self.worker_name = worker_name
        self.engine = engine
        self.task_for: Callable[[states.ClaimedJob], Any] | None = None  # set by the consumer
        self._pid = os.getpid()
        self._local = threading.local()
        self._next_rescue = 0.0
        self._next_heartbeat = 0.0
        # First prune a minute after start (or sooner when the interval is shorter).
        self._next_prune = time.monotonic() + min(60.0, self.engine.prune_interval_seconds)
        self._next_schedules = 0.0

    # --- process and slot state -----------------------------------------------------------

    def _check_process(self) -> None:
        if os.getpid() != self._pid:  # first call in a forked child
            self._pid = os.getpid()
            self._local = threading.local()
            _die_with_parent()

    def _waker(self) -> Waker:
        waker = getattr(self._local, "waker", None)
        if waker is None:
            waker = self._local.waker = make_waker(self.engine.sqlite_probe_seconds)
        return waker

    # --- claiming ---------------------------------------------------------------------------

    def defer(self, outcome: states.Outcome, on_stored: Callable[[], None] | None = None) -> None:
        """Keep a finished job's outcome for this worker's next dequeue(), which writes it in the
        same transaction as the next claim (see states.finish_and_claim), then calls `on_stored`
        (task_finished: receivers see the job as stored)."""
        self._local.pending = outcome
        self._local.on_stored = on_stored

    def _stored(self, written: bool | None) -> None:
        """The pending outcome was written (True), or found its claim gone (False): forget it."""
        on_stored = getattr(self._local, "on_stored", None)
        self._local.pending = self._local.on_stored = None
        if written and on_stored is not None:
            try:
                on_stored()
            except Exception:
                logger.exception("notifying a finished job failed", extra={"worker_id": self.worker_name})

    def flush(self) -> None:
        """Write this worker's deferred outcome now (huey calls this as the worker shuts down)."""
        outcome = getattr(self._local, "pending", None)
        if outcome is not None:
            self._stored(states.record(outcome))

    def _finish_and_claim(self) -> states.ClaimedJob | None:
        pending = getattr(self._local, "pending", None)
        delay = 0.005
        for _ in range(50):
            try:
                written, claimed = states.finish_and_claim(
                    pending, queues=self.queues, worker=self.worker_name, lease_seconds=self.engine.lease_seconds
                )
            except OperationalError as exc:
                # SQLite under heavy contention can exceed its busy timeout; back off and retry
                # rather than let "database is locked" reach anyone. Other errors go to huey's log
                # (the outcome stays pending, so the next dequeue writes it).
                if "locked" not in str(exc) and "busy" not in str(exc):
                    connection.close_if_unusable_or_obsolete()
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            self._stored(written)
            if written is False:
                logger.warning(
                    "job %s ended after losing its claim; outcome discarded",
                    pending.claimed.id,
                    extra={"job_id": pending.claimed.id, "worker_id": self.worker_name},
                )
            return claimed
        return None

    def next_task(self) -> Any:
        """Claim the next job and return the huey task that runs it, waiting up to idle_wait_seconds
        for one (None then). JobdeckHuey.dequeue() calls this in place of dequeue()."""
        self._check_process()
        assert self.task_for is not None, "the consumer sets task_for before starting"
        deadline = time.monotonic() + self.engine.idle_wait_seconds
        probe_first = False
        while True:
            # After a wake-up with nothing to write, a read tells whether claiming is worth a write
            # transaction: on SQLite every claim attempt takes the database's one write lock.
            if (
                probe_first
                and getattr(self._local, "pending", None) is None
                and not selectors.has_runnable(self.queues)
            ):
                claimed = None
            else:
                claimed = self._finish_and_claim()
            if claimed is not None:
                return self.task_for(claimed)
            probe_first = connection.vendor == "sqlite"
            # Nothing runnable: promote scheduled/retrying jobs whose time has come, so run_at is
            # honoured to the millisecond rather than to the next scheduler tick.
            now = timezone.now()
            due = states.next_due_at()
            if due is not None and due <= now and states.promote_due():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if due is not None:
                remaining = min(remaining, max(0.001, (due - now).total_seconds()))
            # Wait for a commit anywhere (new job, resumed queue, finished job freeing a slot).
            self._waker().wait(remaining)

    # --- housekeeping on huey's scheduler tick --------------------------------------------------

    def read_schedule(self, ts: Any) -> list[bytes]:
        """Once a second: promote due scheduled/retrying jobs; at their intervals, the worker's
        heartbeat, the rescue of expired leases, the firing of due cron schedules and the pruning
        of old finished jobs and of worker rows gone for longer than their retention."""
        self._check_process()
        tick = time.monotonic()
        try:
            now = time.monotonic()
            if now >= self._next_heartbeat:  # each heartbeat is a write that wakes idle workers
                self._next_heartbeat = now + self.engine.heartbeat_seconds
                workers.heartbeat(self.worker_name)
            states.promote_due()
            if now >= self._next_rescue:
                self._next_rescue = now + self.engine.rescue_interval_seconds
                states.rescue_expired()
        except Exception:
            logger.exception("housekeeping failed; will retry next tick", extra={"worker_id": self.worker_name})
            close_old_connections()
        if tick >= self._next_schedules:
            # Its own guard, like pruning: a failing schedule is logged and retried next interval.
            # Every worker fires at once; each fire time still enqueues exactly once (jobs.schedules).
            # huey ticks on a fixed grid: measured from this tick's start, less a little slack, a
            # 1 s interval means every tick rather than every other one.
            self._next_schedules = tick + self.engine.schedule_interval_seconds - TICK_SLACK_SECONDS
            try:
                schedules.fire_due_schedules()
            except Exception:
                logger.exception("firing cron schedules failed", extra={"worker_id": self.worker_name})
                close_old_connections()
        if time.monotonic() >= self._next_prune:
            # Its own guard: a failing prune is logged and retried an interval later, never stopping
            # the tick. Bounded to 10 batches so one tick never holds the database for long; other
            # hosts pruning at once skip (PostgreSQL) or wait for (SQLite) each other's batches.
            self._next_prune = time.monotonic() + self.engine.prune_interval_seconds
            try:
                pruned = services.prune_jobs(max_batches=10)
                schedules.prune_schedule_runs()
                services.prune_workers()
            except Exception:
                logger.exception("pruning finished jobs failed", extra={"worker_id": self.worker_name})
                close_old_connections()
            else:
                if pruned.jobs:
                    logger.info(
                        "pruned %d finished jobs",
                        pruned.jobs,
                        extra={"worker_id": self.worker_name, "action": "pruned"},
                    )
        return []

    # --- the rest of huey's storage interface: unused, answered honestly --------------------------

    def dequeue(self) -> bytes | None:
        raise NotImplementedError("JobdeckHuey.dequeue() takes tasks from next_task(), unserialized")

    def close(self) -> None:
        connections.close_all()  # called before forking workers: children must open their own

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        raise NotImplementedError("Jobdeck jobs are enqueued through jobs.services, not huey")

    def add_to_schedule(self, data: bytes, ts: Any) -> None:
        raise NotImplementedError("Jobdeck schedules jobs with run_at through jobs.services")

    def queue_size(self) -> int:
        return 0

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        return []

    def flush_queue(self) -> None:
        pass

    def schedule_size(self) -> int:
        return 0

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        return []

    def flush_schedule(self) -> None:
        pass

    def put_data(self, key: Any, value: Any, is_result: bool = False) -> None:
        pass

    def peek_data(self, key: Any) -> Any:
        return EmptyData

    def pop_data(self, key: Any) -> Any:
        return EmptyData

    def delete_data(self, key: Any) -> bool:
        return False

    def has_data_for_key(self, key: Any) -> bool:
        return False

    def put_if_empty(self, key: Any, value: Any, ttl: Any = None) -> bool:
        raise NotImplementedError("huey locks are not supported by the Jobdeck storage")

    def result_store_size(self) -> int:
        return 0

    def result_items(self) -> dict:
        return {}

    def flush_results(self) -> None:
        pass
