"""The dashboard's feel in a real browser (Debian's Chromium, daphne): keyboard shortcuts, relative
times kept current, and the overview chart redrawn by live updates from a real worker."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboard.conftest import PASSWORD, make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures


def sign_in(page: Any, base: str, username: str, path: str) -> None:
    page.goto(f"{base}/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")


def failed_job(queue: str) -> Any:
    from jobs import services

    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue=queue, max_attempts=1)
    return run_job(services.enqueue_job(spec=spec).pk, to="failed", error="x")


def test_keyboard_moves_through_rows_and_retries_and_cancels_them(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services
    from jobs.models import Job
    from jobs.status import Status

    failed = failed_job("k")
    queued = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="other"))
    make_user("otto", "operator")
    page = browser_page
    sign_in(page, daphne, "otto", "/jobs/")

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("/")
    expect(page.locator("#job-search")).to_be_focused()
    page.keyboard.press("Escape")

    rows = page.locator("#job-rows tr.is-focused")
    page.keyboard.press("j")
    expect(rows).to_have_attribute("data-job-id", str(queued.pk))
    page.keyboard.press("j")
    expect(rows).to_have_attribute("data-job-id", str(failed.pk))
    page.keyboard.press("r")  # the same POST the job page's Retry button sends; back to this list
    expect(page.locator("#toasts")).to_contain_text(f"Job {failed.pk} queued again.")
    assert Job.objects.get(pk=failed.pk).status == Status.QUEUED

    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("j")
    expect(rows).to_have_attribute("data-job-id", str(queued.pk))
    page.keyboard.press("c")
    expect(page.locator("#toasts")).to_contain_text(f"Cancel requested for job {queued.pk}.")
    assert Job.objects.get(pk=queued.pk).status == Status.CANCELLED

    page.keyboard.press("g")
    page.keyboard.press("q")
    page.wait_for_url(f"{daphne}/queues/")
    page.keyboard.press("g")
    page.keyboard.press("o")
    page.wait_for_url(f"{daphne}/")
    assert page.csp_errors == []


def test_a_viewer_pressing_r_is_told_no_and_nothing_changes(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs.models import Job
    from jobs.status import Status

    job = failed_job("default")
    make_user("vera", "viewer")
    page = browser_page
    sign_in(page, daphne, "vera", "/jobs/")

    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page.locator("#toasts")).to_contain_text("Your role cannot retry jobs.")
    assert Job.objects.get(pk=job.pk).status == Status.FAILED


def test_relative_times_are_kept_current_and_show_utc_on_hover(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    make_user("vera", "viewer")
    page = browser_page
    sign_in(page, daphne, "vera", "/")
    page.evaluate(
        """() => {
          const t = document.createElement("time");
          t.className = "rel"; t.id = "probe"; t.dateTime = "2001-02-03T04:05:06Z"; t.textContent = "just now";
          document.querySelector("main").appendChild(t);
        }"""
    )
    expect(page.locator("#probe")).to_have_text(re.compile(r"^\d+\u00a0years ago$"), timeout=10_000)


@pytest.mark.workers
def test_overview_chart_is_redrawn_when_a_worker_finishes_jobs(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    start_workers: Any,
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    make_user("vera", "viewer")
    page = browser_page
    sign_in(page, daphne, "vera", "/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=15_000)
    expect(page.locator("#throughput-chart canvas")).to_have_count(1)
    page.evaluate("window.jobdeckMark = 'same document'")

    specs = [services.JobSpec(task_name="tests.tasks.add", args=[n, 1], queue="live") for n in range(4)]
    services.enqueue_jobs(specs=specs)
    start_workers("-q", "live", "-w", "1")

    expect(page.locator("#performance-live td").first).to_have_text("4", timeout=30_000)
    drawn = page.evaluate("JSON.parse(document.getElementById('chart-data').dataset.chart).queues.live.done")
    assert sum(count for _, count in drawn) == 4
    assert int(page.locator("#throughput-chart").get_attribute("data-drawn")) >= 2
    assert page.evaluate("window.jobdeckMark") == "same document"
    assert page.csp_errors == []


def test_expand_shows_the_whole_of_a_large_payload_in_place(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from dashboard.fragments import JSON_DISPLAY_LIMIT
    from jobs import services

    tail = "the-very-end"
    job = services.enqueue_job(
        spec=services.JobSpec(task_name="tests.tasks.add", args=["y" * JSON_DISPLAY_LIMIT + tail, 2], queue="big")
    )
    make_user("vera", "viewer")
    page = browser_page
    sign_in(page, daphne, "vera", f"/jobs/{job.pk}/")

    box = page.locator("#job-payload")
    expect(box).to_contain_text("Showing 20,000 of")
    expect(box).not_to_contain_text(tail)
    box.get_by_role("link", name="Expand").click()
    expect(box).to_contain_text(tail)
    expect(box).not_to_contain_text("Showing")
    assert page.url == f"{daphne}/jobs/{job.pk}/"  # swapped in place, no navigation
    assert page.csp_errors == []
