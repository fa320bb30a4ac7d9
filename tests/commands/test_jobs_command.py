"""`manage.py jobs`: the table, its filters, keyset paging and refused options."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import services
from jobs.management.tables import humanise_age
from jobs.models import Job
from tests.conftest import ROOT

MakeJob = Callable[..., Any]


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("jobs", *args, stdout=out)
    return out.getvalue().splitlines()


def age_by(job: Job, delta: datetime.timedelta) -> None:
    # Only the creation time is moved back, so the age column has a known value.
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - delta)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-2, "0s"),
        (3.9, "3s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (7200, "2h"),
        (86_399, "23h"),
        (4 * 86_400 + 5, "4d"),
    ],
)
def test_humanise_age_uses_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert humanise_age(seconds) == text


def test_table_lists_jobs_newest_first_with_fitted_columns(make_job: MakeJob) -> None:
    old = make_job()
    new = make_job("tests.tasks.with_options", queue="emails")
    age_by(old, datetime.timedelta(hours=2, seconds=5))
    age_by(new, datetime.timedelta(minutes=5, seconds=5))
    pad = max(len("ID"), len(str(new.pk)))  # ids are right-aligned under "ID"

    assert run() == [
        f"{'ID':>{pad}}  TASK                      QUEUE    STATUS  ATTEMPTS  AGE",
        f"{new.pk:>{pad}}  tests.tasks.with_options  emails   queued       0/4   5m",
        f"{old.pk:>{pad}}  tests.tasks.add           default  queued       0/3   2h",
    ]


@pytest.mark.django_db
def test_no_matching_jobs_prints_no_jobs() -> None:
    assert run() == ["No jobs."]


def test_filters_narrow_the_list(make_job: MakeJob) -> None:
    add = make_job()
    other = make_job("tests.tasks.with_options", queue="emails")
    cancelled = make_job()
    services.cancel_job(job_id=cancelled.pk)

    def ids(*args: str) -> list[int]:
        return [int(line.split()[0]) for line in run(*args)[1:]]

    assert ids("--status", "cancelled") == [cancelled.pk]
    assert ids("--status", "queued") == [other.pk, add.pk]
    assert ids("--queue", "emails") == [other.pk]
    assert ids("--task", "tests.tasks.add") == [cancelled.pk, add.pk]
    assert ids("--task", "tests.tasks.add", "--status", "queued") == [add.pk]
    assert run("--queue", "nowhere") == ["No jobs."]


def test_priority_and_worker_narrow_the_list(make_job: MakeJob) -> None:
    from tests.dashboard.conftest import run_job

    urgent = make_job(priority=50)
    ran = run_job(make_job(queue="other").pk, to="running")  # claimed by "test-worker"

    def ids(*args: str) -> list[int]:
        return [int(line.split()[0]) for line in run(*args)[1:]]

    assert ids("--priority", "50") == [urgent.pk]
    assert ids("--worker", "test-worker") == [ran.pk]
    assert run("--priority", "-100") == ["No jobs."]
    high = make_job(priority="high")
    assert ids("--priority", "high") == [high.pk]  # a named priority is its number (10)


def test_limit_and_before_id_page_through_older_jobs(make_job: MakeJob) -> None:
    jobs = [make_job() for _ in range(5)]
    newest_first = [j.pk for j in reversed(jobs)]

    first = run("--limit", "2")
    assert [int(line.split()[0]) for line in first[1:-1]] == newest_first[:2]
    assert first[-1] == f"More: --before-id {newest_first[1]}"

    second = run("--limit", "2", "--before-id", str(newest_first[1]))
    assert [int(line.split()[0]) for line in second[1:-1]] == newest_first[2:4]

    last = run("--limit", "2", "--before-id", str(newest_first[3]))
    assert [int(line.split()[0]) for line in last[1:]] == newest_first[4:]  # no "More:" line on the last page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--status", "bogus"],
            "Error: argument --status: 'bogus' is not a status: "
            "use one of scheduled, queued, running, retrying, done, failed, cancelled",
        ),
        (["--limit", "0"], "Error: argument --limit: must be between 1 and 1000"),
        (["--limit", "1001"], "Error: argument --limit: must be between 1 and 1000"),
        (["--limit", "ten"], "Error: argument --limit: 'ten' is not a whole number"),
        (["--before-id", "0"], f"Error: argument --before-id: must be between 1 and {sys.maxsize}"),
        (["--priority", "101"], "Error: argument --priority: must be between -100 and 100"),
    ],
)
def test_bad_options_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        run(*args)

    assert str(excinfo.value) == message


def test_bad_option_exits_non_zero_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "jobs", "--limit", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == "manage.py jobs: error: argument --limit: must be between 1 and 1000"


def test_search_and_short_task_names_narrow_the_list(make_job: MakeJob) -> None:
    hit = make_job("tests.tasks.add", kwargs={"note": "invoice"}, args=[])
    other = make_job("tests.tasks.progress_steps", args=[2])

    assert [line.split()[0] for line in run("--search", "invoice")[1:]] == [str(hit.pk)]
    assert [line.split()[0] for line in run("--task", "progress_steps")[1:]] == [str(other.pk)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope"], "Unknown task 'nope'"),
        (["--search", "payload.:1"], "A payload search is payload.<key>:<value>"),
    ],
)
def test_unknown_task_or_bad_search_is_a_one_line_error(args: list[str], message: str, db: None) -> None:
    with pytest.raises(CommandError) as excinfo:
        run(*args)

    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)
