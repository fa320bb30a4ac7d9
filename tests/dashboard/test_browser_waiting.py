"""In a real browser: the job page says when a waiting job expires, and shows it ending as expired live."""

from __future__ import annotations

import datetime
from typing import Any

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_the_job_page_shows_the_deadline_then_the_expiry_live(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states
    from jobs.models import Job

    make_user("vera", "viewer")
    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="paused-here", expires_in=3600)
    job = services.enqueue_job(spec=spec)
    page = browser_page
    sign_in(page, daphne, "vera", f"/jobs/{job.pk}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    expect(page.locator("#job-waiting-reason")).to_have_text(
        f"expires at {job.expires_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC if not started"
    )

    # The deadline passes and the workers' housekeeping ends the job: the page follows.
    Job.objects.filter(pk=job.pk).update(expires_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    assert states.expire_due() == 1

    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=WAIT)
    expect(page.locator("#job-waiting-reason")).to_have_count(0)
    expect(page.locator(".error-text")).to_have_text("expired: not started by 2026-01-01T00:00:00+00:00")
    assert page.csp_errors == []
