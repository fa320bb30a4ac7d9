"""The task pages in a real browser (Debian's Chromium, daphne): no console error or CSP violation,
every task name a link to its page, and the figures refreshed while the page stays open."""

from __future__ import annotations

from typing import Any

from tests.dashboard.conftest import make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms; the page polls every 5 s


def enqueue(**options: Any) -> Any:
    from jobs import services

    return services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], **options))


def test_task_pages_show_and_follow_without_console_errors(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    make_user("ada", superuser=True)
    run_job(enqueue(queue="mail").pk, to="done")
    run_job(enqueue(queue="mail", max_attempts=1).pk, to="failed", error="id 42 missing")
    page = browser_page
    sign_in(page, daphne, "ada", "/tasks/")

    row = page.locator("#task-teststasksadd")
    expect(row).to_contain_text("50%")
    row.get_by_role("link", name="tests.tasks.add").click()
    expect(page.locator("main h1")).to_contain_text("Task add")
    expect(page.locator("#task-success")).to_contain_text("50%")
    expect(page.locator("#task-errors")).to_contain_text("id <n> missing")

    # Live: a job that finishes while the page is open shows at the next poll.
    run_job(enqueue(queue="mail").pk, to="done")
    expect(page.locator("#task-success")).to_contain_text("67%", timeout=WAIT)

    # From the jobs list, a task name leads to its page.
    page.goto(f"{daphne}/jobs/")
    page.locator("#job-rows a.task-link").first.click()
    expect(page).to_have_url(f"{daphne}/tasks/tests.tasks.add/")
    assert page.csp_errors == []


def test_an_unknown_task_is_the_404_page(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    make_user("ada", superuser=True)
    page = browser_page
    page.expected_errors.append("status of 404")
    sign_in(page, daphne, "ada", "/tasks/no.such.task/")

    expect(page.locator("main")).to_contain_text("Task not found")
