"""Shared fixtures: services-made jobs, real worker subprocesses, and waiting without sleeps."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """When CI or the caller asks for PostgreSQL/Redis, their absence is an error, never a skip."""
    url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    for what, value, port in (("DATABASE_URL", url, 5432), ("REDIS_URL", redis_url, 6379)):
        if not value:
            continue
        from urllib.parse import urlparse

        parsed = urlparse(value)
        try:
            socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or port), timeout=3).close()
        except OSError as exc:
            pytest.exit(f"{what}={value} does not answer ({exc}); start the service or unset it", returncode=3)


DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `db_independent` test runs on the SQLite pass only: the PostgreSQL pass would check the same
    thing again. One that asks for the database is a contradiction, refused here."""
    on_postgresql = bool(os.environ.get("DATABASE_URL"))
    skip = pytest.mark.skip(reason="db_independent: checked on the SQLite pass")
    for item in items:
        if item.get_closest_marker("db_independent") is None:
            continue
        used = DB_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if used or item.get_closest_marker("django_db") is not None:
            raise pytest.UsageError(f"{item.nodeid} is marked db_independent but uses the database ({used})")
        if on_postgresql:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _register_test_tasks() -> None:
    from django.tasks import Task

    from jobs import registry
    from tests import tasks

    for value in vars(tasks).values():
        if isinstance(value, Task):
            registry.register(value)


@pytest.fixture(autouse=True)
def _no_cached_queue_limits() -> None:
    """Each test starts with no queue max depth cached (a test's limits vanish with its rollback, and
    a stale cache would add the limited path's queries to the next test's enqueues)."""
    from jobs.services import backpressure

    backpressure.assume_no_limits()


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.02, message: str = ""
) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(message or f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture
def make_job(db: None) -> Callable[..., Any]:
    """Enqueue a job through the service layer (so its events exist)."""
    from jobs import services

    def make(task_name: str = "tests.tasks.add", **overrides: Any) -> Any:
        args = overrides.pop("args", [1, 2] if task_name == "tests.tasks.add" else [])
        kwargs = overrides.pop("kwargs", {})
        return services.enqueue_job(spec=services.JobSpec(task_name=task_name, args=args, kwargs=kwargs, **overrides))

    return make


def worker_env(**extra: str) -> dict[str, str]:
    """Environment for a runworkers subprocess that talks to this test run's database."""
    env = dict(os.environ)
    s = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["JOBDECK_SQLITE_PATH"] = str(s["NAME"])
    env.update(
        JOBDECK_TASK_MODULES="tests.tasks",
        JOBDECK_LEASE_SECONDS="2",
        JOBDECK_HEARTBEAT_SECONDS="0.5",
        JOBDECK_RESCUE_INTERVAL_SECONDS="0.5",
        JOBDECK_RETRY_BASE_SECONDS="0.4",
        JOBDECK_CANCEL_GRACE_SECONDS="1",
        JOBDECK_SHUTDOWN_GRACE_SECONDS="5",
        JOBDECK_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class WorkerProc:
    """One `manage.py runworkers` subprocess with its log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.log_file = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runworkers", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


@pytest.fixture
def start_workers(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    """Start real runworkers subprocesses against the test database; all are stopped afterwards.

    Every test using this fixture also checks that no worker log mentions "database is locked".
    """
    started: list[WorkerProc] = []

    def start(*args: str, **env: str) -> WorkerProc:
        from jobs.models import WorkerProcess

        worker = WorkerProc(list(args), worker_env(**env), tmp_path / f"worker-{len(started)}.log")
        started.append(worker)

        def ready() -> bool:
            # runworkers registers itself once huey's consumer runs with its signal handlers set.
            return worker.proc.poll() is not None or WorkerProcess.objects.filter(pid=worker.pid).exists()

        wait_until(ready, timeout=30)
        assert worker.proc.poll() is None, f"worker exited early:\n{worker.log()}"
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        assert "database is locked" not in worker.log(), worker.log()
