"""Issue 5's "Must show" in a real browser (Debian's Chromium driven by Playwright, against daphne and real
`runworkers`): a job enqueued through the REST API reports progress and log lines live on its page; cancel
and retry from the job page; bulk retry from the jobs list; a `<script>` payload shown as text; and the live
indicator reconnecting and catching up after the server side of its socket drops.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until
from tests.dashboard.conftest import make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

SCRIPT = "<script>alert(1)</script>"
WAIT = 15_000  # ms: generous, for answers that need a server round trip on a busy machine

# Marks the document (a reload would lose the mark) and records every state the live indicator shows.
WATCH_PAGE = """() => {
  window.jobdeckMark = "same document";
  window.liveStates = [];
  const label = document.getElementById("live-state");
  new MutationObserver(() => window.liveStates.push(label.dataset.state))
    .observe(label, {attributes: true, attributeFilter: ["data-state"]});
}"""


def api_enqueue(base: str, secret: str, body: dict[str, Any]) -> int:
    """POST /api/v1/jobs to the daphne server as a client would; return the new job's id."""
    request = urllib.request.Request(
        f"{base}/api/v1/jobs",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 202
        return json.loads(response.read())["job_id"]


def failed_job(queue: str) -> Any:
    from jobs import services

    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue=queue, max_attempts=1)
    return run_job(services.enqueue_job(spec=spec).pk, to="failed", error="boom")


def status_of(job_id: int) -> str:
    from jobs.models import Job

    return Job.objects.values_list("status", flat=True).get(pk=job_id)


