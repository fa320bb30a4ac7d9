"""Every dashboard page and state audited with axe-core (WCAG 2.0/2.1 A and AA rules) in Debian's Chromium,
in the light and the dark theme, on a desktop and a phone screen. Any serious or critical violation fails.

axe-core is vendored from npm (static/vendor/axe-core-*.min.js, pinned in scripts/vendor.sh) and injected
by Playwright (a DevTools evaluation, which the page's CSP does not apply to: no page of ours loads it).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from tests.conftest import ROOT
from tests.dashboard.conftest import make_user, run_job
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

AXE = next((Path(ROOT) / "static" / "vendor").glob("axe-core-*.min.js"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
# Colours and markup do not depend on the database: the audit runs once, in the SQLite pass of the suite.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")), reason="the accessibility audit runs in the SQLite pass only"
)
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ["light", "dark"]


# Swagger UI (the API docs page) puts its copy and expand buttons inside each operation's summary button:
# its own markup, which our stylesheet cannot change. Every other rule holds there too.
SWAGGER_MARKUP = {"nested-interactive": {"enabled": False}}


def audit(page: Any, *, rules: dict[str, Any] | None = None) -> list[str]:
    """Run axe on the page as it is now; return one line per serious or critical violation and node."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"], "rules": rules or {}}
    results = page.evaluate("options => axe.run(document, options)", options)
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            found.append(f"{violation['id']} ({violation['impact']}) at {json.dumps(node['target'])}: {summary}")
    return found


