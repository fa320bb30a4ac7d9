"""Every dashboard page in a real browser (Debian's Chromium, daphne) with no console error and no CSP
violation (the browser_page fixture fails a test on either), and the jobs list under live changes: rows
replaced and rows added by one update, and a live load of enqueues and completions from a real worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.conftest import wait_until
from tests.dashboard.conftest import make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def enqueue(**options: Any) -> Any:
    from jobs import services

    return services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], **options))


def test_every_page_shows_without_console_errors_or_csp_violations(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    make_user("ada", superuser=True)
    job = enqueue(kwargs={}, queue="mail")
    run_job(enqueue(queue="failing", max_attempts=1).pk, to="failed", error="boom")
    page = browser_page
    sign_in(page, daphne, "ada", "/")
    live_pages = ["/", "/jobs/", "/jobs/?status=failed", "/jobs/?q=add", f"/jobs/{job.pk}/"]
    for path in live_pages:
        page.goto(f"{daphne}{path}")
        expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    for path in ["/failed/", "/queues/", "/workers/", "/schedules/", "/jobs/?q=payload.%3Ax", "/jobs/?task=nope"]:
        page.goto(f"{daphne}{path}")
        expect(page.locator("main h1")).to_be_visible()
    # A search it cannot run answers 400 with the page; the browser logs the status, nothing else.
    page.expected_errors.append("the server responded with a status of 400")
    # The confirmation of a bulk action, then back.
    page.goto(f"{daphne}/jobs/?status=failed")
    page.locator("#job-rows input[name=ids]").first.check()
    page.locator("#bulk-form button[value=retry]").click()
    expect(page.locator("main h1")).to_contain_text("Retry 1 job?")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{daphne}/login/")
    assert page.csp_errors == []


def test_one_update_that_replaces_a_row_and_adds_another_swaps_both_without_errors(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    make_user("otto", "operator")
    first = enqueue()
    page = browser_page
    sign_in(page, daphne, "otto", "/jobs/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)

    # One transaction: the tailer reads both events in one tick, so one message carries a replaced row
    # (the shown job, now cancelled) and a new row for the top of the list.
    with transaction.atomic():
        services.cancel_job(job_id=first.pk, actor="test")
        second = enqueue()

    expect(page.locator(f"#job-{second.pk}")).to_contain_text("Queued", timeout=WAIT)
    expect(page.locator(f"#job-{first.pk}")).to_contain_text("Cancelled", timeout=WAIT)
    assert page.locator("#job-rows tr[data-job-id]").evaluate_all("rows => rows.map(r => r.dataset.jobId)") == [
        str(second.pk),
        str(first.pk),
    ]
    assert page.console_errors == []


@pytest.mark.workers
def test_jobs_list_under_a_live_load_logs_no_console_error(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    start_workers: Any,
) -> None:
    from playwright.sync_api import expect

    from jobs.models import Job

    make_user("otto", "operator")
    page = browser_page
    sign_in(page, daphne, "otto", "/jobs/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    start_workers("-q", "default", "-w", "2")

    # Waves of enqueues while the worker completes the previous ones: each update both adds and
    # replaces rows.
    jobs: list[Any] = []
    for _ in range(8):
        wave = [enqueue() for _ in range(5)]
        jobs += wave
        first = wave[0].pk
        wait_until(lambda first=first: Job.objects.filter(pk=first, status="done").exists(), timeout=30)
    wait_until(lambda: not Job.objects.active().exists(), timeout=60, message="the load did not finish")

    for job in jobs:
        expect(page.locator(f"#job-{job.pk}")).to_contain_text("Done", timeout=WAIT)
    # The tab and "select all N matching" agree, and the form's snapshot moved with them.
    expect(page.locator("#count-all")).to_have_text(str(len(jobs)), timeout=WAIT)
    expect(page.locator("#matching-count")).to_have_text(str(len(jobs)), timeout=WAIT)
    expect(page.locator("#matching-upto")).to_have_value(str(jobs[-1].pk))

    # The same on a state tab, under more load.
    page.goto(f"{daphne}/jobs/?status=done")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    more = [enqueue() for _ in range(10)]
    wait_until(lambda: not Job.objects.active().exists(), timeout=60, message="the load did not finish")
    total = str(len(jobs) + len(more))
    expect(page.locator("#count-done")).to_have_text(total, timeout=WAIT)
    expect(page.locator("#matching-count")).to_have_text(total, timeout=WAIT)
    assert page.console_errors == []


def test_bulk_buttons_show_only_while_a_row_is_checked(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    make_user("otto", "operator")
    first, second = enqueue(), enqueue()
    page = browser_page
    sign_in(page, daphne, "otto", "/jobs/")
    buttons = page.locator("#bulk-form button")

    expect(buttons.first).to_be_hidden()
    page.locator(f"#job-{first.pk} input[name=ids]").check()
    expect(buttons.first).to_be_visible()
    page.locator(f"#job-{first.pk} input[name=ids]").uncheck()
    expect(buttons.first).to_be_hidden()
    page.locator("#select-all").check()
    expect(buttons.first).to_be_visible()
    assert page.locator("#job-rows input[name=ids]:checked").count() == 2
    expect(page.locator("#bulk-matching")).to_contain_text("select all 2 matching")
    assert second.pk


# The width of the text in a box, measured with the box's own font: the placeholder fits when it is no
# wider than the box's content area.
PLACEHOLDER_FITS = """(input) => {
  const style = getComputedStyle(input);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return context.measureText(input.placeholder).width <= room;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_nav_search_and_status_column_stay_in_view(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    width: int,
) -> None:
    from playwright.sync_api import expect

    make_user("otto", "operator")
    job = enqueue(queue="a-rather-long-queue-name")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, daphne, "otto", "/jobs/")

    def in_view(locator: Any) -> bool:
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width

    links = page.locator("header nav a")
    assert links.count() == 7
    for i in range(7):
        assert in_view(links.nth(i)), links.nth(i).text_content()
    assert in_view(page.locator("table.jobs th", has_text="Status"))
    assert in_view(page.locator(f"#job-{job.pk} .status"))
    assert in_view(page.locator("#job-search"))
    assert page.locator("#job-search").evaluate(PLACEHOLDER_FITS)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing scrolls sideways
