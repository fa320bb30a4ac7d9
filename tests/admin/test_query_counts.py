"""Every admin page and action runs a small, fixed number of queries with 100,000 jobs in the table.

No query on the job table may COUNT(*) it without a LIMIT, SELECT DISTINCT over it, or LIKE-scan it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import states, tokens
from jobs.models import Attempt, Job, JobEvent, JobLog, Queue, WorkerProcess
from jobs.status import Status
from tests.admin.conftest import change, changelist

BIG = 100_000
TASKS = ("tests.tasks.add", "tests.tasks.append_line", "jobs.tasks.echo")
QUEUES = ("default", "emails", "reports")
WORKER = "host-a:123:abcd"

PAGE_QUERIES = 8  # session, user, capped count, page, filter choices; PostgreSQL may add its estimate
ACTION_BASE_QUERIES = 8  # session, user, the changelist (count, choices) twice, the ids
ACTION_QUERIES_PER_JOB = 6  # read, savepoint, conditional UPDATE, event INSERT, NOTIFY, release

JOB_TABLE = re.compile(r"\bjobs_job\b")
BIG_TABLES = re.compile(r"\bjobs_(job|attempt|jobevent|joblog)\b")


def _fill() -> dict[str, Any]:
    """100,000 jobs with their creation events, most finished, plus attempts and log lines for the newest."""
    now = timezone.now()
    rows = [
        states.NewJob(
            queue=QUEUES[i % 3],
            task_name=TASKS[i % 3],
            args=[i],
            payload={"n": i},
            priority=0,
            max_attempts=3,
            run_at=now + datetime.timedelta(hours=1) if i % 10 == 9 else now,
        )
        for i in range(BIG)
    ]
    ids = [job.pk for job in states.create_jobs(rows, actor="fixture")]
    first = min(ids)
    # A long-lived table is mostly finished jobs. Written directly: going through the state
    # machine job by job would take minutes, and these rows only have to exist.
    queued = Job.objects.filter(status=Status.QUEUED)
    queued.filter(pk__lt=first + 80_000).update(status=Status.DONE, attempt=1, finished_at=now, worker=WORKER)
    queued.filter(pk__lt=first + 90_000).update(
        status=Status.FAILED, attempt=3, finished_at=now, last_error="ValueError: boom", worker=WORKER
    )
    queued.filter(pk__lt=first + 90_050).update(status=Status.RUNNING, attempt=1, started_at=now, worker=WORKER)
    newest_done = list(Job.objects.filter(status=Status.DONE).order_by("-pk").values_list("pk", flat=True)[:2_000])
    Attempt.objects.bulk_create(
        Attempt(
            job_id=job_id,
            number=1,
            worker=WORKER,
            started_at=now,
            finished_at=now,
            outcome=Attempt.Outcome.DONE,
        )
        for job_id in newest_done
    )
    JobLog.objects.bulk_create(
        JobLog(job_id=job_id, attempt=1, created_at=now, level=level, logger="tests", message=f"line {level}")
        for job_id in newest_done
        for level in (20, 30)
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jobs_job")  # fresh statistics, as autovacuum keeps them in production
    return {"first": first, "last": max(ids), "job_with_history": newest_done[0]}


@pytest.fixture(scope="module")
def big_table(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Built once per module and database (committed), emptied afterwards."""
    with django_db_blocker.unblock():
        info = _fill()
    yield info
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in ("jobs_joblog", "jobs_attempt", "jobs_jobevent", "jobs_job"):
            cursor.execute(f"DELETE FROM {table}")


@pytest.fixture
def client(big_table: dict[str, Any], admin_client: Client) -> Client:
    return admin_client


