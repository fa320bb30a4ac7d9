"""Isolated workers: every job runs in a process forked for it alone, which exits when the job ends.

A worker slot (a huey process worker, forked from runworkers at start) claims jobs as a process
worker does but never runs one itself. For each job it forks a child that runs the job exactly as a
process worker would (its own lease keeper, hard timeout and cancel, log capture), stores the
outcome, tells the slot over a pipe and leaves with os._exit: no finalizer or atexit hook runs, so
nothing the slot holds (its database connections, its LISTEN connection) is closed on its behalf.
A crash, a leak or a changed global therefore dies with its job; the next job starts from the
slot's clean state. The slot stays single-threaded, so every fork is a fork of one thread.

The slot watches its child (a pidfd, so it wakes the moment the child ends) and decides:
  1. the child reported its stored outcome: nothing more to write;
  2. the child died without reporting (a segfault, os._exit, kill -9, the OOM killer): the attempt
     ends as failed, "process crashed: signal 11 (SIGSEGV)", retried by the usual rules at once,
     not when the lease runs out. The write is conditional on the claim, so an outcome the child
     stored just before dying stands;
  3. the job ran past its timeout, or was cancelled, and the child did not stop on its own hard
     stop (SIGALRM, SIGUSR1) within KILL_GRACE_SECONDS more: SIGKILL, then timed out or cancelled;
  4. shutdown past its grace (KeyboardInterrupt in the slot): SIGINT to the child, whose attempt is
     then recorded as interrupted (not spent); SIGKILL if it has not ended KILL_GRACE_SECONDS later.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

from jobs import states
from jobs.context import JobTimeout
from jobs.engine.storage import die_with_parent

logger = logging.getLogger(__name__)

# How long a child may take to stop by itself (its own hard stop, or an interrupt) before SIGKILL.
KILL_GRACE_SECONDS = 2.0
_REPORT_BYTES = 64  # "done", "retrying"...: the status the child stored


class ProcessCrashed(Exception):  # noqa: N818 - reads as an event, like WorkerLost
    """Recorded (never raised) for an attempt whose own process died before storing an outcome."""


@dataclass(frozen=True)
class Watch:
    """What the slot enforces from outside the child."""

    cancel_grace: float  # a cancel the child has not obeyed after this (plus KILL_GRACE_SECONDS) is a kill
    check_seconds: float  # how often the slot asks the database whether the job was cancelled


@dataclass(frozen=True)
class Ended:
    """How a child's job ended, as the slot sees it: the status the job moved to and, when the
    child died or was killed before storing it, the outcome the slot must store itself."""

    status: str
    outcome: states.Finish | None = None


def crash_message(status: int) -> str:
    """A waitpid() status in words: "process crashed: signal 11 (SIGSEGV)" or "... exit code 3"."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            return f"process crashed: signal {signum}"
        return f"process crashed: signal {signum} ({name})"
    return f"process crashed: exit code {os.waitstatus_to_exitcode(status)} before the job finished"


def run_in_child(
    claimed: states.ClaimedJob,
    job: Callable[[], str | None],
    *,
    watch: Watch,
    decide: Callable[[states.ClaimedJob, BaseException, bool], states.Finish],
) -> Ended:
    """Fork a child that calls `job` (which runs the claimed job and stores its outcome, returning
    the stored status or None) and exits; wait for it, enforcing the timeout and cancels.

    `decide(claimed, exc, cancelled)` turns a crash or a kill into the attempt's outcome (the
    engine's retry rules). KeyboardInterrupt (shutdown past its grace) is passed on to the child
    and raised again once it has ended.
    """
    read_end, write_end = os.pipe()
    # Frozen objects are left alone by the child's garbage collector, whose scans would otherwise
    # touch (and so copy) most of the slot's memory pages; the slot unfreezes at once.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(job, write_end)
    gc.unfreeze()
    os.close(write_end)
    try:
        status, reason = _watch(pid, claimed, watch)
        report = _read_report(read_end)
    finally:
        os.close(read_end)
    if report is not None:
        return Ended(status=report)
    if reason == "timeout":
        exc: BaseException = JobTimeout(f"job {claimed.id} timed out after {claimed.timeout}s; its process was killed")
    elif reason == "cancelled":
        exc = ProcessCrashed("cancelled; the job's process did not stop and was killed")
    else:
        exc = ProcessCrashed(crash_message(status))
    logger.warning(
        "job %s: %s",
        claimed.id,
        exc,
        extra={"job_id": claimed.id, "worker_id": claimed.worker, "action": "crashed"},
    )
    outcome = decide(claimed, exc, reason == "cancelled")
    return Ended(status=outcome.to, outcome=outcome)


