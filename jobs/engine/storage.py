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

from django.db import close_old_connections, connection, connections
from django.utils import timezone
from huey.constants import EmptyData
from huey.storage import BaseStorage

from jobs import dbguard, selectors, services, states
from jobs.conf import EngineSettings
from jobs.database import is_sqlite
from jobs.engine import workers
from jobs.engine.wake import Waker, make_waker
from jobs.services import rate_limits, schedule_upkeep

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
TICK_SLACK_SECONDS = 0.05
# How long a stopping worker keeps trying to store its last outcome while the database refuses it.
FLUSH_RETRY_SECONDS = 30.0


def die_with_parent() -> None:
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
        self,
        name: str = "jobdeck",
        *,
        queues: tuple[str, ...],
        worker_name: str,
        engine: EngineSettings,
        tasks: tuple[str, ...] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(name)
        self.queues = queues
        # The task refs this worker has (registry.worker_tasks()): it claims only jobs of these
        # tasks at these versions. None: any task (tests of the storage alone).
        self.tasks = tasks
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
            die_with_parent()

    def _waker(self) -> Waker:
        waker = getattr(self._local, "waker", None)
        if waker is None:
            waker = self._local.waker = make_waker(self.engine.sqlite_probe_seconds)
        return waker

    # --- claiming ---------------------------------------------------------------------------

    def defer(
        self,
        outcome: states.Finish,
        on_stored: Callable[[], None] | None = None,
        *,
        release: Callable[[], None] | None = None,
    ) -> None:
        """Keep a finished job's outcome for this worker's next dequeue(), which writes it in the
        same transaction as the next claim (see states.finish_and_claim), then calls `on_stored`
        (task_finished: receivers see the job as stored). `release` is called once the outcome is
        written or discarded (the lease keeper stops renewing the job's lease)."""
        self._local.pending = outcome
        self._local.on_stored = on_stored
        self._local.release = release
        self._local.refused = False

    def _pending(self) -> states.Finish | None:
        return getattr(self._local, "pending", None)

    def _stored(self, written: bool | None) -> None:
        """The pending outcome was written (True), or found its claim gone (False): forget it."""
        pending, on_stored, release = self._pending(), self._local.on_stored, self._local.release
        self._local.pending = self._local.on_stored = self._local.release = None
        self._local.refused = False
        if release is not None:
            release()
        if written is False and pending is not None:
            logger.warning(
                "job %s ended after losing its claim; outcome discarded",
                pending.claimed.id,
                extra={"job_id": pending.claimed.id, "worker_id": self.worker_name},
            )
        if written and on_stored is not None:
            try:
                on_stored()
            except Exception:
                logger.exception("notifying a finished job failed", extra={"worker_id": self.worker_name})

    def _refused(self, exc: Exception) -> None:
        """The database refused a write (disk full, write lock held, connection lost). A pending
        outcome stays pending, its lease renewed by the keeper, and is written again on its own
        before this worker claims anything; a broken connection is replaced on the next try."""
        connection.close_if_unusable_or_obsolete()
        pending = self._pending()
        if pending is None or self._local.refused:
            return
        self._local.refused = True
        # The reason, not the database's words: "database is locked" is for no log to show.
        logger.warning(
            "could not store the outcome of job %s (%s); keeping it and retrying",
            pending.claimed.id,
            dbguard.reason_of(exc),
            extra={"job_id": pending.claimed.id, "worker_id": self.worker_name},
        )

    def store(
        self,
        outcome: states.Finish,
        on_stored: Callable[[], None] | None = None,
        *,
        release: Callable[[], None] | None = None,
    ) -> bool:
        """Write an outcome now rather than with the next claim (an isolated job's process, which
        claims nothing). False if the database refused it for FLUSH_RETRY_SECONDS."""
        self.defer(outcome, on_stored, release=release)
        self.flush()
        return self._pending() is None

    def flush(self) -> None:
        """Write this worker's deferred outcome now (huey calls this as the worker shuts down),
        retrying for up to FLUSH_RETRY_SECONDS while the database refuses it."""
        deadline = time.monotonic() + FLUSH_RETRY_SECONDS
        delay = 0.05
        while (outcome := self._pending()) is not None:
            try:
                self._stored(states.record(outcome))
            except dbguard.REFUSALS as exc:
                self._refused(exc)
                if time.monotonic() + delay > deadline:
                    # The job stays leased to this worker: `runworkers` requeues it on its way out,
                    # or the rescuer does once the lease runs out (at-least-once).
                    logger.error(
                        "giving up storing the outcome of job %s at shutdown",
                        outcome.claimed.id,
                        extra={"job_id": outcome.claimed.id, "worker_id": self.worker_name},
                    )
                    return
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _finish_and_claim(self) -> states.ClaimedJob | None:
        delay = 0.005
        for _ in range(50):
            pending = self._pending()
            try:
                if pending is not None and self._local.refused:
                    # After a refused write the outcome goes on its own, so no new job is claimed
                    # (and run) while this one's outcome is still unwritten.
                    self._stored(states.record(pending))
                    pending = None
                written, claimed = states.finish_and_claim(
                    pending,
                    queues=self.queues,
                    worker=self.worker_name,
                    lease_seconds=self.engine.lease_seconds,
                    tasks=self.tasks,
                )
            except dbguard.REFUSALS as exc:
                # SQLite under heavy contention can exceed its busy timeout, a disk can fill, a
                # connection can drop: back off and retry rather than lose the outcome or let
                # "database is locked" reach anyone.
                self._refused(exc)
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if pending is not None:
                self._stored(written)
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
            if probe_first and self._pending() is None and not selectors.has_runnable(self.queues, self.tasks):
                claimed = None
            else:
                claimed = self._finish_and_claim()
            if claimed is not None:
                return self.task_for(claimed)
            probe_first = is_sqlite()
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
        """Once a second: promote due scheduled/retrying jobs and end waiting jobs past their
        deadline (expires_at); at their intervals, the worker's heartbeat, the rescue of expired
        leases, the firing of due cron schedules and the pruning of old finished jobs and of worker
        rows gone for longer than their retention."""
        self._check_process()
        tick = time.monotonic()
        try:
            now = time.monotonic()
            rescue = now >= self._next_rescue
            # Each heartbeat is a write that wakes idle workers; a rescue is preceded by one (below).
            if now >= self._next_heartbeat or rescue:
                self._next_heartbeat = now + self.engine.heartbeat_seconds
                workers.heartbeat(self.worker_name)
                if time.monotonic() - now >= self.engine.heartbeat_seconds:
                    self._writes_stalled()
                    rescue = False
            states.promote_due()
            states.expire_due()  # one indexed read when nothing is past its deadline
            if rescue:
                self._next_rescue = now + self.engine.rescue_interval_seconds
                states.rescue_expired()
        except Exception:
            logger.exception("housekeeping failed; will retry next tick", extra={"worker_id": self.worker_name})
            close_old_connections()
            self._writes_stalled()
        if tick >= self._next_schedules:
            # Its own guard, like pruning: a failing schedule is logged and retried next interval.
            # Every worker fires at once; each fire time still enqueues exactly once (jobs.services.schedule_upkeep).
            # huey ticks on a fixed grid: measured from this tick's start, less a little slack, a
            # 1 s interval means every tick rather than every other one.
            self._next_schedules = tick + self.engine.schedule_interval_seconds - TICK_SLACK_SECONDS
            try:
                schedule_upkeep.fire_due_schedules()
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
                schedule_upkeep.prune_schedule_runs()
                services.prune_workers()
                rate_limits.prune_rate_starts(now=time.time())  # start records no window counts any more
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

    def _writes_stalled(self) -> None:
        """This process's heartbeat write was refused or held up for a heartbeat interval or more:
        every worker's lease renewals were held up alike, so a lease that ran out meanwhile says
        nothing about its worker. Rescue waits one lease, in which live workers renew their leases
        and store the outcomes they kept (a rescue then would run those jobs again)."""
        self._next_rescue = time.monotonic() + self.engine.lease_seconds

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

    def result_items(self) -> dict[str, Any]:
        return {}

    def flush_results(self) -> None:
        pass
