"""`manage.py jobstats`: counts per queue and state, oldest waiting age, queue markers, totals, JSON."""

from __future__ import annotations

import datetime
import io
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import services
from jobs.exceptions import QueueFull
from jobs.models import Job
from tests.conftest import ROOT

MakeJob = Callable[..., Any]
ZERO = {"scheduled": 0, "queued": 0, "running": 0, "retrying": 0, "done": 0, "failed": 0, "cancelled": 0}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("jobstats", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def mixed_queues(make_job: MakeJob) -> None:
    waiting = make_job()
    make_job()
    make_job(queue="emails", delay=3600)
    services.cancel_job(job_id=make_job(queue="emails").pk)
    services.pause_queue(name="emails")
    services.set_queue_concurrency(name="emails", limit=3)
    services.set_queue_concurrency(name="idle", limit=1)
    # Only the oldest runnable job's run_at is moved back, so the age column has a known value.
    Job.objects.filter(pk=waiting.pk).update(run_at=timezone.now() - datetime.timedelta(minutes=5, seconds=5))


def test_table_shows_each_queue_and_a_totals_row(mixed_queues: None) -> None:
    assert run().splitlines() == [
        "QUEUE         SCHEDULED  QUEUED  RUNNING  RETRYING  DONE  FAILED  CANCELLED  TOTAL  OLDEST WAITING  NOTES",
        "default               0       2        0         0     0       0          0      2              5m",
        "emails                1       0        0         0     0       0          1      2               -  "
        "paused, limit 3",
        "idle                  0       0        0         0     0       0          0      0               -  limit 1",
        "(all queues)          1       2        0         0     0       0          1      4              5m",
    ]


NO_DEPTH = {"max_depth": None, "depth": None, "refused": 0}  # back-pressure: no max depth set


def test_json_has_the_same_numbers(mixed_queues: None) -> None:
    data = json.loads(run("--json"))

    assert data["queues"]["default"]["oldest_waiting_seconds"] >= 305
    assert data["totals"]["oldest_waiting_seconds"] == data["queues"]["default"]["oldest_waiting_seconds"]
    for entry in (data["queues"]["default"], data["totals"]):
        entry["oldest_waiting_seconds"] = "checked"
    assert data == {
        "queues": {
            "default": {
                "counts": ZERO | {"queued": 2},
                "total": 2,
                "oldest_waiting_seconds": "checked",
                "paused": False,
                "concurrency": None,
                **NO_DEPTH,
            },
            "emails": {
                "counts": ZERO | {"scheduled": 1, "cancelled": 1},
                "total": 2,
                "oldest_waiting_seconds": None,
                "paused": True,
                "concurrency": 3,
                **NO_DEPTH,
            },
            "idle": {
                "counts": ZERO,
                "total": 0,
                "oldest_waiting_seconds": None,
                "paused": False,
                "concurrency": 1,
                **NO_DEPTH,
            },
        },
        "totals": {
            "counts": ZERO | {"scheduled": 1, "queued": 2, "cancelled": 1},
            "total": 4,
            "oldest_waiting_seconds": "checked",
        },
    }


@pytest.mark.django_db
def test_a_queue_named_totals_does_not_clash_with_the_totals(make_job: MakeJob) -> None:
    make_job(queue="totals")

    data = json.loads(run("--json"))

    assert data["queues"]["totals"]["total"] == 1
    assert data["totals"]["total"] == 1


@pytest.mark.django_db
def test_a_queue_with_a_max_depth_shows_how_full_it_is_and_its_refusals(make_job: MakeJob) -> None:
    services.set_queue_max_depth(name="mail", max_depth=2, overflow="block", block_seconds=1)
    make_job(queue="mail")
    services.set_queue_max_depth(name="mail", overflow="refuse")
    make_job(queue="mail")
    with pytest.raises(QueueFull):
        make_job(queue="mail")

    assert run().splitlines()[1].endswith("depth 2/2, 1 refused")
    assert {k: json.loads(run("--json"))["queues"]["mail"][k] for k in NO_DEPTH} == {
        "max_depth": 2,
        "depth": 2,
        "refused": 1,
    }


@pytest.mark.django_db
def test_empty_database() -> None:
    assert run() == "No jobs.\n"
    assert json.loads(run("--json")) == {
        "queues": {},
        "totals": {"counts": ZERO, "total": 0, "oldest_waiting_seconds": None},
    }


def test_bad_option_exits_non_zero_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "jobstats", "--queue", "x"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == "manage.py jobstats: error: unrecognized arguments: --queue x"