def _child(job: Callable[[], str | None], write_end: int) -> None:
    """Run the job in the freshly forked child, report its stored status and leave without cleanup."""
    code = 1
    try:
        # The slot's death (runworkers killed) must not leave this child running a job nobody watches.
        die_with_parent()
        # An interrupt from the slot (shutdown past its grace) stops the job wherever it is.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stored = job()
        if stored is not None:
            os.write(write_end, stored.encode()[:_REPORT_BYTES])
        code = 0
    except KeyboardInterrupt:
        pass  # execute() recorded the attempt as interrupted
    except BaseException:
        logger.exception("the job's process failed outside the job")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _watch(pid: int, claimed: states.ClaimedJob, watch: Watch) -> tuple[int, str]:
    """Wait for the child to end; kill it past its timeout or a disobeyed cancel. Returns its
    waitpid() status and why it ended: "exited", "timeout" or "cancelled"."""
    pidfd = os.pidfd_open(pid)
    started = time.monotonic()
    kill_at_timeout = None if claimed.timeout is None else started + claimed.timeout + KILL_GRACE_SECONDS
    cancel_seen: float | None = None
    next_check = started + watch.check_seconds
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while True:
            now = time.monotonic()
            wake = next_check
            if kill_at_timeout is not None:
                wake = min(wake, kill_at_timeout)
            if poller.poll(max(0.0, wake - now) * 1000):
                return os.waitpid(pid, 0)[1], "exited"
            now = time.monotonic()
            if kill_at_timeout is not None and now >= kill_at_timeout:
                return _kill(pid), "timeout"
            if now >= next_check:
                next_check = now + watch.check_seconds
                if cancel_seen is None and _cancel_requested(claimed):
                    cancel_seen = now
                if cancel_seen is not None and now - cancel_seen >= watch.cancel_grace + KILL_GRACE_SECONDS:
                    return _kill(pid), "cancelled"
    except KeyboardInterrupt:
        _interrupt(pid, pidfd)
        raise
    finally:
        os.close(pidfd)


def _cancel_requested(claimed: states.ClaimedJob) -> bool:
    """Whether the job was cancelled; False while the database cannot say (the slot keeps watching
    its child, and the child's own lease keeper relays the cancel once the database answers)."""
    try:
        return bool(states.cancel_requested([(claimed.id, claimed.attempt)]))
    except Exception:
        logger.warning("could not check job %s for a cancel", claimed.id, exc_info=True, extra={"job_id": claimed.id})
        close_old_connections()
        return False


def _kill(pid: int) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _interrupt(pid: int, pidfd: int) -> None:
    """Shutdown past its grace: the child records its attempt as interrupted, or is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if not poller.poll(KILL_GRACE_SECONDS * 1000):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _read_report(read_end: int) -> str | None:
    """The status the child wrote before exiting; None if it wrote nothing (it died first).

    Non-blocking: a process the job started may hold the pipe's write end open after the child ended."""
    flags = fcntl.fcntl(read_end, fcntl.F_GETFL)
    fcntl.fcntl(read_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        data = os.read(read_end, _REPORT_BYTES)
    except BlockingIOError:
        return None
    return data.decode() or None
