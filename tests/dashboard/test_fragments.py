"""dashboard.fragments: the live path's own renderers give the markup of the page's partials."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard import fragments
from jobs.models import Job, JobEvent
from jobs.status import Status

NOW = timezone.now()


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    """Both renderings print "5 s ago": the clock must not tick between them."""
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield


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


# The job page's timeline loop as the template rendered it before fragments.timeline_html() took over.
TIMELINE_LOOP = """{% load dashboard %}{% for e in events %}
        <li>{% reltime e.created_at %} <span class="status status-{{ e.old_status|default:'new' }}">{{ e.old_status|default:"new" }}</span> → <span class="status status-{{ e.new_status }}">{{ e.new_status }}</span>{% if e.attempt %} <span class="muted">attempt {{ e.attempt }}</span>{% endif %}{% if e.reason %} · {{ e.reason }}{% endif %}{% if e.actor %} · <span class="actor">by {{ e.actor }}</span>{% endif %}</li>
      {% endfor %}"""  # noqa: E501


def test_timeline_is_the_loop_it_replaced() -> None:
    events = [
        JobEvent(old_status="", new_status="queued", attempt=0, reason="", actor="", created_at=NOW),
        JobEvent(old_status="queued", new_status="running", attempt=1, reason="claimed", actor="w1", created_at=NOW),
        JobEvent(
            old_status="running",
            new_status="retrying",
            attempt=2,
            reason='<b>boom</b> & "quoted"',
            actor="<i>ann</i>",
            created_at=NOW - datetime.timedelta(hours=3),
        ),
        JobEvent(old_status="retrying", new_status="cancelled", attempt=0, reason="", actor="api", created_at=NOW),
    ]

    assert fragments.timeline_html(events) == Template(TIMELINE_LOOP).render(Context({"events": events}))
