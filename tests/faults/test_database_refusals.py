"""A database that refuses writes (here: another connection holding the write lock past our bound)
meets one documented error: DatabaseUnavailable from the services, 503 JSON with Retry-After from
the API, a 503 page or toast from the dashboard, and reads that keep working.

The real-server versions (a full tmpfs, a held lock against daphne, the CLI) are in
test_database_unavailable.py; these run in-process on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from jobs import dbguard, services, tokens
from jobs.exceptions import DatabaseUnavailable, JobdeckError
from jobs.models import ApiToken, Job
from jobs.services import JobSpec

TABLES = ("jobs_job", "jobs_apitoken", "django_session")


@contextlib.contextmanager
def write_lock_held() -> Iterator[None]:
    """Another connection holds the write lock; ours gives up after 0.2 s (the web processes' bound)."""
    dbguard.forget_refusals()
    if connection.vendor == "postgresql":
        import psycopg

        s = connection.settings_dict
        holder: Any = psycopg.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"] or 5432)
        holder.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")  # reads still pass
    else:
        holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    connection.ensure_connection()
    dbguard.bound_lock_wait(connection)
    try:
        yield
    finally:
        holder.rollback() if connection.vendor == "postgresql" else holder.execute("ROLLBACK")
        holder.close()
        connection.close()  # the next test's connection gets the default wait again
        dbguard.forget_refusals()


@pytest.fixture(autouse=True)
def short_lock_bound(settings: Any) -> None:
    settings.JOBDECK_WEB_LOCK_TIMEOUT_SECONDS = 0.2


def spec(n: int = 0) -> JobSpec:
    return JobSpec(task_name="tests.tasks.add", args=[n, n])


def test_write_services_raise_database_unavailable_and_store_nothing(transactional_db: None) -> None:
    job = services.enqueue_job(spec=spec())
    with write_lock_held():
        with pytest.raises(DatabaseUnavailable) as refused:
            services.enqueue_job(spec=spec(1))
        assert isinstance(refused.value, JobdeckError) and refused.value.status_code == 503
        assert refused.value.reason == "database locked"
        assert refused.value.message.startswith("Database unavailable (database locked)")
        with pytest.raises(DatabaseUnavailable):
            services.enqueue_jobs(specs=[spec(2), spec(3)])
        with pytest.raises(DatabaseUnavailable):
            services.cancel_job(job_id=job.pk)
        assert dbguard.recent_refusal() is not None
    assert list(Job.objects.values_list("pk", "status")) == [(job.pk, "queued")]


def test_api_write_answers_503_json_with_retry_after_and_reads_still_work(transactional_db: None) -> None:
    user = User.objects.create_user("alice", password="pw-alice-123")
    secret = tokens.create_token(username=user.username, name="ci")[1]
    job = services.enqueue_job(spec=spec())
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    with write_lock_held():
        # The token's first use cannot record last_used_at: the read answers all the same.
        read = client.get(f"/api/v1/jobs/{job.pk}")
        assert read.status_code == 200 and read.json()["id"] == job.pk
        write = client.post(
            "/api/v1/jobs", {"task": "tests.tasks.add", "args": [1, 2], "payload": {}}, content_type="application/json"
        )
        assert write.status_code == 503
        assert write["Content-Type"] == "application/json; charset=utf-8"
        assert write.json()["error"].startswith("Database unavailable (database locked)")
        assert int(write["Retry-After"]) > 0
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.json()["reasons"][0].startswith("database refused a write")

    assert ApiToken.objects.get().last_used_at is None
    assert list(Job.objects.values_list("pk", flat=True)) == [job.pk]


def test_dashboard_answers_a_503_page_or_toast_never_a_500(transactional_db: None) -> None:
    operator = User.objects.create_user("otto", password="pw-otto-12345")
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    job = services.enqueue_job(spec=spec())
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(operator)
    visitor = Client(raise_request_exception=False)

    with write_lock_held():
        # Logging in saves a session row: refused, the middleware's own write answers 503, not 500.
        login = visitor.post("/login/", {"username": "otto", "password": "pw-otto-12345"})
        assert login.status_code == 503, login.content[:300]
        assert "Database unavailable" in login.content.decode()
        assert int(login["Retry-After"]) > 0
        # An htmx action gets its toast with the 503 status.
        action = signed_in.post(f"/jobs/{job.pk}/cancel/", headers={"HX-Request": "true"})
        assert action.status_code == 503
        assert "Database unavailable" in action.content.decode()
        # Pages keep reading.
        assert signed_in.get("/jobs/").status_code == 200