@pytest.mark.workers
def test_job_enqueued_through_the_api_shows_progress_and_log_lines_live_until_done(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    start_workers: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from jobs.tokens import create_token

    make_user("otto", "operator")
    _, secret = create_token(username="otto", name="browser test")
    release = tmp_path / "release"
    # Attempt 1 logs, reports 50% and fails; attempt 2 logs, reports 50% and waits for `release`.
    job_id = api_enqueue(
        daphne,
        secret,
        {"task": "tests.tasks.log_then_fail_once", "payload": {"wait_path": str(release)}, "max_attempts": 2},
    )

    page = browser_page
    sign_in(page, daphne, "otto", f"/jobs/{job_id}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    expect(page.locator("#job-status")).to_have_text("Queued")
    expect(page.locator("#log-lines")).to_contain_text("No log lines.")
    assert page.locator("#job-progress").count() == 0
    page.evaluate(WATCH_PAGE)

    start_workers("-q", "default", "-w", "1")
    expect(page.locator("#job-status")).to_have_text("Running", timeout=30_000)
    log = page.locator("#log-lines")
    expect(log).to_contain_text("attempt 2 recovered", timeout=30_000)
    expect(log).to_contain_text("attempt 2 starts")
    expect(page.locator("#job-progress")).to_have_attribute("value", "0.5")
    expect(page.locator(".progress")).to_contain_text("halfway through attempt 2")
    expect(page.locator("#job-status")).to_have_text("Running")

    release.touch()
    expect(page.locator("#job-status")).to_have_text("Done", timeout=30_000)
    expect(page.locator("#job-progress")).to_have_attribute("value", "1.0")
    assert page.evaluate("window.jobdeckMark") == "same document"
    assert page.csp_errors == []


@pytest.mark.workers
def test_cancel_a_running_job_and_retry_a_failed_one_from_their_pages(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    start_workers: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    make_user("otto", "operator")
    started = tmp_path / "started"
    spec = services.JobSpec(
        task_name="tests.tasks.cooperative_sleep", args=[60.0], kwargs={"started_path": str(started)}, queue="slow"
    )
    running = services.enqueue_job(spec=spec)
    failed = failed_job("failing")
    start_workers("-q", "slow", "-w", "1")
    wait_until(started.exists, timeout=30, message="the job did not start")

    page = browser_page
    sign_in(page, daphne, "otto", f"/jobs/{running.pk}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    expect(page.locator("#job-status")).to_have_text("Running")
    page.evaluate(WATCH_PAGE)
    # No check of the success toast here or below: it is lost when a live update replaces the button's
    # form before the action's own answer arrives (htmx fires HX-Trigger on the detached form).
    page.locator("#job-actions").get_by_role("button", name="Cancel").click()
    # The worker sees the request at its next check and ends the job; the page learns it live.
    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=30_000)
    expect(page.locator("#job-actions").get_by_role("button", name="Cancel")).to_have_count(0, timeout=WAIT)
    assert status_of(running.pk) == "cancelled"
    assert page.evaluate("window.jobdeckMark") == "same document"

    page.goto(f"{daphne}/jobs/{failed.pk}/")
    expect(page.locator("#job-status")).to_have_text("Failed")
    page.locator("#job-actions").get_by_role("button", name="Retry").click()
    expect(page.locator("#job-status")).to_have_text("Queued", timeout=WAIT)
    expect(page.locator(".timeline")).to_contain_text("manual retry · by otto", timeout=WAIT)
    assert status_of(failed.pk) == "queued"
    assert page.csp_errors == []


def test_bulk_retry_of_checked_failed_jobs_after_confirmation(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    first, second, unchecked = (failed_job("failing") for _ in range(3))
    make_user("otto", "operator")
    page = browser_page
    sign_in(page, daphne, "otto", "/jobs/?status=failed")
    rows = page.locator("#job-rows tr[data-job-id]")
    expect(rows).to_have_count(3)

    for job in (first, second):
        page.get_by_label(f"Select job {job.pk}").check()
    page.locator("#bulk-form").get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator("#confirm-text")).to_contain_text("Retry 2 jobs", timeout=WAIT)
    page.get_by_role("button", name="Yes, go ahead").click()

    page.wait_for_url(f"{daphne}/jobs/?status=failed")
    expect(page.locator("#toasts")).to_contain_text("2 of 2 job(s) queued again.", timeout=WAIT)
    expect(rows).to_have_count(1, timeout=WAIT)
    expect(page.locator(f"#job-{unchecked.pk}")).to_be_visible(timeout=WAIT)
    assert [status_of(job.pk) for job in (first, second, unchecked)] == ["queued", "queued", "failed"]
    assert page.csp_errors == []


def test_a_script_in_the_payload_is_shown_as_text(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    spec = services.JobSpec(task_name="tests.tasks.append_line", kwargs={"path": "/dev/null", "line": SCRIPT})
    job = services.enqueue_job(spec=spec)
    make_user("vera", "viewer")
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    sign_in(page, daphne, "vera", f"/jobs/{job.pk}/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    expect(page.locator("#job-payload")).to_contain_text(SCRIPT)
    assert page.locator("#job-payload script").count() == 0
    assert dialogs == []
    assert page.csp_errors == []  # an unescaped inline script would also be reported as blocked here


def test_live_indicator_reconnects_and_catches_up_after_the_server_socket_drops(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    """The drop is made by Playwright's WebSocket route, which proxies the page's socket to daphne: it
    closes both halves with 1001 "going away" (daphne's consumer disconnects; closing only that half does
    not reach the page). The reconnection is held in the route until the job has changed: in Playwright's
    sync API a route handler runs only inside a Playwright call, so the change is in the database first."""
    from playwright.sync_api import expect

    from jobs import services

    job = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="nobody"))
    make_user("vera", "viewer")
    page = browser_page
    servers: list[Any] = []

    def route(ws: Any) -> None:
        servers.append((ws, ws.connect_to_server()))

    page.route_web_socket("**/ws/**", route)
    sign_in(page, daphne, "vera", f"/jobs/{job.pk}/")
    state = page.locator("#live-state")
    expect(state).to_have_attribute("data-state", "live", timeout=WAIT)
    assert len(servers) == 1
    expect(page.locator("#job-status")).to_have_text("Queued")
    page.evaluate(WATCH_PAGE)

    cursor = page.locator("#live-cursor").get_attribute("data-event-id")
    page_side, server_side = servers[0]
    server_side.close(code=1001, reason="going away")
    page_side.close(code=1001, reason="going away")
    services.cancel_job(job_id=job.pk, actor="test")  # while the page has no socket
    page.wait_for_function("() => window.liveStates.includes('reconnecting')", timeout=WAIT)
    expect(state).to_have_attribute("data-state", "live", timeout=WAIT)
    assert len(servers) == 2
    assert f"after={cursor}" in servers[1][0].url  # it resumes from the last event it saw
    expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=WAIT)
    assert page.evaluate("window.jobdeckMark") == "same document"
    assert page.csp_errors == []
