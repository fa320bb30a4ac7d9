"""`manage.py enqueue`: the one-line confirmation, what gets stored, and every refusal as one clear line."""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobEvent
from jobs.status import Status
from tests.conftest import ROOT


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("enqueue", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_enqueue_stores_the_job_and_prints_one_line() -> None:
    output = run("tests.tasks.add", "--args", "[1, 2]")

    job = Job.objects.get()
    assert output == f"Job {job.pk} queued (tests.tasks.add on default)\n"
    assert (job.task_name, job.args, job.payload, job.status) == ("tests.tasks.add", [1, 2], {}, Status.QUEUED)
    assert JobEvent.objects.get(job=job).actor == "cli"


@pytest.mark.django_db
def test_every_option_reaches_the_job() -> None:
    output = run(
        "add",
        "--payload",
        '{"a": 1, "b": 2}',
        "--queue",
        "emails",
        "--priority",
        "-7",
        "--max-attempts",
        "5",
        "--timeout",
        "2.5",
        "--idempotency-key",
        "k-1",
    )

    job = Job.objects.get()
    assert output == f"Job {job.pk} queued (tests.tasks.add on emails)\n"
    assert (job.payload, job.queue, job.priority, job.max_attempts, job.timeout, job.idempotency_key) == (
        {"a": 1, "b": 2},
        "emails",
        -7,
        5,
        2.5,
        "k-1",
    )


@pytest.mark.django_db
def test_run_at_schedules_the_job_and_prints_the_time_in_utc() -> None:
    output = run("tests.tasks.add", "--args", "[1, 2]", "--run-at", "2030-01-01T09:00:00+02:00")

    job = Job.objects.get()
    assert output == f"Job {job.pk} scheduled for 2030-01-01T07:00:00+00:00 (tests.tasks.add on default)\n"
    assert job.status == Status.SCHEDULED
    assert job.run_at == datetime.datetime(2030, 1, 1, 7, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_delay_schedules_the_job_that_many_seconds_ahead() -> None:
    before = timezone.now()

    output = run("tests.tasks.add", "--args", "[1, 2]", "--delay", "3600")

    job = Job.objects.get()
    assert job.status == Status.SCHEDULED
    assert before + datetime.timedelta(seconds=3600) <= job.run_at <= timezone.now() + datetime.timedelta(seconds=3600)
    assert output == f"Job {job.pk} scheduled for {job.run_at.isoformat()} (tests.tasks.add on default)\n"


@pytest.mark.django_db
def test_same_idempotency_key_returns_the_first_job() -> None:
    first = run("tests.tasks.add", "--args", "[1, 2]", "--idempotency-key", "once")
    second = run("tests.tasks.add", "--args", "[3, 4]", "--idempotency-key", "once")

    assert first == second == f"Job {Job.objects.get().pk} queued (tests.tasks.add on default)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--payload", "{oops"],
            "Error: argument --payload: not valid JSON: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (["--payload", "[1, 2]"], "Error: argument --payload: must be a JSON object"),
        (["--args", '{"a": 1}'], "Error: argument --args: must be a JSON list"),
        (["--args", "nope"], "Error: argument --args: not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            ["--run-at", "2030-01-01T09:00:00"],
            "Error: argument --run-at: needs a timezone, e.g. 2026-01-01T09:00:00+00:00",
        ),
        (
            ["--run-at", "next tuesday"],
            "Error: argument --run-at: 'next tuesday' is not an ISO 8601 date-time, e.g. 2026-01-01T09:00:00+00:00",
        ),
        (
            ["--run-at", "2030-13-01T09:00:00Z"],
            "Error: argument --run-at: '2030-13-01T09:00:00Z' is not an ISO 8601 date-time, "
            "e.g. 2026-01-01T09:00:00+00:00",
        ),
        (
            ["--delay", "5", "--run-at", "2030-01-01T09:00:00+00:00"],
            "Error: argument --run-at: not allowed with argument --delay",
        ),
        (["--delay", "-1"], "Error: argument --delay: must be 0 or more seconds"),
        (["--delay", "soon"], "Error: argument --delay: 'soon' is not a number of seconds"),
        (["--timeout", "0"], "Error: argument --timeout: must be more than 0 seconds"),
        (["--timeout", "inf"], "Error: argument --timeout: must be more than 0 seconds"),
        (["--priority", "500"], "Error: argument --priority: must be between -100 and 100"),
        (["--priority", "urgent"], "Error: argument --priority: 'urgent' is not a whole number, high, medium or low"),
        (["--unique-for", "0"], "Error: argument --unique-for: must be more than 0 seconds"),
        (["--expires-in", "-5"], "Error: argument --expires-in: must be more than 0 seconds"),
        (
            ["--expires-in", "5", "--expires-at", "2030-01-01T09:00:00+00:00"],
            "Error: argument --expires-at: not allowed with argument --expires-in",
        ),
        (
            ["--expires-at", "2030-01-01T09:00:00"],
            "Error: argument --expires-at: needs a timezone, e.g. 2026-01-01T09:00:00+00:00",
        ),
        (["--max-attempts", "0"], "Error: argument --max-attempts: must be between 1 and 1000"),
    ],
)
def test_bad_options_are_refused_before_anything_is_stored(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        run("tests.tasks.add", *args)

    assert str(excinfo.value) == message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "Unknown task 'nope'"),
        (
            ["tests.tasks.add", "--queue", "no spaces"],
            "queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'",
        ),
        (["tests.tasks.add", "--idempotency-key", "x" * 256], "idempotency_key must be a string of 1-255 characters"),
        (
            ["tests.tasks.add", "--expires-at", "2020-01-01T09:00:00+00:00"],
            "expires_at must be after run_at and after now: the job could never start",
        ),
    ],
)
def test_service_errors_become_command_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        run(*args)

    assert str(excinfo.value) == message
    assert not Job.objects.exists()


