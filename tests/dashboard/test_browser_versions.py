"""Versioned tasks in a real browser: the job page says which task and version a queued job waits
for, and the workers page lists the tasks each worker has (no console error, no CSP violation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from jobs import registry, services
from jobs.engine.workers import register_worker
from jobs.models import WorkerProcess
from tests import versioned_tasks
from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms
REPORT = "tests.versioned_tasks.report"


def test_the_job_page_says_which_worker_a_job_waits_for_and_the_workers_page_lists_tasks(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    registry.register(versioned_tasks.report)
    make_user("ada", superuser=True)
    register_worker(
        name="host-a:1:old", queues=("rolling",), concurrency=2, worker_type="thread", tasks=[f"{REPORT}@1"]
    )
    # No heartbeat thread here, and daphne judges liveness with the tests' 2 s lease: a heartbeat in
    # the future keeps the worker alive however slowly the machine signs in and loads the page.
    WorkerProcess.objects.filter(name="host-a:1:old").update(last_heartbeat=timezone.now() + timedelta(hours=1))
    job = services.enqueue_job(spec=services.JobSpec(task_name=f"{REPORT}@2", args=[1], queue="rolling"))
    page = browser_page
    sign_in(page, daphne, "ada", f"/jobs/{job.pk}/")

    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    expect(page.locator("main h1")).to_contain_text(f"{REPORT}@2")
    expect(page.locator("#job-waiting-reason")).to_have_text(
        f"Waiting for a worker that has task {REPORT}@2 (workers serving 'rolling' have {REPORT}@1)"
    )
    expect(page.locator("#job-task-version")).to_have_text("2")

    page.goto(f"{daphne}/workers/")
    tasks = page.locator("#worker-table td.worker-tasks").first
    expect(tasks).to_contain_text("1 task")
    tasks.locator("summary").click()
    expect(tasks.locator("code")).to_have_text(f"{REPORT}@1")
    assert page.csp_errors == []
