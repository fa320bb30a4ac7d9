"""The workflow page in a real browser: the graph is drawn, states change live while jobs finish
(polling stops once all have), "Retry the failed part" goes through its confirmation and re-arms the
failed part; no console errors or CSP violations, and (SQLite pass) no serious axe-core violation."""

from __future__ import annotations

import os
from typing import Any

from tests.dashboard.conftest import make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_accessibility import audit
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_workflow_page_draws_updates_live_and_retries_the_failed_part(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services, states
    from jobs.models import Job

    make_user("ada", superuser=True)
    spec = services.JobSpec
    root = services.enqueue_job(spec=spec(task_name="tests.tasks.add", args=[1, 2]))
    a = services.enqueue_job(spec=spec(task_name="tests.tasks.add", args=[1, 2], after=[root.pk], max_attempts=1))
    b = services.enqueue_job(spec=spec(task_name="tests.tasks.add", args=[1, 2], after=[a.pk]))
    page = browser_page
    sign_in(page, daphne, "ada", f"/jobs/{b.pk}/")
    page.locator("#job-workflow-link").click()
    page.wait_for_url(f"{daphne}/jobs/{b.pk}/workflow/")

    node = {job.pk: page.locator(f"#wf-node-{job.pk}") for job in (root, a, b)}
    expect(page.locator("svg#workflow-svg a.wf-node")).to_have_count(3)
    expect(page.locator("svg#workflow-svg path.wf-edge")).to_have_count(2)
    expect(page.locator("#workflow-table tbody tr")).to_have_count(3)
    expect(node[root.pk]).to_have_attribute("data-status", "queued")
    expect(node[b.pk]).to_contain_text("Scheduled")
    expect(page.locator("#workflow-graph")).to_have_attribute("data-finished", "no")
    if not os.environ.get("DATABASE_URL"):  # the audit runs in the SQLite pass (as test_browser_accessibility)
        assert audit(page) == []

    run_job(root.pk)  # the root finishes: the page shows it within a poll
    expect(node[root.pk]).to_have_attribute("data-status", "done", timeout=WAIT)
    expect(node[root.pk]).to_contain_text("Done")
    states.promote_due()
    run_job(a.pk, to="failed", error="boom")
    states.promote_due()
    expect(node[a.pk]).to_have_attribute("data-status", "failed", timeout=WAIT)
    expect(node[b.pk]).to_have_attribute("data-status", "cancelled", timeout=WAIT)
    expect(page.locator("#workflow-graph")).to_have_attribute("data-finished", "yes")
    expect(page.locator("#workflow-counts li[data-status=failed]")).to_contain_text("1")

    page.get_by_role("button", name="Retry the failed part").click()
    expect(page.locator("#confirm-text")).to_contain_text(f"workflow of job #{b.pk}")
    page.get_by_role("button", name="Yes, go ahead").click()
    page.wait_for_url(f"{daphne}/jobs/{b.pk}/workflow/")
    expect(page.locator("#toasts")).to_contain_text("2 of 2 job(s) re-armed.")
    expect(node[a.pk]).to_have_attribute("data-status", "queued")
    expect(node[b.pk]).to_have_attribute("data-status", "scheduled")
    assert Job.objects.get(pk=b.pk).pending_parents == 1

    # The graph's boxes are links reachable from the keyboard.
    node[a.pk].focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{daphne}/jobs/{a.pk}/")
    assert page.csp_errors == []
