"""The claim query walks the partial index job_claim_idx in claim order, instead of sorting runnable rows."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from jobs import services, states
from jobs.models import Job


def claim_select(
    queues: tuple[str, ...] = ("default", "emails"), tasks: list[str] | None = None
) -> tuple[str, list[str]]:
    """The inner SELECT of the claim UPDATE, exactly as claim_next() sent it (parameters inlined),
    and the statements it ran before it in the same transaction (PostgreSQL's settings for it).

    Capturing what claim_next() ran keeps this test on the module's own SQL and per-vendor
    choices (lock clause, index hint, planner settings) instead of a copy of them.
    """
    with CaptureQueriesContext(connection) as ctx:
        states.claim_next(queues=list(queues), worker="planner", lease_seconds=30, tasks=tasks)
    sent = [q["sql"] for q in ctx.captured_queries]
    at = next(i for i, sql in enumerate(sent) if "SELECT j.id" in sql)
    found = re.search(r"\bid = \(\s*(SELECT j\.id .*LIMIT 1[^)]*?)\s*\)\s*RETURNING", sent[at], re.DOTALL)
    assert found, sent[at]
    return found.group(1), [sql for sql in sent[:at] if sql.startswith("SELECT set_config")]


def explain(sql: str, before: Sequence[str] = ()) -> list[str]:
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in before:
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            # On a table this small a sequential scan is cheapest; forbid it so the planner shows
            # which index it would walk once the table is large.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return [row[3] for row in cursor.fetchall()]


def test_claim_query_walks_the_partial_claim_index_without_sorting(make_job: Callable[..., Job]) -> None:
    for priority in (0, 5, -5, 5):
        make_job(priority=priority)
        make_job(queue="emails", priority=priority)

    plan = explain(*claim_select())

    text = "\n".join(plan)
    if connection.vendor == "postgresql":
        assert re.search(r"Index (Only )?Scan using job_claim_idx on jobs_job j\b", text), text
        assert not re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", text, re.MULTILINE), text
    else:
        assert any(re.match(r"(SCAN|SEARCH) j USING (COVERING )?INDEX job_claim_idx\b", line) for line in plan), text
        assert "TEMP B-TREE" not in text, text


@pytest.mark.django_db(transaction=True)  # committed rows and statistics, as in production
def test_postgres_claim_keeps_to_the_claim_index_when_statistics_are_stale() -> None:
    """A queue that filled since the last ANALYZE looks empty to the planner, which then prefers a
    (queue, ...) index and sorts the whole backlog on every claim. The claim turns sorting off."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner only: SQLite's claim names its index (INDEXED BY)")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE jobs_job CASCADE")
        cursor.execute("ANALYZE jobs_job, jobs_queue")  # statistics of an empty table
    services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[1, 2]) for _ in range(10_000)])
    with CaptureQueriesContext(connection) as ctx:
        states.claim_next(queues=["default"], worker="planner", lease_seconds=30)
    sent = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(("SELECT set_config", "WITH main"))]

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sent[0])  # the claim's own planner settings
        cursor.execute(f"EXPLAIN {sent[1]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert re.search(r"Index (Only )?Scan using job_claim_idx on jobs_job j\b", plan), plan
    assert not re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", plan, re.MULTILINE), plan