def assert_cheap(captured: CaptureQueriesContext, tables: re.Pattern[str] = BIG_TABLES) -> None:
    """No whole-table COUNT(*), DISTINCT or LIKE scan on the job table (and, by default, its history tables)."""
    for query in captured.captured_queries:
        sql = query["sql"]
        if tables.search(sql):
            upper = sql.upper()
            assert "DISTINCT" not in upper, sql
            assert "COUNT(" not in upper or "LIMIT" in upper, sql
            assert " LIKE " not in upper, sql


def get(client: Client, url: str, assert_max: Callable[..., Any], limit: int = PAGE_QUERIES) -> str:
    with assert_max(limit) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert_cheap(captured)
    return response.content.decode()


def ids_in(status: str, count: int) -> list[int]:
    return list(Job.objects.filter(status=status).order_by("-pk").values_list("pk", flat=True)[:count])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "tests.tasks.add"),
        ("?status__exact=done", "tests.tasks.add"),
        ("?status__exact=failed", "tests.tasks.add"),
        ("?status__exact=running", WORKER),
        ("?queue=emails", "tests.tasks.append_line"),
        ("?task=jobs.tasks.echo", "jobs.tasks.echo"),
        ("?q=tests.tasks.ap", "tests.tasks.append_line"),
        ("?q=echo", "jobs.tasks.echo"),
        ("?q=no.such.task", "0 results"),
        ("?status__exact=done&queue=emails&task=tests.tasks.append_line", "tests.tasks.append_line"),
        (f"?worker={WORKER}", WORKER),
        ("?p=50", "tests.tasks.add"),
    ],
)
def test_job_changelist_runs_few_cheap_queries(
    client: Client, django_assert_max_num_queries: Callable[..., Any], query: str, expected: str
) -> None:
    body = get(client, changelist("job") + query, django_assert_max_num_queries)

    assert expected in body


