"""The job page says when a job waits for its concurrency key ("waiting for key customer:42 (1 of 1
running)") and shows the key and its limit. In a real browser, no console errors."""

from __future__ import annotations

import re
from typing import Any

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_job_page_shows_a_job_waiting_for_its_key(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states

    make_user("vera", "viewer")
    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], concurrency_key="customer:42")
    running = services.enqueue_job(spec=spec)
    waiting = services.enqueue_job(spec=spec)
    claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == running.pk

    page = browser_page
    sign_in(page, daphne, "vera", f"/jobs/{waiting.pk}/")

    expect(page.locator("#job-waiting-reason")).to_contain_text(
        re.compile(r"waiting for key customer:42 \(1 of 1 running\)", re.IGNORECASE), timeout=WAIT
    )
    expect(page.locator("#job-concurrency-key")).to_have_text("customer:42 at most 1 at once")
    assert page.csp_errors == []


def test_job_page_shows_a_job_waiting_for_a_rate_limit(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states
    from jobs.services.rate_limits import set_rate_limit

    make_user("vera", "viewer")
    set_rate_limit(scope="queue", name="default", max_starts=1, period=3600)
    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2])
    started = services.enqueue_job(spec=spec)
    waiting = services.enqueue_job(spec=spec)
    claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == started.pk

    page = browser_page
    sign_in(page, daphne, "vera", f"/jobs/{waiting.pk}/")

    expect(page.locator("#job-waiting-reason")).to_contain_text(
        re.compile(r"rate limit: next start in 3[56]\d\d s \(queue default: 1 per 3600 s\)", re.IGNORECASE),
        timeout=WAIT,
    )
    assert page.csp_errors == []
