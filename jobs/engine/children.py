"""Process workers: what a job starts ends with it, and a worker child is recycled between jobs.

Containment. A forked worker makes itself a process-group leader (so the job's processes are in a
group of their own, not runworkers') and a child subreaper (PR_SET_CHILD_SUBREAPER), so a process
the job started stays its descendant even when its parent exits (a double-forked daemon, even one
that called setsid(), is reparented to the worker rather than to init). When a job ends (done,
failed, timed out, cancelled or interrupted) every descendant left gets SIGTERM, then SIGKILL
after CHILD_TERM_GRACE_SECONDS, and is reaped. A job that started nothing costs one read of
/proc/self/task/*/children.

Recycling. A worker child serving `max_tasks` jobs, or whose RSS has grown past `max_memory_mb`,
exits between jobs (huey's WorkerRecycle), after its shutdown hooks have written the last job's
outcome; runworkers' health check starts a replacement. No job is lost or run twice: the child
holds no claim once its last outcome is written.

Thread workers share one process, so none of this applies to them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
from dataclasses import dataclass

import psutil
from huey.consumer import Worker, WorkerRecycle

logger = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
CHILD_TERM_GRACE_SECONDS = 1.0

_contained_pid: int | None = None  # the process that set itself up as a job container


def contain_jobs() -> None:
    """Make this (forked worker) process its jobs' process group and subreaper; once per process."""
    global _contained_pid
    pid = os.getpid()
    if _contained_pid == pid:
        return
    _contained_pid = pid
    try:
        os.setpgid(0, 0)
    except OSError as exc:  # already a session leader, say; containment by subreaper still holds
        logger.warning("worker %s could not start its own process group: %s", pid, exc)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _has_children() -> bool:
    """Cheap (one small read, after every job): whether this process's main thread has a child.

    A process worker runs its jobs on the main thread, so what a job starts is the main thread's
    child, and orphans reparented to this subreaper go to it too. (A child started from another
    thread of the job's is found once that thread ends and it passes to the main thread.)
    True when unknown (no /proc), so stop_leftovers then asks psutil."""
    try:
        fd = os.open(f"/proc/self/task/{os.getpid()}/children", os.O_RDONLY)
    except OSError:
        return True
    try:
        return bool(os.read(fd, 1))
    finally:
        os.close(fd)


def stop_leftovers(job_id: int) -> int:
    """Stop every process the finished job left behind (SIGTERM, then SIGKILL); return how many."""
    if not _has_children():
        return 0
    try:
        left = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    if not left:
        return 0
    for proc in left:
        _send(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(left, timeout=CHILD_TERM_GRACE_SECONDS)
    for proc in alive:
        _send(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=CHILD_TERM_GRACE_SECONDS)
    _reap()
    logger.warning("job %s left %s process(es) running; stopped them", job_id, len(left), extra={"job_id": job_id})
    return len(left)


def _send(proc: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.Error):  # already gone
        proc.send_signal(signum)


def _reap() -> None:
    """Collect the exit status of any child that ended (orphans reparented to us included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@dataclass
class Recycler:
    """Decides, between jobs, whether this worker child should exit and be replaced."""

    max_tasks: int | None = None
    max_memory_mb: float | None = None
    done: int = 0  # jobs this process ran: a forked child starts from the parent's 0
    due: bool = False  # read by RecyclingWorker after each job

    @property
    def enabled(self) -> bool:
        return bool(self.max_tasks or self.max_memory_mb)

    def job_ended(self) -> None:
        """Count one job and decide whether the child should now be recycled."""
        self.done += 1
        if self.max_tasks and self.done >= self.max_tasks:
            logger.info("worker %s ran %s jobs; recycling it", os.getpid(), self.done)
            self.due = True
        elif self.max_memory_mb:
            rss_mb = psutil.Process().memory_info().rss / (1024 * 1024)
            if rss_mb > self.max_memory_mb:
                logger.info("worker %s uses %.0f MB > %s MB; recycling it", os.getpid(), rss_mb, self.max_memory_mb)
                self.due = True


class RecyclingWorker(Worker):
    """huey's worker, leaving its loop between jobs once the Recycler says so (huey.recycler)."""

    def loop(self, now: object = None) -> None:
        super().loop(now)
        recycler = getattr(self.huey, "recycler", None)
        if recycler is not None and recycler.due:
            raise WorkerRecycle  # huey runs the shutdown hooks (the last outcome is written), then exits
