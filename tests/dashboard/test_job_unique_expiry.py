"""The job page and the admin show a job's deadline, waiting reason, key and unique period, and a named priority."""

from __future__ import annotations

import datetime
from typing import Any

from django.test import Client
from django.urls import reverse

from jobs import states
from jobs.models import Job
from tests.dashboard.conftest import make_user


def test_the_job_page_shows_the_deadline_and_why_the_job_waits(viewer_client: Client, make_job: Any) -> None:
    job = make_job(expires_at=datetime.datetime(2100, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), priority="high")

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert "expires at 2100-01-02 03:04:05 UTC if not started</dd>" in html
    assert 'id="job-expires"' in html
    assert '10 <span class="muted">(high)</span>' in html


def test_the_job_page_shows_the_key_and_how_long_it_is_held(viewer_client: Client, make_job: Any) -> None:
    job = make_job(idempotency_key="invoice-7", unique_for=3600)
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None
    states.record(states.Finish(claimed, "done", "done", result=3))

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert '<dd id="job-key"><code>invoice-7</code> <span class="muted">unique for 1.0 h' in html
    assert ", until " in html
    assert 'id="job-waiting-reason"' not in html  # finished: not waiting


def test_an_expired_job_page_says_why_it_was_cancelled(viewer_client: Client, make_job: Any) -> None:
    job = make_job(expires_in=60)
    Job.objects.filter(pk=job.pk).update(expires_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    states.expire_due()

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert "expired: not started by 2026-01-01T00:00:00+00:00" in html


def test_the_admin_shows_unique_for_and_the_deadline(db: None, make_job: Any) -> None:
    client = Client()
    client.force_login(make_user("root", superuser=True))
    job = make_job(idempotency_key="k", unique_for=90, expires_in=60)

    html = client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()

    for label in ("Unique for", "Unique until", "Expires at"):
        assert label in html