def test_unknown_task_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["JOBDECK_SQLITE_PATH"] = str(tmp_path / "unused.sqlite3")  # the task is refused before any query

    result = subprocess.run(
        [sys.executable, "manage.py", "enqueue", "nope"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout, result.stderr) == (1, "", "CommandError: Unknown task 'nope'\n")


@pytest.mark.django_db
def test_named_priority_unique_for_and_expiry_reach_the_job() -> None:
    before = timezone.now()
    output = run("add", "--args", "[1, 2]", "--priority", "high", "--unique-for", "60", "--expires-in", "30")

    job = Job.objects.get()
    assert output == f"Job {job.pk} queued (tests.tasks.add on default)\n"
    assert (job.priority, job.unique_for, job.key_held) == (10, 60.0, True)
    assert job.idempotency_key is not None and job.idempotency_key.startswith("tests.tasks.add:")
    assert job.expires_at is not None
    assert before + datetime.timedelta(seconds=30) <= job.expires_at <= timezone.now() + datetime.timedelta(seconds=30)
    # The same call again is the same job: the key was made from the task and its arguments.
    assert run("add", "--args", "[1, 2]", "--unique-for", "60") == f"Job {job.pk} queued (tests.tasks.add on default)\n"


@pytest.mark.django_db
def test_expires_at_and_low_priority_reach_the_job() -> None:
    run("add", "--args", "[1, 2]", "--priority", "low", "--expires-at", "2030-01-01T09:00:00+02:00")

    job = Job.objects.get()
    assert job.priority == -10
    assert job.expires_at == datetime.datetime(2030, 1, 1, 7, 0, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_a_full_queue_is_a_one_line_command_error() -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    run("tests.tasks.add", "--queue", "mail")

    with pytest.raises(CommandError) as excinfo:
        run("tests.tasks.add", "--queue", "mail")

    assert str(excinfo.value) == "queue 'mail' is full (1 of 1 waiting jobs); nothing was stored, try again later"
    assert Job.objects.count() == 1
