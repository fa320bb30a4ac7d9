"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a daphne subprocess and a
real `runworkers` subprocess on the test database.

Without chromium the test is skipped, except in CI (CI=true or JOBDECK_REQUIRE_SERVICES=1), where that is
an error.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from tests.conftest import ROOT, wait_until, worker_env
from tests.dashboard.conftest import PASSWORD, make_user

REQUIRED = os.environ.get("CI") == "true" or os.environ.get("JOBDECK_REQUIRE_SERVICES") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if REQUIRED:
            pytest.fail("chromium is required here (apt-get install -y chromium; .ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daphne(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """A daphne process serving project.asgi on the test database; yields its base URL."""
    port = free_port()
    log = open(tmp_path / "daphne.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        cwd=ROOT,
        env=worker_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def answers() -> bool:
        assert proc.poll() is None, (tmp_path / "daphne.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout=30, message="daphne did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        wait_until(no_other_sessions, timeout=30, message="daphne's database sessions did not end")


def no_other_sessions() -> bool:
    """On PostgreSQL, whether the server has ended every other session on the test database (it does so
    shortly after a client process exits; the database cannot be dropped before)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] == 0


# Runs in every document before its own scripts: a CSP violation (securitypolicyviolation, which the
# browser may not log) is written to the console as an error, where the fixture below collects it.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium per test module: starting Playwright's driver and the browser took a good part of
    every browser test. Each test still gets a context of its own (browser_page), so no cookie, storage
    or open socket passes from one test to the next.
    """
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread from here to the module's end (so for the
    # module's other tests and fixtures too); the tests' own ORM calls are still sync. While that loop
    # runs the ORM keeps other connections than outside it: close the outside ones now, or PostgreSQL
    # counts them among the sessions that must end before a daphne fixture ends.
    connections.close_all()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                connections.close_all()
                browser.close()


@pytest.fixture
def browser_page(chromium: Any, tmp_path: Path) -> Iterator[Any]:
    """A Chromium page in a fresh context. Every console error, uncaught exception and CSP violation is
    collected in `page.console_errors` (CSP ones also in `page.csp_errors`), and any left at the end fails
    the test. A test that provokes one on purpose (a 403 page) lists a part of its text in
    `page.expected_errors`.
    """
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.console_errors = []  # type: ignore[attr-defined]
        page.csp_errors = []  # type: ignore[attr-defined]
        page.expected_errors = []  # type: ignore[attr-defined]

        def on_console(msg: Any) -> None:
            if "Content Security Policy" in msg.text or msg.text.startswith("CSP violation"):
                page.csp_errors.append(msg.text)  # type: ignore[attr-defined]
            if msg.type == "error":
                page.console_errors.append(msg.text)  # type: ignore[attr-defined]

        page.on("console", on_console)
        page.on("pageerror", lambda exc: page.console_errors.append(f"uncaught: {exc}"))  # type: ignore[attr-defined]
        try:
            yield page
            unexpected = [
                text
                for text in page.console_errors  # type: ignore[attr-defined]
                if not any(part in text for part in page.expected_errors)  # type: ignore[attr-defined]
            ]
            assert unexpected == [], f"the browser logged errors: {unexpected}"
        finally:
            # While Playwright's loop runs, the ORM keeps its connections per context: close the ones
            # the test made here, or PostgreSQL cannot drop the test database afterwards.
            connections.close_all()
    finally:
        context.close()


@pytest.mark.workers
def test_jobs_page_shows_a_job_go_queued_running_done_without_reload(
    daphne: str, start_workers: Any, browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from jobs import services

    page = browser_page
    make_user("otto", "operator")

    page.goto(f"{daphne}/jobs/")
    expect(page).to_have_url(f"{daphne}/login/?next=/jobs/")
    page.fill("#id_username", "otto")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{daphne}/jobs/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=15_000)

    # Remember every status the row shows, and mark the document: a reload would lose the mark.
    page.evaluate(
        """() => {
          window.jobdeckMark = "same document";
          window.seenStatuses = [];
          new MutationObserver(() => {
            document.querySelectorAll("#job-rows tr[data-status]").forEach((row) => {
              const last = window.seenStatuses[window.seenStatuses.length - 1];
              if (last !== row.dataset.status) window.seenStatuses.push(row.dataset.status);
            });
          }).observe(document.getElementById("job-rows"), {childList: true, subtree: true});
        }"""
    )

    job = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.stubborn_sleep", args=[2.0]))
    row = page.locator(f"#job-{job.pk}")
    expect(row).to_contain_text("Queued", timeout=15_000)

    start_workers("-q", "default", "-w", "1")
    expect(row).to_contain_text("Done", timeout=30_000)

    assert page.evaluate("window.jobdeckMark") == "same document"
    assert page.evaluate("window.seenStatuses") == ["queued", "running", "done"]
    assert page.csp_errors == []
    page.screenshot(path=str(tmp_path / "jobs.png"), full_page=True)
