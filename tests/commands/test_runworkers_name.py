"""runworkers --name: the worker's chosen name, unique among live workers, tags its jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import selectors, services
from jobs.models import Attempt, Job, WorkerProcess
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import ROOT, WorkerProc, wait_until, worker_env

pytestmark = pytest.mark.workers


def run_to_exit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "runworkers", *args],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_named_worker_is_listed_and_tags_its_jobs_with_its_name(start_workers) -> None:
    worker = start_workers("-w", "1", "--name", "billing-worker.1")
    job = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2]))

    wait_until(lambda: Job.objects.get(pk=job.pk).status == Status.DONE)

    row = WorkerProcess.objects.get(name="billing-worker.1")
    assert row.pid == worker.pid
    assert Job.objects.get(pk=job.pk).worker == "billing-worker.1"
    assert Attempt.objects.get(job=job).worker == "billing-worker.1"
    assert [w.name for w in selectors.worker_list() if w.is_alive] == ["billing-worker.1"]


def test_a_name_a_live_worker_holds_is_refused_in_one_line(start_workers) -> None:
    first = start_workers("-w", "1", "--name", "reports")

    result = run_to_exit("-w", "1", "--name", "reports")

    assert result.returncode == 1
    host = WorkerProcess.objects.get().host
    assert result.stderr.strip().splitlines() == [
        f"CommandError: worker name 'reports' is held by a live worker (pid {first.pid} on {host})"
    ]
    assert WorkerProcess.objects.get().pid == first.pid  # the live holder is untouched
    assert WorkerProcess.objects.alive().count() == 1


def test_a_stopped_workers_name_is_taken_over_and_its_row_kept(start_workers) -> None:
    first = start_workers("-w", "1", "--name", "reports")
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    old = WorkerProcess.objects.get(name="reports")
    assert old.stopped_at is not None

    second = start_workers("-w", "1", "--name", "reports")

    assert WorkerProcess.objects.alive().get().pid == second.pid
    assert WorkerProcess.objects.get(name="reports").pid == second.pid
    assert WorkerProcess.objects.get(pk=old.pk).name == f"reports~{old.pk}"


def test_two_workers_starting_under_one_name_at_once_leave_one_running(transactional_db: None, tmp_path: Path) -> None:
    procs = [WorkerProc(["-w", "1", "--name", "twin"], worker_env(), tmp_path / f"twin-{i}.log") for i in range(2)]
    try:
        # One exits with the error; the other registers and runs.
        wait_until(lambda: any(p.proc.poll() is not None for p in procs), timeout=60)
        loser = next(p for p in procs if p.proc.poll() is not None)
        winner = next(p for p in procs if p is not loser)
        assert loser.wait() == 1
        assert "worker name 'twin' is held by a live worker" in loser.log()
        wait_until(lambda: WorkerProcess.objects.alive().filter(name="twin", pid=winner.pid).exists())
        assert winner.proc.poll() is None
        assert WorkerProcess.objects.count() == 1
    finally:
        for p in procs:
            p.stop()
