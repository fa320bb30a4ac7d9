"""The job page says when a job waits for its concurrency key or a rate limit; the queues page's Limits
section sets, shows and removes rate limits. In a real browser, no console errors or CSP violations."""

from __future__ import annotations

import re
from typing import Any

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_the_job_page_shows_a_key_hold_and_a_rate_limit(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states
    from jobs.services import rate_limits

    make_user("vera", "viewer")

    def enqueue(key: str, limit: int = 1) -> Any:
        spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], concurrency_key=key, concurrency_limit=limit)
        return services.enqueue_job(spec=spec)

    first, held = enqueue("customer:42"), enqueue("customer:42")
    rate_limits.set_rate_limit(scope="key", name="tenant:7", max_starts=1, period=600)
    started, limited = enqueue("tenant:7", limit=5), enqueue("tenant:7", limit=5)
    for expected in (first, started):
        claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=60)
        assert claimed is not None and claimed.id == expected.pk
    page = browser_page

    sign_in(page, daphne, "vera", f"/jobs/{held.pk}/")
    expect(page.locator("#job-waiting-reason")).to_contain_text("waiting for key customer:42 (1 of 1 running)")
    page.goto(f"{daphne}/jobs/{limited.pk}/")
    expect(page.locator("#job-waiting-reason")).to_contain_text(
        re.compile(r"rate limit: next start in \d+ s \(key tenant:7: 1 per 600 s\)")
    )
    expect(page.locator("#job-waiting-reason")).not_to_contain_text("waiting for key")
    assert page.csp_errors == []


def test_the_queues_page_sets_shows_and_removes_a_rate_limit(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services
    from jobs.models import RateLimit

    make_user("ada", superuser=True)
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="mail"))
    page = browser_page
    sign_in(page, daphne, "ada", "/queues/")

    form = page.locator("#rate-limit-form")
    form.get_by_label("Scope").select_option("key")
    form.get_by_label("Name").fill("customer:42")
    form.get_by_label("At most").fill("3")
    form.get_by_label("per").fill("0")
    form.get_by_role("button", name="Set rate limit").click()
    # The browser refuses a period under the field's minimum before anything is sent.
    assert not RateLimit.objects.exists()
    form.get_by_label("per").fill("60")
    form.get_by_role("button", name="Set rate limit").click()
    expect(page.locator("main")).to_contain_text("Rate limit set: key customer:42: 3 per 60 s.", timeout=WAIT)
    row = page.locator("#rate-limit-key-customer42")
    expect(row).to_contain_text("3 per 60 s")
    expect(row).to_contain_text("now")

    page.get_by_label("Rate limit of mail: starts").fill("5")
    page.get_by_label("Rate limit of mail: period in seconds").fill("1.5")
    page.locator("#queue-controls form[action$='/rate-limits/set/'] button").click()
    expect(page.locator("main")).to_contain_text("Rate limit set: queue mail: 5 per 1.5 s.", timeout=WAIT)
    expect(page.locator("#rate-limit-queue-mail")).to_contain_text("5 per 1.5 s")

    page.get_by_role("button", name="Remove the rate limit of key customer:42").click()
    expect(page.locator("main")).to_contain_text("Rate limit of key customer:42 removed.", timeout=WAIT)
    expect(page.locator("#rate-limit-key-customer42")).to_have_count(0)
    assert list(RateLimit.objects.values_list("scope", "name")) == [("queue", "mail")]
    assert page.csp_errors == []
