"""The job page says why a job waits ("Snoozed until ...", "Retry 2 of 5 at ..."), live as the job
moves; when a waiting job expires, and shows it ending as expired live; the queues page sets a
queue's default retry policy. In a real browser, no console errors."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def retry_later(job_id: int, *, outcome: str) -> None:
    """End the job's attempt as a worker would: retrying in an hour, snoozed or failed."""
    from jobs import states

    claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == job_id
    failure = states.Failure(outcome=outcome, error_class="builtins.ValueError", message="later")
    at = timezone.now() + datetime.timedelta(hours=1)
    assert states.record(states.Finish(claimed, "retrying", reason=outcome, failure=failure, retry_at=at))


def test_job_page_shows_the_waiting_reason_live(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    make_user("ada", superuser=True)
    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], max_attempts=5, discard_on=["builtins.KeyError"])
    job = services.enqueue_job(spec=spec)
    page = browser_page
    sign_in(page, daphne, "ada", f"/jobs/{job.pk}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    # Queued, with no worker running: it waits for one that has its task, nothing else.
    expect(page.locator("#job-waiting-reason")).to_have_text(re.compile(r"^Waiting for a worker that has task [^;]*$"))
    expect(page.locator("#job-retry-policy")).to_contain_text("discard on builtins.KeyError")

    retry_later(job.pk, outcome="snoozed")
    reason = page.locator("#job-waiting-reason")
    expect(reason).to_contain_text("Snoozed until", timeout=WAIT)
    expect(reason).to_contain_text("(snooze 1 of 10)")
    expect(page.locator(".job-header")).to_contain_text("+1 snoozed, not counted")

    services.run_job_now(job_id=job.pk)
    retry_later(job.pk, outcome="failed")
    expect(reason).to_contain_text("Retry 2 of 5 at", timeout=WAIT)
    assert page.csp_errors == []


def test_queues_page_sets_a_default_retry_policy(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services
    from jobs.models import Queue

    make_user("ada", superuser=True)
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="mail"))
    page = browser_page
    sign_in(page, daphne, "ada", "/queues/")

    page.get_by_label("Backoff of mail: kind:base:cap:jitter").fill("linear:10:600:0.2")
    page.get_by_label("Exceptions discarded in mail").fill("builtins.KeyError, app.errors.Gone")
    page.locator("form[action$='/queues/mail/retry-policy/'] button").click()

    expect(page.locator("main")).to_contain_text("Queue mail: default retry policy set.", timeout=WAIT)
    expect(page.get_by_label("Backoff of mail: kind:base:cap:jitter")).to_have_value("linear:10.0:600.0:0.2")
    assert Queue.objects.get(name="mail").retry_policy == {
        "backoff": {"kind": "linear", "base": 10.0, "cap": 600.0, "jitter": 0.2},
        "discard_on": ["builtins.KeyError", "app.errors.Gone"],
    }
    page.get_by_label("Backoff of mail: kind:base:cap:jitter").fill("quadratic")
    page.locator("form[action$='/queues/mail/retry-policy/'] button").click()
    expect(page.locator("main")).to_contain_text("backoff must be an object", timeout=WAIT)


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
    expect(page.locator("#job-waiting-reason")).to_contain_text(
        f"expires at {job.expires_at.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC if not started"
    )

    # The deadline passes and the workers' housekeeping ends the job: the page follows.
    Job.objects.filter(pk=job.pk).update(expires_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    assert states.expire_due() == 1

    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=WAIT)
    expect(page.locator("#job-waiting-reason")).to_have_count(0)
    expect(page.locator(".error-text")).to_have_text("expired: not started by 2026-01-01T00:00:00+00:00")
    assert page.csp_errors == []
