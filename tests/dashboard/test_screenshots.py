"""Screenshots of the overview, the jobs list and a job's page, light and dark, taken by Debian's Chromium.

Real jobs run on a real `runworkers` first, so the pages have content. The PNGs go to a temporary
directory, or to docs/screenshots/ (committed, shown in the README) when JOBDECK_SCREENSHOTS=1:

    JOBDECK_SCREENSHOTS=1 .venv/bin/python -m pytest tests/dashboard/test_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, wait_until
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures

SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def make_history(tmp_path: Path, start_workers: Any) -> int:
    """Jobs of a few kinds in three queues, run by a real worker; returns the id of one with log lines."""
    from jobs import services
    from jobs.models import Job

    spec = services.JobSpec
    specs = [spec(task_name="tests.tasks.add", args=[n, n], queue="default") for n in range(12)]
    specs += [spec(task_name="tests.tasks.progress_steps", args=[5], queue="media") for _ in range(4)]
    specs += [
        spec(task_name="tests.tasks.fail_until", args=[str(tmp_path / f"f{n}"), 9], queue="emails", max_attempts=1)
        for n in range(3)
    ]
    services.enqueue_jobs(specs=specs)
    chatty = services.enqueue_job(spec=spec(task_name="tests.tasks.chatty", args=[12, 24], kwargs={}, queue="media"))
    start_workers("-q", "default,media,emails", "-w", "2")
    wait_until(lambda: not Job.objects.active().exists(), timeout=60, message="the jobs did not finish")
    # Some work still waiting, so the queues show depth.
    services.enqueue_jobs(specs=[spec(task_name="tests.tasks.add", args=[1, 2], queue="reports") for _ in range(5)])
    services.enqueue_job(spec=spec(task_name="tests.tasks.add", args=[1, 2], queue="reports", delay=3600))
    return chatty.pk


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


@pytest.mark.workers
def test_screenshots_of_the_main_pages_in_light_and_dark(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    start_workers: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    out = SHOTS if os.environ.get("JOBDECK_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    job_id = make_history(tmp_path, start_workers)
    make_user("otto", "operator")
    page = browser_page
    sign_in(page, daphne, "otto")

    pages = {"overview": "/", "jobs": "/jobs/", "job": f"/jobs/{job_id}/"}
    saved = []
    for theme in ("light", "dark"):
        page.context.add_cookies([{"name": "jobdeck_theme", "value": theme, "url": daphne}])
        for name, path in pages.items():
            page.set_viewport_size(DESKTOP)
            page.goto(f"{daphne}{path}")
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=15_000)
            if name == "overview":
                expect(page.locator("#throughput-chart canvas")).to_have_count(1)
                expect(page.locator("#performance")).to_contain_text("emails")
                page.select_option("#chart-range", "300")  # the jobs ran seconds ago: the last 5 minutes show them
            if name == "job":
                expect(page.locator("ol.log li")).to_have_count(12)
            target = out / f"{name}-{theme}.png"
            page.screenshot(path=str(target), full_page=True)
            saved.append(target)
    page.set_viewport_size(PHONE)
    page.goto(f"{daphne}/jobs/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways page scroll
    page.screenshot(path=str(out / "jobs-phone-dark.png"), full_page=False)
    saved.append(out / "jobs-phone-dark.png")

    assert page.csp_errors == []
    assert all(p.stat().st_size > 10_000 for p in saved)
