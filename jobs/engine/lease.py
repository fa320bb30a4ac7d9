"""Per-process lease keeper: renews the leases of jobs this process runs, relays cancel requests and
stores their log lines as they come."""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.db import close_old_connections

from jobs import states
from jobs.context import JobContext
from jobs.engine.counters import OutcomeTotals

logger = logging.getLogger(__name__)

# Signal used to stop a job running in a process worker's main thread (cancel past its grace).
HARD_STOP_SIGNAL = signal.SIGUSR1


class LeaseKeeper:
    """One daemon thread per process. If the process dies, renewals stop and the rescuer takes over."""

    def __init__(self, *, worker: str, lease_seconds: float, heartbeat_seconds: float, cancel_grace: float) -> None:
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.cancel_grace = cancel_grace
        self.lock = threading.Lock()
        self.running: dict[int, tuple[JobContext, int | None]] = {}  # job id -> (context, thread to hard-stop)
        # Jobs that returned but whose outcome is not stored yet (job id -> attempt): their leases
        # are still renewed, or the rescuer would requeue them and they would run again.
        self.ended: dict[int, int] = {}
        self.cancel_seen: dict[int, float] = {}
        self.thread: threading.Thread | None = None
        self.totals = OutcomeTotals(worker)  # attempts this process ended, for /metrics

    def track(self, ctx: JobContext, *, hard_stop_thread: int | None) -> None:
        with self.lock:
            self.running[ctx.job_id] = (ctx, hard_stop_thread)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="jobdeck-lease", daemon=True)
                self.thread.start()

    def untrack(self, ctx: JobContext, *, outcome_pending: bool = False) -> None:
        """The job stopped running. With `outcome_pending`, its lease is kept until stored() says
        its outcome is in the database (or found its claim gone)."""
        with self.lock:
            self.running.pop(ctx.job_id, None)
            self.cancel_seen.pop(ctx.job_id, None)
            if outcome_pending:
                self.ended[ctx.job_id] = ctx.attempt

    def stored(self, job_id: int, attempt: int) -> None:
        """The outcome of this claim was written (or discarded): stop renewing its lease."""
        with self.lock:
            if self.ended.get(job_id) == attempt:
                del self.ended[job_id]

    def _claims(self) -> list[tuple[int, int]]:
        with self.lock:
            return [(job_id, ctx.attempt) for job_id, (ctx, _) in self.running.items()] + list(self.ended.items())

    def _run(self) -> None:
        last_renew = time.monotonic()
        tick = min(1.0, self.heartbeat_seconds / 2)
        while True:
            time.sleep(tick)
            try:
                claims = self._claims()
                if time.monotonic() - last_renew >= self.heartbeat_seconds:
                    states.renew_leases(worker=self.worker, claims=claims, lease_seconds=self.lease_seconds)
                    self.totals.write()
                    last_renew = time.monotonic()
                self._relay_cancels(states.cancel_requested(claims))
                self._write_logs()
            except Exception:
                logger.exception("lease renewal failed; retrying", extra={"worker_id": self.worker})
                close_old_connections()

    def _write_logs(self) -> None:
        """Store the lines running tasks logged since the last tick, so a job's log shows live."""
        with self.lock:
            buffers = [ctx.logs for ctx, _ in self.running.values() if ctx.logs is not None]
        for buffer in buffers:
            buffer.write()

    def _relay_cancels(self, cancelled: set[int]) -> None:
        now = time.monotonic()
        with self.lock:
            for job_id in cancelled:
                entry = self.running.get(job_id)
                if entry is None:
                    continue
                ctx, hard_thread = entry
                ctx.cancel_event.set()
                first_seen = self.cancel_seen.setdefault(job_id, now)
                if hard_thread is not None and now - first_seen >= self.cancel_grace:
                    logger.warning("hard-stopping cancelled job %s", job_id, extra={"job_id": job_id})
                    signal.pthread_kill(hard_thread, HARD_STOP_SIGNAL)
