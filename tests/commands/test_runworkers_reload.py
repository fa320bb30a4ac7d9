"""runworkers --reload: a code change restarts the workers gracefully; the next job runs the new code."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest
from django.tasks import Task

from jobs import registry, services
from jobs.models import Attempt, Job, WorkerProcess
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import WorkerProc, wait_until, worker_env

pytestmark = pytest.mark.workers

TASK_MODULE = """
import time
from pathlib import Path

from django.tasks import task


@task()
def code_version() -> str:
    return "{version}"


@task()
def held(started_path: str, release_path: str) -> str:
    Path(started_path).touch()
    while not Path(release_path).exists():
        time.sleep(0.02)
    return "{version}"
"""


def write_module(path: Path, version: str) -> None:
    path.write_text(TASK_MODULE.format(version=version))


@pytest.fixture
def task_module(tmp_path: Path) -> Path:
    """A task module in a directory of its own, imported by this test run and by the workers."""
    directory = tmp_path / "code"
    directory.mkdir()
    module = directory / "reload_tasks.py"
    write_module(module, "v1")
    import importlib
    import sys

    sys.path.insert(0, str(directory))
    try:
        loaded = importlib.import_module("reload_tasks")
        for value in vars(loaded).values():
            if isinstance(value, Task):
                registry.register(value)
        yield module
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("reload_tasks", None)


def stop_supervisor(supervisor: WorkerProc) -> None:
    """SIGTERM drains the workers and ends the supervisor with 0. Whatever happens, nothing it started
    outlives the test: a worker left running would claim the next tests' jobs."""
    supervisor.signal(signal.SIGTERM)
    try:
        code = supervisor.wait(timeout=90)
    finally:
        supervisor.stop()
        for pid in WorkerProcess.objects.filter(stopped_at__isnull=True).values_list("pid", flat=True):
            with contextlib.suppress(OSError):  # gone already; the cmdline check spares a reused pid
                if b"runworkers" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
    assert code == 0


def live_worker() -> WorkerProcess | None:
    return WorkerProcess.objects.alive().first()


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.status == Status.DONE else None


@pytest.mark.parametrize(
    ("kind", "grace", "ending"),
    [("thread", "0.5", "requeued"), ("process", "0.5", "requeued"), ("isolated", "30", "finished")],
)
def test_a_code_change_restarts_the_workers_and_the_next_job_runs_the_new_code(
    transactional_db: None, tmp_path: Path, task_module: Path, kind: str, grace: str, ending: str
) -> None:
    env = worker_env(
        JOBDECK_TASK_MODULES="tests.tasks,reload_tasks",
        JOBDECK_SHUTDOWN_GRACE_SECONDS=grace,
        JOBDECK_LEASE_SECONDS="60",
        PYTHONPATH=f"{task_module.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    supervisor = WorkerProc(["--reload", "-w", "1", "-k", kind], env, tmp_path / "worker.log")
    try:
        first = wait_until(live_worker, timeout=60)
        assert first.pid != supervisor.pid  # the supervisor claims nothing; its child does the work
        started, release = tmp_path / "started", tmp_path / "release"
        held = services.enqueue_job(
            spec=JobSpec(task_name="reload_tasks.held", args=[str(started), str(release)], max_attempts=1)
        )
        wait_until(started.exists, timeout=30)

        def change_seen() -> bool:
            # Written again on every poll: a change made before the watcher's first look is not one.
            write_module(task_module, "v2-changed")
            return "changed: stopping the workers to reload" in supervisor.log()

        wait_until(change_seen, timeout=30, interval=0.5)
        if ending == "finished":
            # The old worker waits for its running job (within the grace) before it restarts.
            assert WorkerProcess.objects.get(pk=first.pk).stopped_at is None
            release.touch()
        second = wait_until(lambda: WorkerProcess.objects.alive().exclude(pk=first.pk).first(), timeout=60)
        release.touch()

        assert second.pid != first.pid
        assert WorkerProcess.objects.get(pk=first.pk).stopped_at is not None
        held = wait_until(lambda: finished(held), timeout=30)
        attempts = list(Attempt.objects.filter(job=held).order_by("number").values_list("outcome", "worker"))
        if ending == "requeued":
            # Interrupted by the restart, not spent: with max_attempts=1 it still ran again.
            assert (held.attempt, held.interrupted, held.attempts_spent) == (2, 1, 1)
            assert attempts == [("interrupted", first.name), ("done", second.name)]
            assert held.result == "v2-changed"
        else:
            assert (held.attempt, held.interrupted) == (1, 0)
            assert attempts == [("done", first.name)]
            assert held.result == "v1"

        job = services.enqueue_job(spec=JobSpec(task_name="reload_tasks.code_version"))
        assert wait_until(lambda: finished(job), timeout=30).result == "v2-changed"
    finally:
        stop_supervisor(supervisor)
    assert WorkerProcess.objects.alive().count() == 0


def test_code_that_does_not_import_is_waited_out_until_it_is_fixed(
    transactional_db: None, tmp_path: Path, task_module: Path
) -> None:
    env = worker_env(
        JOBDECK_TASK_MODULES="tests.tasks,reload_tasks",
        PYTHONPATH=f"{task_module.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    supervisor = WorkerProc(["--reload", "-w", "1"], env, tmp_path / "worker.log")
    try:
        first = wait_until(live_worker, timeout=60)

        def broken_and_waiting() -> bool:
            task_module.write_text("def broken(:\n")
            return "the code does not load; waiting for a change" in supervisor.log()

        wait_until(broken_and_waiting, timeout=60, interval=0.5)
        assert supervisor.proc.poll() is None  # the supervisor and the waiting child stay up
        assert WorkerProcess.objects.get(pk=first.pk).stopped_at is not None

        def fixed_and_running() -> WorkerProcess | None:
            write_module(task_module, "v3-fixed")
            return WorkerProcess.objects.alive().exclude(pk=first.pk).first()

        wait_until(fixed_and_running, timeout=60, interval=0.5)
        job = services.enqueue_job(spec=JobSpec(task_name="reload_tasks.code_version"))
        assert wait_until(lambda: finished(job), timeout=30).result == "v3-fixed"
    finally:
        stop_supervisor(supervisor)
