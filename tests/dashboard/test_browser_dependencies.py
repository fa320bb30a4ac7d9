"""The job page says which jobs a waiting job waits for ("Waiting for 2 of 2 jobs (#1, #2)"), links
its parents and children, and shows it cancelled live when a parent is cancelled. In a real
browser, no console errors."""

from __future__ import annotations

from typing import Any

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_job_page_shows_the_jobs_a_job_waits_for(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states

    make_user("ada", superuser=True)
    first = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], delay=3600))
    second = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    child = services.enqueue_job(
        spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], after=[first.pk, second.pk])
    )
    page = browser_page
    sign_in(page, daphne, "ada", f"/jobs/{child.pk}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    reason = page.locator("#job-waiting-reason")
    expect(reason).to_have_text(f"Waiting for 2 of 2 jobs (#{first.pk}, #{second.pk})")
    expect(page.locator("#job-parents a")).to_have_count(2)
    expect(page.locator("#job-parents")).to_contain_text("cancelled if one fails")

    claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == second.pk
    assert states.record(states.Finish(claimed, "done", reason="done", result=3))
    page.reload()
    expect(reason).to_have_text(f"Waiting for 1 of 2 jobs (#{first.pk})", timeout=WAIT)

    services.cancel_job(job_id=first.pk)
    states.promote_due()
    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=WAIT)
    expect(page.locator(".job-header")).to_contain_text(f"dependency #{first.pk} cancelled")

    page.locator(f"#job-parents a[href$='/jobs/{first.pk}/']").click()
    expect(page.locator("#job-children a")).to_have_text(f"#{child.pk}", timeout=WAIT)
    assert page.csp_errors == []