def test_job_search_by_id_finds_exactly_that_job(
    client: Client, big_table: dict[str, Any], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    job_id = big_table["first"] + 12_345

    body = get(client, changelist("job") + f"?q={job_id}", django_assert_max_num_queries)

    assert f"/admin/jobs/job/{job_id}/change/" in body
    assert "1 result" in body


def test_job_changelist_shows_a_capped_or_estimated_count(
    client: Client, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    body = get(client, changelist("job"), django_assert_max_num_queries)

    if connection.vendor == "postgresql":
        estimate = int(re.search(r"about ([\d,]+) jobs", body).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert 90_000 <= estimate <= 110_000
    else:
        assert "10,000+ jobs" in body
    assert "Select all 10" not in body  # no "select all across pages": more match than one action may take


def test_filtered_job_changelist_counts_exactly_under_the_cap(
    client: Client, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    running = Job.objects.filter(status=Status.RUNNING).count()

    body = get(client, changelist("job") + "?status__exact=running", django_assert_max_num_queries)

    assert running < 100
    assert f"{running} jobs" in body


def test_job_change_page_runs_few_queries(
    client: Client, big_table: dict[str, Any], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    job_id = big_table["job_with_history"]

    body = get(client, change("job", job_id), django_assert_max_num_queries)

    assert "line 30" in body and "enqueued" in body
    assert 'name="_save"' not in body


def test_job_delete_page_runs_few_queries(
    client: Client, big_table: dict[str, Any], django_assert_max_num_queries: Callable[..., Any]
) -> None:
    job_id = big_table["job_with_history"]

    with django_assert_max_num_queries(PAGE_QUERIES) as captured:
        response = client.get(f"/admin/jobs/job/{job_id}/delete/")

    assert response.status_code == 200
    assert "Job logs: 2" in response.content.decode()
    # The history is counted for this one job (by its indexed job_id), never the job table.
    assert_cheap(captured, tables=JOB_TABLE)


@pytest.mark.parametrize(
    ("action", "status", "after"),
    [
        ("cancel_selected", Status.QUEUED, Status.CANCELLED),
        ("retry_selected", Status.DONE, Status.QUEUED),
        ("run_selected_now", Status.SCHEDULED, Status.QUEUED),
    ],
)
def test_job_action_runs_a_bounded_number_of_queries(
    client: Client, django_assert_max_num_queries: Callable[..., Any], action: str, status: str, after: str
) -> None:
    ids = ids_in(status, 5)
    limit = ACTION_BASE_QUERIES + ACTION_QUERIES_PER_JOB * len(ids)

    with django_assert_max_num_queries(limit) as captured:
        response = client.post(changelist("job"), {"action": action, "_selected_action": ids, "index": 0})

    assert response.status_code == 302
    assert_cheap(captured)
    assert set(Job.objects.filter(pk__in=ids).values_list("status", flat=True)) == {after}


def test_select_all_over_the_cap_is_refused_without_reading_every_id(
    client: Client, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    with django_assert_max_num_queries(ACTION_BASE_QUERIES) as captured:
        response = client.post(
            changelist("job"),
            {"action": "cancel_selected", "_selected_action": [1], "select_across": 1, "index": 0},
            follow=False,
        )

    assert response.status_code == 302
    assert_cheap(captured)
    assert Job.objects.filter(status=Status.CANCELLED).count() == 0
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["At most 10000 jobs per bulk action"]


@pytest.mark.parametrize(
    "url",
    [
        changelist("attempt"),
        changelist("attempt") + "?outcome__exact=done",
        changelist("attempt") + "?p=10",
        changelist("jobevent"),
        changelist("jobevent") + "?status=queued",
        changelist("jobevent") + "?queue=emails",
        changelist("jobevent") + "?p=50",
        changelist("joblog"),
        changelist("joblog") + "?level=30",
    ],
)
def test_history_changelists_run_few_cheap_queries(
    client: Client, django_assert_max_num_queries: Callable[..., Any], url: str
) -> None:
    body = get(client, url, django_assert_max_num_queries)

    assert "/admin/jobs/job/" in body  # rows link to their job


@pytest.mark.parametrize("model", ["attempt", "jobevent", "joblog"])
def test_history_of_one_job_runs_few_queries(
    client: Client, big_table: dict[str, Any], django_assert_max_num_queries: Callable[..., Any], model: str
) -> None:
    job_id = big_table["job_with_history"]

    by_filter = get(client, changelist(model) + f"?job={job_id}", django_assert_max_num_queries)
    by_search = get(client, changelist(model) + f"?q={job_id}", django_assert_max_num_queries)

    assert f"/admin/jobs/job/{job_id}/change/" in by_filter
    assert f"/admin/jobs/job/{job_id}/change/" in by_search


@pytest.mark.parametrize("model", [Attempt, JobEvent, JobLog])
def test_history_change_pages_run_few_queries(
    client: Client, big_table: dict[str, Any], django_assert_max_num_queries: Callable[..., Any], model: Any
) -> None:
    row = model.objects.filter(job_id=big_table["job_with_history"]).first()

    body = get(client, change(model._meta.model_name, row.pk), django_assert_max_num_queries)

    assert 'name="_save"' not in body


def test_queue_worker_and_token_pages_run_few_queries(
    client: Client, admin_user: User, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    now = timezone.now()
    queue = Queue.objects.create(name="emails", paused=True)
    worker = WorkerProcess.objects.create(
        name=WORKER,
        host="host-a",
        pid=123,
        queues=["default"],
        concurrency=4,
        worker_type="thread",
        started_at=now,
        last_heartbeat=now,
    )
    token, _ = tokens.create_token(username=admin_user.username, name="ci")

    for url in (
        changelist("queue"),
        change("queue", queue.pk),
        "/admin/jobs/queue/add/",
        changelist("workerprocess"),
        changelist("workerprocess") + "?alive=yes",
        change("workerprocess", worker.pk),
        changelist("apitoken"),
        change("apitoken", token.pk),
        "/admin/jobs/apitoken/add/",
    ):
        get(client, url, django_assert_max_num_queries)
