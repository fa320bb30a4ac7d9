"""Builds the huey instance and consumer for `runworkers` from a WorkerConfig, and runs them."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections
from huey import Huey
from huey.consumer import Consumer

from jobs import registry, states
from jobs.conf import engine_settings, size_limits
from jobs.engine import children, forks, isolated, logcapture, workers
from jobs.engine.execute import after_stored_elsewhere, execute, failed_elsewhere
from jobs.engine.lease import LeaseKeeper
from jobs.engine.logcapture import Limits
from jobs.engine.storage import JobStorage
from jobs.retry import RetryPolicy
from jobs.services import schedule_upkeep

if TYPE_CHECKING:  # imported by runworkers --reload only: workers without it never load the autoreloader
    from jobs.engine.reload import CodeWatcher

logger = logging.getLogger(__name__)

WORKER_TYPES = ("thread", "process", "isolated")
# huey's own type for each of ours: an isolated worker's slots are process workers that fork a child per job.
HUEY_WORKER_TYPES = {"thread": "thread", "process": "process", "isolated": "process"}


@dataclass(frozen=True)
class WorkerConfig:
    queues: tuple[str, ...]
    concurrency: int
    worker_type: str  # "thread", "process" or "isolated" (a fresh process per job)
    shutdown_grace: float  # seconds SIGTERM waits for running jobs before putting them back
    max_tasks_per_child: int | None = None  # process workers: replace a child after this many jobs
    max_memory_per_child: float | None = None  # process workers: replace a child past this RSS (MB)
    name: str | None = None  # runworkers --name; None: host:pid:random


class JobdeckHuey(Huey):
    """huey taking each claimed job's task straight from the storage: the job was read from the
    database already, so pickling it into a message for huey to unpickle would be wasted work."""

    def dequeue(self) -> Any:
        return self.storage.next_task()


class JobdeckConsumer(Consumer):
    """huey's consumer, calling `on_ready` once its signal handlers are in place (the end of
    start()): until then SIGTERM still has its default meaning, so only then is the worker
    registered as running."""

    on_ready: Callable[[], None] = staticmethod(lambda: None)
    worker_class = children.RecyclingWorker

    def _set_signal_handlers(self) -> None:
        super()._set_signal_handlers()
        self.on_ready()

    def drain(self) -> None:
        """Stop as SIGTERM does (running jobs get the shutdown grace), callable from any thread: the
        main loop reads _signum every 0.1 s. (huey's own handler also re-arms the signal, which only
        the main thread may do; a later SIGTERM still drains, and SIGINT still stops at once.)"""
        self._restart, self._graceful = False, True
        self._signum = self._graceful_sig

    def check_worker_health(self) -> bool:
        # A dead (or recycled) process worker is replaced by a fork of this process, which must not
        # inherit its database connections: two processes on one socket corrupt the session
        # (on PostgreSQL: "prepared statement already exists", then a hang). Opened since the first
        # forks (registering the worker), they are closed here first; this process reopens on need.
        processes = [self.scheduler, *(t for _, t in self.worker_threads)]
        if self.environment.forks and not all(self.environment.is_alive(p) for p in processes):
            connections.close_all()
        healthy: bool = super().check_worker_health()  # huey is untyped (Any)
        return healthy


def build_consumer(config: WorkerConfig, worker_name: str, tasks: tuple[str, ...] | None = None) -> JobdeckConsumer:
    """A huey consumer whose storage claims from the job table under `worker_name`, only jobs of
    `tasks` (task refs; None: any)."""
    engine = engine_settings()
    huey = JobdeckHuey(
        "jobdeck",
        results=False,
        immediate=False,
        utc=True,
        storage_class=JobStorage,
        queues=config.queues,
        worker_name=worker_name,
        engine=engine,
        tasks=tasks,
    )
    policy = RetryPolicy(base_seconds=engine.retry_base_seconds, max_seconds=engine.retry_max_seconds)
    log_limits = Limits(max_lines=engine.log_max_lines, max_line_chars=engine.log_max_line_chars)
    max_result_bytes = size_limits().max_result_bytes
    logcapture.install()
    forks.install()  # children forked now or later (huey's restarts) open their own connections
    keepers: dict[int, LeaseKeeper] = {}
    keepers_lock = threading.Lock()

    def keeper() -> LeaseKeeper:
        # One keeper per process: a forked worker must not share its parent's (copied) keeper.
        with keepers_lock:
            pid = os.getpid()
            if pid not in keepers:
                keepers.clear()
                keepers[pid] = LeaseKeeper(
                    worker=worker_name,
                    lease_seconds=engine.lease_seconds,
                    heartbeat_seconds=engine.heartbeat_seconds,
                    cancel_grace=engine.cancel_grace_seconds,
                )
            return keepers[pid]

    storage: JobStorage = huey.storage
    processes = config.worker_type == "process"
    isolate = config.worker_type == "isolated"
    recycler = children.Recycler(max_tasks=config.max_tasks_per_child, max_memory_mb=config.max_memory_per_child)
    huey.recycler = recycler if processes else None  # read by children.RecyclingWorker

    def run_here(claimed: states.ClaimedJob) -> str | None:
        """In an isolated job's own process: run the job and store its outcome; the stored status."""
        lease_keeper = keeper()
        outcome, on_stored = execute(
            claimed,
            keeper=lease_keeper,
            policy=policy,
            hard_stops=True,
            log_limits=log_limits,
            max_result_bytes=max_result_bytes,
        )
        release = functools.partial(lease_keeper.stored, claimed.id, claimed.attempt)
        return outcome.to if storage.store(outcome, on_stored, release=release) else None

    watch = isolated.Watch(cancel_grace=engine.cancel_grace_seconds, check_seconds=engine.heartbeat_seconds)
    totals_due = [0.0]  # when an isolated slot next writes its totals (it runs no lease keeper thread)

    def run_isolated(claimed: states.ClaimedJob) -> None:
        children.contain_jobs()
        try:
            ended = isolated.run_in_child(
                claimed,
                functools.partial(run_here, claimed),
                watch=watch,
                decide=functools.partial(failed_elsewhere, policy=policy),
            )
        finally:  # what the job started (and left to this subreaper) ends with it
            children.stop_leftovers(claimed.id)
        if ended.outcome is not None:
            # Written with the slot's next claim, as any outcome; then task_finished and the hooks.
            storage.defer(ended.outcome, after_stored_elsewhere(ended.outcome))
        totals = keeper().totals
        totals.add(claimed.queue, ended.status)
        if time.monotonic() >= totals_due[0]:
            totals_due[0] = time.monotonic() + engine.heartbeat_seconds
            totals.write()

    @huey.task(name="jobdeck.execute")
    def run_claimed(claimed: states.ClaimedJob) -> None:
        if isolate:
            run_isolated(claimed)
            return
        lease_keeper = keeper()
        if processes:
            children.contain_jobs()
        try:
            outcome, on_stored = execute(
                claimed,
                keeper=lease_keeper,
                policy=policy,
                hard_stops=processes,
                log_limits=log_limits,
                max_result_bytes=max_result_bytes,
            )
            # Written with this worker's next claim, in one transaction; the lease is renewed until then.
            storage.defer(
                outcome, on_stored, release=functools.partial(lease_keeper.stored, claimed.id, claimed.attempt)
            )
        finally:
            if processes:  # whatever the job started ends with it, even when it was interrupted
                children.stop_leftovers(claimed.id)
        lease_keeper.totals.add(claimed.queue, outcome.to, claimed.task_name)
        if processes:
            recycler.job_ended()

    def write_totals() -> None:
        with keepers_lock:
            current = keepers.get(os.getpid())
        if current is not None:
            current.totals.write()

    huey.on_shutdown(name="jobdeck.flush")(storage.flush)
    huey.on_shutdown(name="jobdeck.totals")(write_totals)
    storage.task_for = run_claimed.s
    return JobdeckConsumer(
        huey,
        workers=config.concurrency,
        worker_type=HUEY_WORKER_TYPES[config.worker_type],
        periodic=False,
        scheduler_interval=1,
        check_worker_health=True,
        # A recycled child is replaced at the next health check: look often when recycling.
        health_check_interval=1 if processes and recycler.enabled else 5,
        shutdown_timeout=config.shutdown_grace,
        graceful_signal="TERM",  # SIGTERM drains; SIGINT (or a second SIGTERM) stops now
    )


