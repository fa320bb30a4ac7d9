"""The queues page sets a queue's waiting limit and shows how full the queue is (a meter) and its
refused enqueues, refreshed by its poll. In a real browser, no console errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.conftest import make_user
from tests.dashboard.test_browser import browser_page, chromium, daphne  # noqa: F401 - fixtures
from tests.dashboard.test_browser_feel import sign_in

WAIT = 15_000  # ms


def test_queues_page_sets_the_waiting_limit_and_shows_the_fill_and_refusals(
    daphne: str,  # noqa: F811 - fixture
    browser_page: Any,  # noqa: F811 - fixture
) -> None:
    from playwright.sync_api import expect

    from jobs import services
    from jobs.exceptions import QueueFull
    from jobs.models import Queue
    from jobs.services import backpressure

    make_user("ada", superuser=True)
    spec = services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="mail")
    services.enqueue_job(spec=spec)
    page = browser_page
    sign_in(page, daphne, "ada", "/queues/")

    page.get_by_label("Waiting limit of mail").fill("4")
    page.get_by_label("When mail is full").select_option("block")
    page.get_by_label("Seconds an enqueue into a full mail waits").fill("2")
    page.locator("form[action$='/queues/mail/max-depth/'] button").click()

    expect(page.locator("main")).to_contain_text(
        "Queue mail: at most 4 waiting; new jobs past it wait up to 2 s.", timeout=WAIT
    )
    assert (Queue.objects.get(name="mail").max_depth, Queue.objects.get(name="mail").overflow) == (4, "block")
    row = page.locator("#queue-mail")
    expect(row.locator("meter")).to_have_attribute("value", "0.250")
    expect(row).to_contain_text("1 / 4")
    expect(row).to_contain_text("blocks 2 s")
    expect(page.get_by_label("Waiting limit of mail")).to_have_value("4")

    backpressure.forget_limits()  # the limit was set in the server's process
    services.enqueue_jobs(specs=[spec] * 3)
    with pytest.raises(QueueFull):
        services.enqueue_jobs(specs=[spec] * 2)  # full: block mode waits 2 s, then refuses
    expect(row).to_contain_text("4 / 4", timeout=WAIT)  # the table's poll
    expect(row.locator("meter")).to_have_attribute("value", "1.000")
    expect(row.locator("td.refused")).to_have_text("2")
    assert page.csp_errors == []
