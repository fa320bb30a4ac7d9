"""`manage.py prunejobs`: output lines and errors."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import states
from jobs.models import Job
from jobs.status import Status


@pytest.fixture
def old_done_job(make_job) -> Job:  # noqa: ANN001
    job = make_job()
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=60)
    assert claimed is not None
    states.finish(claimed, Status.DONE, reason="test")
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(days=10))
    return job


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("prunejobs", *args, stdout=out)
    return out.getvalue()


def test_dry_run_reports_what_would_go(old_done_job: Job) -> None:
    assert run("--dry-run") == "Would delete 1 jobs (3 events, 1 attempts)\n"
    assert Job.objects.filter(pk=old_done_job.pk).exists()


def test_prune_reports_what_went(old_done_job: Job) -> None:
    assert run() == "Deleted 1 jobs (3 events, 1 attempts) in 1 batches\n"
    assert not Job.objects.exists()


def test_days_option_keeps_younger_jobs(old_done_job: Job) -> None:
    assert run("--days", "30") == "Deleted 0 jobs (0 events, 0 attempts) in 0 batches\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-1"], "must be between 0 and 36500 days"),
        (["--days", "soon"], "'soon' is not a number of days"),
        (["--batch-size", "0"], "must be between 1 and 100000"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