def run(config: WorkerConfig, *, watcher: CodeWatcher | None = None) -> None:
    """Run the consumer until it stops (registering this process once it is up), then hand back
    unfinished jobs. With a `watcher` (--reload), a code change stops it as SIGTERM does. Raises
    InvalidSchedule, before anything starts, for a bad JOBDECK_SCHEDULES, and WorkerNameTaken when a
    live worker holds the chosen name."""
    # Once per start, before the consumer: a bad entry is one clear error (runworkers turns it into
    # a CommandError) rather than a traceback on every tick.
    schedule_upkeep.sync_code_schedules()
    name = config.name or workers.new_worker_name()
    # What this process can run, fixed at start: it claims only these, and says so in its row.
    tasks = tuple(registry.worker_tasks())
    if config.name:
        # A chosen name is claimed before any worker starts (workers.claim_worker_name); from here a
        # SIGTERM must reach the `finally` below, which gives the name back.
        workers.claim_worker_name(
            name=name,
            queues=config.queues,
            concurrency=config.concurrency,
            worker_type=config.worker_type,
            tasks=list(tasks),
        )
        signal.signal(signal.SIGTERM, _exit_now)

    def ready() -> None:
        if not config.name:
            workers.register_worker(
                name=name,
                queues=config.queues,
                concurrency=config.concurrency,
                worker_type=config.worker_type,
                tasks=list(tasks),
            )
        logger.info(
            "worker %s serving %s with %s %s workers",
            name,
            ",".join(config.queues),
            config.concurrency,
            config.worker_type,
            extra={"worker_id": name},
        )
        # huey forks replacements for dead process workers from this process later on: hold no
        # connection across those forks (jobs.engine.forks makes children drop one regardless).
        connections.close_all()

    try:
        consumer = build_consumer(config, name, tasks)
        consumer.on_ready = ready
        if watcher is not None:
            watcher.on_change(consumer.drain)
        consumer.run()
    finally:
        released = states.release_worker_jobs(worker=name, reason="worker shut down before the job finished")
        if released:
            logger.warning("requeued %s unfinished jobs", released, extra={"worker_id": name})
        workers.mark_stopped(name)
        logger.info("worker %s stopped", name, extra={"worker_id": name})


def _exit_now(signum: int, frame: object) -> None:
    raise SystemExit(0)
