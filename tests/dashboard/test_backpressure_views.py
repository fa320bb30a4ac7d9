"""The queues page and the overview show each queue's waiting limit (a meter), how full it is and its
refused enqueues; admins set the limit on the queues page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobs import services
from jobs.exceptions import QueueFull
from jobs.models import Queue

pytestmark = pytest.mark.django_db


def row(html: str, queue: str) -> str:
    match = re.search(rf'<tr id="queue-{queue}">(.*?)</tr>', html, re.S)
    assert match, html
    return match.group(1)


def test_queues_page_shows_the_limit_fill_and_refusals(viewer_client: Client, make_job: Any) -> None:
    services.set_queue_max_depth(name="mail", max_depth=4, overflow="block", block_seconds=2)
    make_job(queue="mail")
    services.set_queue_max_depth(name="mail", overflow="refuse")
    with pytest.raises(QueueFull):
        services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="mail")] * 4)
    make_job(queue="media")

    html = viewer_client.get(reverse("dashboard:queues")).content.decode()

    mail = row(html, "mail")
    assert '<meter min="0" max="1" low="0.5" high="0.8" optimum="0" value="0.250"' in mail
    assert "1 / 4" in mail and '<span class="status-failed">4</span>' in mail
    assert "<meter" not in row(html, "media")


def test_overview_shows_the_refusals_too(viewer_client: Client, make_job: Any) -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    make_job(queue="mail")
    with pytest.raises(QueueFull):
        make_job(queue="mail")

    html = viewer_client.get(reverse("dashboard:overview")).content.decode()

    assert '<span class="status-failed">1</span>' in row(html, "mail")


def test_admin_sets_and_clears_the_waiting_limit(group_admin_client: Client, make_job: Any) -> None:
    make_job(queue="mail")
    url = reverse("dashboard:queue_max_depth", args=["mail"])

    page = group_admin_client.post(url, {"max_depth": "10", "overflow": "block", "block_seconds": "3"}, follow=True)

    assert "Queue mail: at most 10 waiting; new jobs past it wait up to 3 s." in page.content.decode()
    queue = Queue.objects.get(name="mail")
    assert (queue.max_depth, queue.overflow, queue.block_seconds) == (10, "block", 3.0)
    group_admin_client.post(url, {"max_depth": "", "overflow": "refuse", "block_seconds": "3"})
    assert Queue.objects.get(name="mail").max_depth is None


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"max_depth": "0"}, "max_depth must be a whole number between 1 and 100000000"),
        ({"max_depth": "ten"}, "max_depth must be a whole number of at least 1"),
        ({"max_depth": "5", "block_seconds": "soon"}, "block_seconds must be a number of seconds"),
    ],
)
def test_bad_waiting_limit_shows_the_error(group_admin_client: Client, form: dict[str, str], error: str) -> None:
    response = group_admin_client.post(reverse("dashboard:queue_max_depth", args=["mail"]), form, follow=True)

    assert error in response.content.decode()
    assert not Queue.objects.filter(max_depth__isnull=False).exists()


def test_viewer_cannot_set_the_waiting_limit(viewer_client: Client) -> None:
    response = viewer_client.post(reverse("dashboard:queue_max_depth", args=["mail"]), {"max_depth": "3"})

    assert response.status_code == 403
    assert not Queue.objects.exists()
