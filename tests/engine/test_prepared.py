"""On PostgreSQL the per-job statements are prepared once per connection, though Django turns
psycopg's automatic preparing off; JOBDECK_PREPARE_STATEMENTS=0 keeps them unprepared (for
transaction-mode connection poolers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from jobs import database, states
from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; SQLite keeps its own statement cache")


@pytest.fixture
def fresh_connection_state(settings: Any) -> Iterator[None]:
    """Each case starts from Django's own connection settings and a fresh reading of the setting."""
    connection.ensure_connection()
    raw = connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    raw.execute("DEALLOCATE ALL")
    database._prepare_setting.cache_clear()
    yield
    raw.prepare_threshold = before
    database._prepare_setting.cache_clear()


def claim_and_finish(make_job: Callable[..., Job], times: int) -> None:
    for _ in range(times):
        make_job()
    previous = None
    while True:
        outcome = None if previous is None else states.Finish(previous, "done", "done")
        _, previous = states.finish_and_claim(outcome, queues=["default"], worker="w", lease_seconds=30)
        if previous is None:
            return


def prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.usefixtures("fresh_connection_state")
def test_claim_and_finish_are_prepared_and_orm_queries_are_not(make_job: Callable[..., Job]) -> None:
    claim_and_finish(make_job, 8)
    for _ in range(10):
        list(Job.objects.filter(queue="default").values_list("pk", flat=True))  # an ORM query, repeated

    statements = prepared()

    assert any("status = 'running'" in sql and "FOR UPDATE SKIP LOCKED" in sql for sql in statements), statements
    assert any(sql.startswith("WITH main AS (UPDATE jobs_job SET status = $1") for sql in statements), statements
    assert not any(sql.startswith('SELECT "jobs_job"."id"') for sql in statements), statements


@pytest.mark.usefixtures("fresh_connection_state")
def test_prepare_statements_setting_zero_prepares_nothing(make_job: Callable[..., Job], settings: Any) -> None:
    settings.JOBDECK_PREPARE_STATEMENTS = 0

    claim_and_finish(make_job, 8)

    assert prepared() == []
    assert connection.connection.prepare_threshold is None
