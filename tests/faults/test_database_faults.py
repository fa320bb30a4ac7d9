"""Fault tests: a database locked by someone else, and connections dropped under the workers."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def hold_lock(seconds: float, locked: threading.Event) -> None:
    """Hold the job table's write lock from another connection, like a long migration or backup."""
    if connection.vendor == "postgresql":
        import psycopg

        s = connection.settings_dict
        with psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"] or 5432) as conn:
            conn.execute("LOCK TABLE jobs_job IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)
    else:
        conn = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()


def test_locked_database_delays_work_but_loses_nothing(start_workers, tmp_path: Path) -> None:
    services.enqueue_jobs(specs=[JobSpec(task_name="tests.tasks.cooperative_sleep", args=[0.05]) for _ in range(200)])
    start_workers("-w", "2")
    start_workers("-w", "2", "-k", "process")
    wait_until(lambda: Job.objects.filter(status=Status.DONE).exists())

    locked = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(3.0, locked))
    holder.start()
    assert locked.wait(10)
    # Workers finishing and claiming meet the lock now; so does this enqueue, which waits it out.
    late = services.enqueue_jobs(specs=[JobSpec(task_name="tests.tasks.add", args=[i, i]) for i in range(50)])
    holder.join()

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == 250, timeout=60)
    assert sorted(Job.objects.filter(pk__in=[j.pk for j in late]).values_list("result", flat=True)) == sorted(
        2 * i for i in range(50)
    )


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="dropping server connections needs PostgreSQL")
def test_dropped_connections_are_reopened_and_nothing_is_lost(start_workers) -> None:
    services.enqueue_jobs(specs=[JobSpec(task_name="tests.tasks.add", args=[i, 1]) for i in range(300)])
    start_workers("-w", "2")
    start_workers("-w", "2", "-k", "process")
    wait_until(lambda: Job.objects.filter(status=Status.DONE).exists())

    with connection.cursor() as cursor:  # cut every other session on the test database, twice
        for _ in range(2):
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            time.sleep(0.3)

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == 300, timeout=90)
    assert not Job.objects.exclude(status=Status.DONE).exists()
