"""The claim query walks the partial index job_claim_idx in claim order, instead of sorting runnable rows."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from jobs import states
from jobs.models import Job


def claim_select() -> str:
    """The inner SELECT of the claim UPDATE, exactly as claim_next() sent it (parameters inlined).

    Capturing what claim_next() ran keeps this test on the module's own SQL and per-vendor
    choices (lock clause, index hint) instead of a copy of them.
    """
    with CaptureQueriesContext(connection) as ctx:
        states.claim_next(queues=["default", "emails"], worker="planner", lease_seconds=30)
    update = next(q["sql"] for q in ctx.captured_queries if "SELECT j.id" in q["sql"])
    found = re.search(r"\bid = \(\s*(SELECT j\.id .*LIMIT 1[^)]*?)\s*\)\s*RETURNING", update, re.DOTALL)
    assert found, update
    return found.group(1)


def explain(sql: str) -> list[str]:
    with transaction.atomic(), connection.cursor() as cursor:
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

    plan = explain(claim_select())

    text = "\n".join(plan)
    if connection.vendor == "postgresql":
        assert re.search(r"Index (Only )?Scan using job_claim_idx on jobs_job j\b", text), text
        assert not re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", text, re.MULTILINE), text
    else:
        assert any(re.match(r"(SCAN|SEARCH) j USING (COVERING )?INDEX job_claim_idx\b", line) for line in plan), text
        assert "TEMP B-TREE" not in text, text
