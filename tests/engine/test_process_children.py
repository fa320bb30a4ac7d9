"""Process workers: what a job starts ends with it; worker children are recycled between jobs."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import psutil
import pytest

from jobs import services
from jobs.models import Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("ending", ["done", "timeout", "cancelled"])
def test_processes_a_job_started_are_stopped_when_it_ends(start_workers, tmp_path: Path, ending: str) -> None:
    # Before the fix, `sleep 600` started by a job was still running long after the job ended.
    pids_path = tmp_path / "pids"
    worker = start_workers("-w", "1", "-k", "process")
    fields = {"timeout": 1.0, "max_attempts": 1} if ending == "timeout" else {}
    job = services.enqueue_job(
        spec=JobSpec(
            task_name="tests.tasks.spawn_and_linger",
            args=[str(pids_path), 0 if ending == "done" else 60],
            **fields,
        )
    )
    wait_until(pids_path.exists)
    wait_until(lambda: pids_path.read_text().count(" ") == 2)
    worker_pid, child_pid, daemon_pid = map(int, pids_path.read_text().split())
    # The job runs in a process group of its own, not runworkers'.
    assert os.getpgid(worker_pid) == worker_pid != os.getpgid(worker.pid)
    if ending == "cancelled":
        services.cancel_job(job_id=job.pk)

    expected = {"done": Status.DONE, "timeout": Status.FAILED, "cancelled": Status.CANCELLED}[ending]
    wait_until(lambda: status_of(job) == expected, timeout=30)

    wait_until(lambda: gone(child_pid) and gone(daemon_pid), message="a process the job started outlived it")
    assert psutil.pid_exists(worker_pid)  # the worker child itself serves on
    assert "left 2 process(es) running; stopped them" in worker.log()


def test_max_tasks_per_child_recycles_children_without_losing_or_repeating_jobs(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "runs.txt"
    jobs = services.enqueue_jobs(
        specs=[JobSpec(task_name="tests.tasks.record_pid", args=[str(log)]) for _ in range(40)]
    )
    start_workers("-w", "2", "-k", "process", "--max-tasks-per-child", "5")

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == 40, timeout=120)

    runs = [line.split() for line in log.read_text().splitlines()]
    assert Counter(job_id for job_id, _, _ in runs) == {str(job.pk): 1 for job in jobs}
    assert {attempt for _, attempt, _ in runs} == {"1"}
    per_pid = Counter(pid for _, _, pid in runs)
    assert len(per_pid) >= 8
    assert max(per_pid.values()) <= 5


def test_a_child_past_its_memory_limit_is_replaced_between_jobs(start_workers, tmp_path: Path) -> None:
    log = tmp_path / "runs.txt"
    start_workers("-w", "1", "-k", "process", "--max-memory-per-child", "250")

    def run(leak_mb: int = 0) -> int:
        job = services.enqueue_job(
            spec=JobSpec(task_name="tests.tasks.record_pid", args=[str(log)], kwargs={"leak_mb": leak_mb})
        )
        wait_until(lambda: status_of(job) == Status.DONE, timeout=30)
        return job.result

    first, second = run(), run()
    assert first == second  # under the limit the child serves on
    leaker = run(leak_mb=300)
    assert leaker == second
    after = run()
    assert after != leaker  # the leaking child was replaced after its job
    assert Job.objects.filter(status=Status.DONE).count() == 4
