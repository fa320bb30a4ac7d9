"""The live sockets' security in a real browser (Debian's Chromium via Playwright, against daphne): a page served
on another port of the same host cannot open them with the signed-in user's cookie, and signing out closes the
sockets a page has open."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne, free_port  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms

# Served by "another app" on another port of 127.0.0.1: it tries the dashboard's socket with the user's cookie.
OTHER_APP_PAGE = """<!doctype html>
<script src="hijack.js"></script>
"""
HIJACK_JS = """
window.result = "pending";
window.received = 0;
var ws = new WebSocket("WS_URL");
ws.onopen = function () { window.result = "open"; };
ws.onmessage = function () { window.received += 1; };
ws.onclose = function (event) { if (window.result === "pending") window.result = "closed " + event.code; };
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        pass


@pytest.fixture
def other_app(tmp_path: Path, daphne: str) -> Iterator[str]:  # noqa: F811
    """A plain HTTP server on another port of 127.0.0.1, serving a page that opens the dashboard's socket."""
    root = tmp_path / "other-app"
    root.mkdir()
    (root / "index.html").write_text(OTHER_APP_PAGE)
    (root / "hijack.js").write_text(HIJACK_JS.replace("WS_URL", daphne.replace("http://", "ws://") + "/ws/jobs/"))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_open_the_socket_while_the_user_is_signed_in(
    daphne: str,  # noqa: F811
    browser_page: Any,  # noqa: F811
    other_app: str,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    make_user("vera", "viewer")
    sign_in(page, daphne, "vera", "/jobs/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)  # the cookie works

    assert page.csp_errors == []

    # The other app's page is refused on purpose (a 403 handshake), and has no favicon (a 404).
    page.expected_errors.extend(["Unexpected response code: 403", "404 (File not found)"])
    page.goto(other_app)  # same browser, same cookies: the user is still signed in
    page.wait_for_function("window.result !== 'pending'", timeout=WAIT)

    assert page.evaluate("window.result").startswith("closed")
    assert page.evaluate("window.received") == 0


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:  # noqa: F811
    """One Chromium profile (shared cookies) in which a test opens several tabs."""
    from django.db import connections

    context = chromium.new_context()
    try:
        yield context
    finally:
        connections.close_all()
        context.close()


def watched_tab(context: Any) -> Any:
    """A new tab that records console errors (CSP violations included) and the WebSockets it opens."""
    tab = context.new_page()
    tab.errors = []
    tab.sockets = []
    tab.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("websocket", lambda ws: tab.sockets.append(ws.url))
    return tab


def test_logging_out_in_another_tab_closes_the_pages_socket(daphne: str, browser_context: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    from jobs import services

    make_user("vera", "viewer")
    jobs_tab = watched_tab(browser_context)
    sign_in(jobs_tab, daphne, "vera", "/jobs/")
    expect(jobs_tab.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)

    other_tab = watched_tab(browser_context)
    other_tab.goto(f"{daphne}/jobs/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url(f"{daphne}/login/")

    label = jobs_tab.locator("#live-state")
    expect(label).to_have_attribute("data-state", "signed-out", timeout=WAIT)
    expect(label).to_contain_text("signed out")

    # Sign in again in the other tab (the shared cookie now holds a new session) and watch a new job arrive
    # there live: by then it has been sent to every open jobs page, and the signed-out page got nothing,
    # nor did it reconnect with the new cookie.
    sign_in(other_tab, daphne, "vera", "/jobs/")
    expect(other_tab.locator("#live-state")).to_have_attribute("data-state", "live", timeout=WAIT)
    job = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    expect(other_tab.locator(f"#job-{job.pk}")).to_be_visible(timeout=WAIT)

    assert jobs_tab.locator(f"#job-{job.pk}").count() == 0
    assert len(jobs_tab.sockets) == 1
    assert jobs_tab.locator("#live-state").get_attribute("data-state") == "signed-out"
    assert jobs_tab.errors == [] and other_tab.errors == []
