"""dashboard.fragments: the live path's own renderers give the markup of the page's partials."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard import fragments
from jobs.models import Job
from jobs.status import Status

NOW = timezone.now()


def row_job(**fields: Any) -> Job:
    # In memory, not through the services: the row reads only these fields, and some cases (markup in
    # a queue name, a task name no URL can carry) are values the services would refuse.
    values: dict[str, Any] = {
        "pk": 12345,
        "queue": "default",
        "task_name": "tests.tasks.add",
        "status": Status.QUEUED,
        "priority": 0,
        "attempt": 0,
        "interrupted": 0,
        "snoozes": 0,
        "max_attempts": 3,
        "created_at": NOW - datetime.timedelta(seconds=5),
        "run_at": NOW,
        "progress": None,
        "cancel_requested_at": None,
    }
    return Job(**(values | fields))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": Status.RUNNING, "attempt": 1},
        {"status": Status.RUNNING, "attempt": 2, "interrupted": 1, "progress": 0.125},
        {"status": Status.RUNNING, "progress": 1e-05},
        {"status": Status.RUNNING, "progress": 0.5, "cancel_requested_at": NOW},
        {"status": Status.DONE, "attempt": 1, "created_at": NOW - datetime.timedelta(days=3)},
        {"status": Status.FAILED, "attempt": 3, "snoozes": 1, "priority": -100},
        {"status": Status.RETRYING, "attempt": 1, "max_attempts": 1000},
        {"status": Status.SCHEDULED, "priority": 10, "created_at": NOW + datetime.timedelta(hours=2)},
        {"status": Status.CANCELLED, "queue": '<b>odd & "quoted"</b>', "task_name": "a/b c?d=<e>"},
        {"pk": 9_876_543_210, "task_name": "tests.tasks.noop"},
    ],
    ids=lambda fields: "-".join(f"{k}={v}" for k, v in fields.items()) or "queued",
)
def test_live_row_is_the_page_partial(fields: dict[str, Any]) -> None:
    job = row_job(**fields)

    assert fragments.job_row_html(job) == render_to_string("dashboard/jobs.html#job-row", {"job": job})


def test_rows_rendered_in_one_batch_each_keep_their_own_values() -> None:
    jobs = [
        row_job(pk=1, status=Status.QUEUED, task_name="tests.tasks.add"),
        row_job(pk=2, status=Status.RUNNING, task_name="tests.tasks.noop", progress=0.5),
        row_job(pk=3, status=Status.QUEUED, task_name="tests.tasks.add", priority=5),
    ]
    parts = fragments.RowParts()

    rendered = [fragments.job_row_html(job, parts) for job in jobs]

    assert rendered == [render_to_string("dashboard/jobs.html#job-row", {"job": job}) for job in jobs]
