"""The SQLite write-ahead log stays bounded, and a live database can be backed up safely.

A reader holding a snapshot (a backup, a long query) stops checkpoints from emptying the WAL, so
it grows with every write meanwhile; once the reader ends, the next checkpoint empties it and the
journal size limit (settings.SQLITE_WAL_LIMIT_BYTES) truncates the file. Without the limit the
file stayed at its largest size for good.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from jobs import services
from jobs.models import Job
from tests.conftest import wait_until

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the write-ahead log is SQLite's")


def enqueue(count: int) -> None:
    spec = services.JobSpec(task_name="tests.tasks.append_line", kwargs={"path": "/dev/null", "line": "x" * 1000})
    for _ in range(0, count, 500):
        services.enqueue_jobs(specs=[spec] * 500)


def wal_size() -> int:
    path = Path(str(connection.settings_dict["NAME"]) + "-wal")
    return path.stat().st_size if path.exists() else 0


@pytest.mark.django_db(transaction=True)
def test_the_wal_shrinks_back_after_a_long_reader_ends() -> None:
    limit = settings.SQLITE_WAL_LIMIT_BYTES
    enqueue(500)  # the WAL exists and the database is in WAL mode
    reader = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM jobs_job").fetchone()  # holds its snapshot from here
    enqueue(15_000)
    grown = wal_size()
    assert grown > 2 * limit, f"the WAL should have grown past the limit while the reader held it ({grown})"
    reader.execute("COMMIT")
    reader.close()
    enqueue(6_000)  # later writes checkpoint, and the emptied log is truncated to the limit
    assert wal_size() <= limit, f"WAL still {wal_size():,} bytes (limit {limit:,}, grown to {grown:,})"


@pytest.mark.parametrize("how", ["backup", "vacuum_into"])
def test_a_live_database_can_be_backed_up_while_workers_write(how: str, start_workers: Any, tmp_path: Path) -> None:
    """The two ways docs recommend (README: Backing up) give a consistent copy during a drain."""
    enqueue(3_000)
    start_workers("-w", "2")
    wait_until(lambda: Job.objects.filter(status="done").exists(), message="the worker never started draining")
    target = tmp_path / "backup.sqlite3"
    errors: list[BaseException] = []

    def take_backup() -> None:
        try:
            source = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
            if how == "backup":
                dest = sqlite3.connect(target)
                source.backup(dest)
                dest.close()
            else:
                source.execute("VACUUM INTO ?", [str(target)])
            source.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=take_backup)
    thread.start()
    thread.join(60)
    assert not errors, errors
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (total,) = copy.execute("SELECT count(*) FROM jobs_job").fetchone()
    assert total == 3_000  # every job is in the copy, whatever state it had reached
    copy.close()
