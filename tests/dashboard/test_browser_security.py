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
from tests.dashboard.test_browser import browser_page, daphne, free_port  # noqa: F401 - fixtures
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

    page.goto(other_app)  # same browser, same cookies: the user is still signed in
    page.wait_for_function("window.result !== 'pending'", timeout=WAIT)

    assert page.evaluate("window.result").startswith("closed")
    assert page.evaluate("window.received") == 0