def every_state(base: str) -> dict[str, str]:
    """Jobs, queues, workers and schedules in every state a page can show; returns page name -> path."""
    from jobs import services, states
    from jobs.engine.workers import register_worker
    from jobs.services import schedules

    def enqueue(queue: str = "default", **options: Any) -> Any:
        spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue=queue, **options)
        return services.enqueue_job(spec=spec)

    done = run_job(enqueue("mail").pk, to="done")
    failed = run_job(enqueue("mail", max_attempts=1).pk, to="failed", error="boom")
    retrying = run_job(enqueue("mail", max_attempts=3).pk, to="failed", error="once")
    running = run_job(enqueue("media").pk, to="running")
    cancelling = run_job(enqueue("media").pk, to="running")
    services.cancel_job(job_id=cancelling.pk, actor="test")  # running: "cancel requested"
    cancelled = enqueue("media")
    services.cancel_job(job_id=cancelled.pk, actor="test")
    scheduled = enqueue("later", run_at=timezone.now() + datetime.timedelta(hours=2))
    queued = enqueue("media")
    services.pause_queue(name="media")
    # A workflow with a failed parent, the child its failure cancelled and one that runs anyway.
    flow_parent = run_job(enqueue("flow", max_attempts=1).pk, to="failed", error="boom")
    enqueue("flow", after=[flow_parent.pk])
    enqueue("flow", after=[flow_parent.pk], after_failure="run")
    states.promote_due()
    register_worker(name="host-1:123", queues=("mail", "media"), concurrency=2, worker_type="thread")
    schedules.create_schedule(name="nightly", cron="30 2 * * *", task_name="tests.tasks.add", args=[1, 2])
    schedules.create_schedule(name="off", cron="0 * * * *", task_name="tests.tasks.add", args=[1, 2], enabled=False)

    pages = {
        "overview": "/",
        "jobs": "/jobs/",
        "failed": "/failed/",
        "queues": "/queues/",
        "workers": "/workers/",
        "schedules": "/schedules/",
        "search with no match": "/jobs/?q=nothing-matches-this",
        "bad search": "/jobs/?task=nope",
        "missing job": "/jobs/999999999/",
        "tasks": "/tasks/",
        "task": "/tasks/tests.tasks.add/",
        "task with no jobs": "/tasks/tests.tasks.with_options/",
        "missing task": "/tasks/no.such.task/",
        "workflow": f"/jobs/{flow_parent.pk}/workflow/",
    }
    for status in ["scheduled", "queued", "running", "retrying", "done", "failed", "cancelled"]:
        pages[f"jobs {status}"] = f"/jobs/?status={status}"
    for name, job in [
        ("done", done),
        ("failed", failed),
        ("retrying", retrying),
        ("running", running),
        ("cancel requested", cancelling),
        ("cancelled", cancelled),
        ("scheduled", scheduled),
        ("queued", queued),
    ]:
        pages[f"job {name}"] = f"/jobs/{job.pk}/"
    return pages


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_every_page_and_state_has_no_serious_accessibility_violation_in_either_theme(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    screen: str,
) -> None:
    page = browser_page
    page.set_viewport_size(SCREENS[screen])
    make_user("ada", superuser=True)
    pages = every_state(daphne)
    # A page that answers 400 or 404 is audited too; the browser logs the status, nothing else.
    page.expected_errors.extend(["status of 400", "status of 404"])

    problems: list[str] = []
    for theme in THEMES:
        page.context.add_cookies([{"name": "jobdeck_theme", "value": theme, "url": daphne}])
        page.context.clear_cookies(name="sessionid")
        page.goto(f"{daphne}/login/")
        problems += [f"{theme} login: {line}" for line in audit(page)]
        sign_in(page, daphne, "ada", "/")
        for name, path in pages.items():
            page.goto(f"{daphne}{path}")
            problems += [f"{theme} {name} ({path}): {line}" for line in audit(page)]
        # The keyboard help dialog and a bulk confirmation are states of their own.
        page.goto(f"{daphne}/jobs/?status=failed")
        page.keyboard.press("?")
        problems += [f"{theme} shortcuts dialog: {line}" for line in audit(page)]
        page.keyboard.press("Escape")
        page.locator("#job-rows input[name=ids]").first.check()
        page.locator("#bulk-form button[value=retry]").click()
        page.locator("main h1", has_text="Retry 1 job?").wait_for()
        problems += [f"{theme} bulk confirmation: {line}" for line in audit(page)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_sign_in_error_and_api_pages_have_no_serious_accessibility_violation_in_either_theme(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    screen: str,
) -> None:
    page = browser_page
    page.set_viewport_size(SCREENS[screen])
    make_user("nobody")  # signed in, but in no dashboard group: the 403 page
    make_user("ada", superuser=True)
    page.expected_errors.extend(["status of 403", "status of 429"])

    problems: list[str] = []
    for theme in THEMES:
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "jobdeck_theme", "value": theme, "url": daphne}])
        # A wrong password: the form again, with its error.
        page.goto(f"{daphne}/login/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "wrong")
        page.get_by_role("button", name="Sign in").click()
        page.locator(".toast.error").wait_for()
        problems += [f"{theme} login error: {line}" for line in audit(page)]
        # Guessing until the name is locked: the locked-out page.
        for _ in range(10):
            if page.locator("#locked-out-reason").count():
                break
            page.fill("#id_username", f"mallory-{theme}")
            page.fill("#id_password", "guess")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        assert page.locator("#locked-out-reason").count(), "the sign-in was never locked"
        problems += [f"{theme} locked out: {line}" for line in audit(page)]
        AccessAttempt.objects.all().delete()  # the lock covers this address too: lift it
        sign_in(page, daphne, "nobody", "/login/")
        page.goto(f"{daphne}/")
        problems += [f"{theme} 403: {line}" for line in audit(page)]
        page.context.clear_cookies(name="sessionid")
        sign_in(page, daphne, "ada", "/")
        page.goto(f"{daphne}/api/v1/docs")
        page.locator(".swagger-ui .opblock").first.wait_for()
        page.locator("#servers[aria-label]").wait_for()
        problems += [f"{theme} API docs: {line}" for line in audit(page, rules=SWAGGER_MARKUP)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("theme", THEMES)
def test_keyboard_focus_shows_our_own_ring_in_either_theme(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
    theme: str,
) -> None:
    page = browser_page
    make_user("ada", superuser=True)
    page.context.add_cookies([{"name": "jobdeck_theme", "value": theme, "url": daphne}])
    sign_in(page, daphne, "ada", "/jobs/")
    focus = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--focus').trim()")
    seen = set()
    for _ in range(12):  # the skip link, the bar's links and buttons, the filters
        page.keyboard.press("Tab")
        style = page.evaluate(
            """() => { const el = document.activeElement, s = getComputedStyle(el);
                return {tag: el.tagName, style: s.outlineStyle, width: s.outlineWidth, color: s.outlineColor}; }"""
        )
        assert style["style"] == "solid" and style["width"] == "2px", style
        seen.add(style["color"])
        assert style["tag"] != "BODY"
    # One ring colour, the theme's --focus (computed styles give rgb()).
    r, g, b = (int(focus[i : i + 2], 16) for i in (1, 3, 5))
    assert seen == {f"rgb({r}, {g}, {b})"}
