"""`manage.py prunejobs`: output lines and errors."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import services, states
from jobs.models import Attempt, Job
from jobs.status import Status
from tests.conftest import ROOT, worker_env


def finished(make_job: Callable[..., Job], to: str, days_ago: float) -> Job:
    job = make_job()
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    failure = None if to == Status.DONE else states.Failure(outcome=Attempt.Outcome.FAILED, message="x")
    assert states.record(states.Finish(claimed, to, reason="test", failure=failure))
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days=days_ago))
    return job


@pytest.fixture
def old_done_job(make_job: Callable[..., Job]) -> Job:
    return finished(make_job, Status.DONE, days_ago=10)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("prunejobs", *args, stdout=out)
    return out.getvalue()


def test_dry_run_reports_what_would_go(old_done_job: Job) -> None:
    assert run("--dry-run") == "Would delete 1 jobs (3 events, 1 attempts, 0 log lines)\n"
    assert Job.objects.filter(pk=old_done_job.pk).exists()


def test_prune_reports_what_went(old_done_job: Job) -> None:
    assert run() == "Deleted 1 jobs (3 events, 1 attempts, 0 log lines) in 1 batches\n"
    assert not Job.objects.exists()


def test_days_option_keeps_younger_jobs(old_done_job: Job) -> None:
    assert run("--days", "30") == "Deleted 0 jobs (0 events, 0 attempts, 0 log lines) in 0 batches\n"
    assert Job.objects.filter(pk=old_done_job.pk).exists()


def test_failed_days_and_batch_size_options(make_job: Callable[..., Job]) -> None:
    for _ in range(3):
        finished(make_job, Status.FAILED, days_ago=10)

    assert run("--failed-days", "11") == "Deleted 0 jobs (0 events, 0 attempts, 0 log lines) in 0 batches\n"
    deleted = run("--failed-days", "9", "--batch-size", "2")
    assert deleted == "Deleted 3 jobs (9 events, 3 attempts, 0 log lines) in 2 batches\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-1"], "must be between 0 and 36500 days"),
        (["--days", "soon"], "'soon' is not a number of days"),
        (["--failed-days", "nan"], "must be between 0 and 36500 days"),
        (["--batch-size", "0"], "must be between 1 and 100000"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)


@pytest.mark.django_db
def test_a_service_error_becomes_a_command_error(settings: object) -> None:
    settings.JOBDECK_PRUNE_BATCH = 0  # type: ignore[attr-defined]

    with pytest.raises(CommandError, match="^batch size must be a whole number between 1 and 100000$"):
        run()


@pytest.mark.django_db
def test_a_bad_option_exits_non_zero_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "prunejobs", "--batch-size", "0"],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].endswith("argument --batch-size: must be between 1 and 100000")


def test_service_and_command_agree_on_the_dry_run(old_done_job: Job) -> None:
    result = services.prune_jobs(dry_run=True)

    counts = f"{result.events} events, {result.attempts} attempts, {result.logs} log lines"
    assert run("--dry-run") == f"Would delete {result.jobs} jobs ({counts})\n"
