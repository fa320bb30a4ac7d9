"""When the database refuses a write: one error for every caller, a memory of it for /health, and
a bounded wait for the write lock in web processes.

A full disk, a write lock held by someone else past the busy timeout, or a lost connection reach
Django as OperationalError (or InterfaceError). `refusing_writes` turns them into
`DatabaseUnavailable` at the service boundary and remembers the failure in this process, so
`/health` can say why writes fail (it cannot ask the database to record it: the database is
what refused).
"""

from __future__ import annotations

import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django.db.backends.signals import connection_created

from jobs.conf import read_setting
from jobs.database import is_postgres, is_sqlite
from jobs.exceptions import DatabaseUnavailable

logger = logging.getLogger("jobs.db")

RECENT_SECONDS = 60.0  # /health reports a refused write for this long after it happened
REFUSALS = (OperationalError, InterfaceError)

_lock = threading.Lock()
_last_refusal: tuple[float, str] | None = None  # (time.monotonic(), reason) of this process's latest


def reason_of(exc: BaseException) -> str:
    """A short, data-free reason for a refused write: 'disk full', 'database locked' or 'database error'."""
    text = str(exc).lower()
    if "full" in text or "no space" in text or "could not extend" in text:
        return "disk full"
    if "locked" in text or "lock timeout" in text or "could not obtain lock" in text:
        return "database locked"
    if "connect" in text or "closed" in text or "terminat" in text:
        return "connection lost"
    return "database error"


def record_refusal(exc: BaseException) -> str:
    """Remember a refused write for /health; returns its reason. Logging is the edge's business (the
    CLI's one line must stay one line; web processes log it with the request)."""
    global _last_refusal
    reason = reason_of(exc)
    with _lock:
        _last_refusal = (time.monotonic(), reason)
    return reason


def log_refusal(where: str, exc: DatabaseUnavailable) -> None:
    """One warning line in a web process's log: what was refused and the database's own words."""
    logger.warning("%s: %s (%s)", where, exc.message, exc.__cause__ or exc.reason)


def recent_refusal(*, within: float = RECENT_SECONDS) -> tuple[float, str] | None:
    """(seconds ago, reason) of this process's latest refused write, if within `within` seconds."""
    with _lock:
        last = _last_refusal
    if last is None:
        return None
    ago = time.monotonic() - last[0]
    return (ago, last[1]) if ago <= within else None


def forget_refusals() -> None:
    """Clear the memory (tests)."""
    global _last_refusal
    with _lock:
        _last_refusal = None


@contextmanager
def refusing_writes() -> Iterator[None]:
    """Turn a refused write (OperationalError, InterfaceError) into DatabaseUnavailable."""
    try:
        yield
    except REFUSALS as exc:
        raise DatabaseUnavailable(record_refusal(exc)) from exc


def write_service[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a write service: the database refusing it raises DatabaseUnavailable, never OperationalError."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with refusing_writes():
            return func(*args, **kwargs)

    return wrapper


def low_disk_space() -> str | None:
    """'N MB free' when the SQLite database's filesystem has less than JOBDECK_MIN_FREE_DISK_MB free.

    PostgreSQL's disk is the server's, out of sight here; its refused writes still show in /health.
    """
    db = connections["default"]
    if not is_sqlite(db):
        return None
    minimum = read_setting("JOBDECK_MIN_FREE_DISK_MB", 100.0) * 1024 * 1024
    try:
        free = shutil.disk_usage(Path(str(db.settings_dict["NAME"])).resolve().parent).free
    except OSError:
        return None
    return f"{free / 1024 / 1024:.1f} MB free" if free < minimum else None


def web_lock_timeout_seconds() -> float:
    return read_setting("JOBDECK_WEB_LOCK_TIMEOUT_SECONDS", 5.0)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    bound_lock_wait(connection)


def bound_lock_wait(connection: Any) -> None:
    """This connection waits at most JOBDECK_WEB_LOCK_TIMEOUT_SECONDS for a lock, then fails (503)."""
    millis = int(web_lock_timeout_seconds() * 1000)
    with connection.cursor() as cursor:
        if is_sqlite(connection):
            cursor.execute(f"PRAGMA busy_timeout = {millis}")
        elif is_postgres(connection):
            cursor.execute(f"SET lock_timeout = {millis}")


def configure_web_process() -> None:
    """Called by project/asgi.py and wsgi.py (never by workers, which wait out locks and retry):
    a request waits a few seconds for a lock, not the 20 s busy timeout, then answers 503."""
    connection_created.connect(_on_connection_created, dispatch_uid="jobdeck-web-lock-timeout")
    connections.close_all()  # any connection opened during setup reopens with the bound
