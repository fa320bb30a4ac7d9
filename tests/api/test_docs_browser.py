"""The API docs page (/api/v1/docs) in a real browser: Swagger UI from our vendored files, no request to any
other host, no console error and no CSP violation (Debian's Chromium via Playwright, against daphne)."""

from __future__ import annotations

from typing import Any

from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures


def test_docs_page_renders_the_operations_offline_under_the_csp(daphne: str, browser_page: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = browser_page
    foreign: list[str] = []
    errors: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(daphne + "/") or route.request.url.startswith("data:"):
            route.continue_()
        else:  # as with no internet: anything not on the test server fails, and is recorded
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    response = page.goto(f"{daphne}/api/v1/docs")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/jobs/{job_id}/cancel")).to_have_count(1)
    assert page.locator(".opblock").count() >= 15
    page.wait_for_load_state("networkidle")

    assert foreign == []
    assert errors == []
    assert page.csp_errors == []
