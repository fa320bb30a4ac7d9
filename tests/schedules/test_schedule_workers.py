"""End to end: two real runworkers processes share the schedules; a minute fires exactly once.

The one slow test of the package: it runs until the next minute boundary has passed (up to about a
minute), waiting with wait_until on the database, never with sleeps. Firing minute after minute, and
catching up on missed ones, is covered without waiting in tests/schedules/test_fire_due_schedules.py.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobs.models import Job, JobEvent, Schedule, ScheduleRun, WorkerProcess
from jobs.services import schedules
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

MINUTE = datetime.timedelta(minutes=1)


def test_two_workers_fire_an_every_minute_schedule_once_at_its_minute_and_never_a_disabled_one(
    start_workers: Callable[..., Any], tmp_path: Path
) -> None:
    log = tmp_path / "runs.txt"
    # Different worker types on purpose: with process workers huey's scheduler tick runs in a forked child.
    workers = [start_workers("-w", "2", "-k", "thread"), start_workers("-w", "2", "-k", "process")]
    every = schedules.create_schedule(
        name="every-minute", cron="* * * * *", task_name="tests.tasks.record_run", args=[str(log)]
    )
    disabled = schedules.create_schedule(
        name="disabled", cron="* * * * *", task_name="tests.tasks.record_run", args=[str(log)], enabled=False
    )
    boundaries = [every.next_run_at]

    def both_checked_after(moment: datetime.datetime) -> bool:
        # Each tick heartbeats, then fires due schedules: a heartbeat 3 s after `moment` means the
        # worker has finished at least one schedule check that began after it.
        beats = WorkerProcess.objects.filter(pid__in=[w.pid for w in workers]).values_list("last_heartbeat", flat=True)
        return len(beats) == 2 and all(beat >= moment + datetime.timedelta(seconds=3) for beat in beats)

    wait_until(lambda: both_checked_after(boundaries[-1]), timeout=90, message="the minute boundary passed")
    wait_until(lambda: not Job.objects.active().exists(), timeout=30, message="the scheduled jobs ran")

    runs = list(ScheduleRun.objects.filter(schedule=every).order_by("fire_at"))
    assert [run.fire_at for run in runs] == boundaries  # one run for the minute boundary, not two
    assert all(not run.manual for run in runs)
    jobs = list(Job.objects.order_by("pk"))
    assert [job.pk for job in jobs] == [run.job_id for run in runs]  # one job per run, no other job
    assert {job.status for job in jobs} == {Status.DONE}
    assert sorted(log.read_text().splitlines()) == sorted(f"{job.pk} 1" for job in jobs)  # each ran once
    assert set(JobEvent.objects.filter(new_status=Status.QUEUED).values_list("actor", flat=True)) == {
        "schedule:every-minute"
    }
    every.refresh_from_db()
    assert (every.last_run_at, every.next_run_at) == (boundaries[-1], boundaries[-1] + MINUTE)

    assert ScheduleRun.objects.filter(schedule=disabled).count() == 0
    assert Schedule.objects.get(pk=disabled.pk).next_run_at is None

    logs = "".join(worker.log() for worker in workers)
    assert logs.count("schedule every-minute fired for") == len(boundaries)
    assert "firing cron schedules failed" not in logs
