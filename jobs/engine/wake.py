"""Waking idle workers without sleepy polling: LISTEN/NOTIFY on PostgreSQL, a file probe on SQLite."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import threading
import time
from typing import TYPE_CHECKING, Any

from django.db import connection

from jobs.database import LISTEN_SQL, is_postgres, listen_connection_kwargs

if TYPE_CHECKING:
    import psycopg  # imported at run time only where PostgreSQL is used (see _connect)

logger = logging.getLogger(__name__)


class Waker:
    """Blocks an idle worker until the job table may have changed, or a timeout passes."""

    def wait(self, timeout: float) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


class SqliteWaker(Waker):
    """Watches the database's WAL file: every commit by any process writes to it.

    On Linux an inotify watch on the database's directory wakes the worker the moment a commit
    lands, and costs nothing while nothing happens. Elsewhere a stat() of the WAL file every
    `interval` seconds does the same job at a few milliseconds' delay.
    """

    def __init__(self, db_path: str, interval: float) -> None:
        self.paths = (db_path + "-wal", db_path)
        self.interval = interval
        self.last = self._signature()
        self.inotify_fd = _inotify_watch(os.path.dirname(os.path.abspath(db_path)))

    def _signature(self) -> tuple[int, ...]:
        sig: list[int] = []
        for path in self.paths:
            try:
                st = os.stat(path)
                sig += [st.st_mtime_ns, st.st_size, st.st_ino]
            except FileNotFoundError:
                sig += [0, 0, 0]
        return tuple(sig)

    def wait(self, timeout: float) -> bool:
        if self.inotify_fd is not None:
            poller = select.poll()
            poller.register(self.inotify_fd, select.POLLIN)
            if not poller.poll(max(0, int(timeout * 1000))):
                return False
            with contextlib.suppress(BlockingIOError):
                while os.read(self.inotify_fd, 65536):  # drain: one wake-up however many writes
                    pass
            return True
        deadline = time.monotonic() + timeout
        while True:
            sig = self._signature()
            if sig != self.last:
                self.last = sig
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.interval, remaining))


_IN_MODIFY, _IN_CREATE, _IN_MOVED_TO = 0x2, 0x100, 0x80
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000


def _inotify_watch(directory: str) -> int | None:
    """An inotify descriptor that becomes readable when a file in `directory` is written (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd: int = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return None
        if libc.inotify_add_watch(fd, directory.encode(), _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO) < 0:
            os.close(fd)
            return None
        return fd
    except (OSError, AttributeError):
        return None


class PostgresWaker(Waker):
    """A thread holding its own connection in LISTEN; each NOTIFY bumps a generation counter."""

    def __init__(self, settings_dict: dict[str, Any]) -> None:
        self.settings_dict = settings_dict
        self.generation = 0
        self.local = threading.local()  # each worker thread remembers the generation it last saw
        self.cond = threading.Condition()
        thread = threading.Thread(target=self._listen_forever, name="jobdeck-listen", daemon=True)
        thread.start()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        return psycopg.connect(**listen_connection_kwargs(self.settings_dict))

    def _bump(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def _listen_forever(self) -> None:
        while True:
            try:
                with self._connect() as conn:
                    conn.execute(LISTEN_SQL)
                    self._bump()  # we may have missed notifications while (re)connecting
                    for _ in conn.notifies():
                        self._bump()
            except Exception:  # a dropped connection: reconnect after a pause, polling meanwhile
                logger.warning("LISTEN connection lost; reconnecting", exc_info=True)
                self._bump()
                time.sleep(1.0)

    def wait(self, timeout: float) -> bool:
        with self.cond:
            seen = getattr(self.local, "seen", -1)
            if self.generation == seen:
                self.cond.wait(timeout)
            woke = self.generation != seen
            self.local.seen = self.generation
            return woke


def make_waker(probe_interval: float) -> Waker:
    """The waker for the default database, created in the process (and after the fork) that uses it."""
    if is_postgres():
        return PostgresWaker(dict(connection.settings_dict))
    return SqliteWaker(str(connection.settings_dict["NAME"]), probe_interval)
