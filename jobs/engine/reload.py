"""`runworkers --reload` (development): restart the workers, gracefully, whenever code changes.

Two processes. The supervisor (the runworkers you started) claims no job: it runs the workers in a
child process, marked with DJANGO_AUTORELOAD_ENV as runserver marks its own, and starts a fresh
child each time one exits with RELOAD_EXIT_CODE. SIGTERM and SIGINT it receives are passed to the
child (SIGHUP as SIGTERM), so stopping the supervisor stops the workers the usual way.

The child watches the files of every imported module with Django's autoreloader (StatReloader, or
Watchman when pywatchman is installed) in a thread. On a change it asks the consumer to stop as
SIGTERM does: running jobs get the shutdown grace to finish, and those still running after it are
requeued as interrupted, their attempt not spent (jobs.status.attempts_spent). The child then exits
with RELOAD_EXIT_CODE and the next child imports the changed code, under a new WorkerProcess row.
A child whose task modules fail to import (a typo while editing) waits for the next change rather
than exiting, as runserver does.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from django.utils import autoreload

logger = logging.getLogger(__name__)

RELOAD_EXIT_CODE = 3  # what runserver's reloader uses too


def is_reloading_child() -> bool:
    """Whether this process is the workers' process under a --reload supervisor."""
    return os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) == "true"


def supervise() -> int:
    """Run this same command in a child process, again after each code change; return the exit
    code of the last child (the one that did not exit to be reloaded)."""
    env = {**os.environ, autoreload.DJANGO_AUTORELOAD_ENV: "true"}
    args = [str(arg) for arg in autoreload.get_child_arguments()]
    child: subprocess.Popen[bytes] | None = None
    stop: list[int] = []  # the signal asking the supervisor to stop, once one came

    def as_sent(signum: int) -> int:
        # SIGHUP (the terminal went away) drains as SIGTERM does: huey would restart in place on
        # SIGHUP, skipping runworkers' own clean-up.
        return signal.SIGTERM if signum == signal.SIGHUP else signum

    def forward(signum: int, frame: Any) -> None:
        stop.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(as_sent(signum))

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        if stop:  # asked to stop while the last child was exiting to reload: start no other
            return 0
        child = subprocess.Popen(args, env=env)  # noqa: S603 - this very command, as runserver does
        if stop:  # the signal came as the child was starting, before forward() could see it
            child.send_signal(as_sent(stop[0]))
        code = child.wait()
        if stop and code in (0, RELOAD_EXIT_CODE, -as_sent(stop[0])):
            return 0  # stopped as asked (a child still starting up dies of the signal itself)
        if code != RELOAD_EXIT_CODE:
            return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
        logger.info("code changed: workers restarted")


class CodeWatcher:
    """Django's autoreloader in a daemon thread of the workers' process; on the first change it
    sets `changed` and calls `on_change` (from the watcher's thread)."""

    RELOAD_EXIT_CODE = RELOAD_EXIT_CODE

    def __init__(self) -> None:
        self.changed = threading.Event()
        self._on_change: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        reloader = autoreload.get_reloader()
        # A receiver answering True tells Django the change is handled: its own reaction, sys.exit(3)
        # in the watching thread, would end only that thread.
        autoreload.file_changed.connect(self._file_changed, sender=reloader, weak=False)
        thread = threading.Thread(
            target=reloader.run, args=(threading.main_thread(),), name="jobdeck-reload", daemon=True
        )
        thread.start()
        logger.info("watching for code changes with %s", type(reloader).__name__)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` at the first change, or now if the code changed already."""
        with self._lock:
            self._on_change = callback
            changed = self.changed.is_set()
        if changed:
            callback()

    def _file_changed(self, sender: Any, file_path: Any, **kwargs: Any) -> bool:
        with self._lock:
            first = not self.changed.is_set()
            self.changed.set()
            callback = self._on_change
        if first:
            logger.info("%s changed: stopping the workers to reload", file_path)
            if callback is not None:
                callback()
        return True

    def import_or_wait(self, load: Callable[[], Any]) -> bool:
        """Call `load` (importing the task modules). If it raises, log the error and wait for the
        next change (the failing file is watched too); return whether it loaded."""
        try:
            autoreload.check_errors(load)()  # notes the failing file for the watcher
        except Exception:
            logger.exception("the code does not load; waiting for a change")
            self.changed.wait()
            return False
        return True
