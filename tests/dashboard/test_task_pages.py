"""The tasks page and a page per task: what they show, roles, 404s, polling, links from every page
that names a task, and their query counts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobs import registry, task_stats
from jobs.services import schedules
from jobs.status import Status
from tests.task_helpers import finish_job, live_worker

pytestmark = pytest.mark.django_db

ADD = "tests.tasks.add"


@pytest.fixture(autouse=True)
def _fresh_figures() -> None:
    task_stats.reset()


def task_url(name: str = ADD) -> str:
    return reverse("dashboard:task_detail", args=[name])


@pytest.mark.parametrize("url", [reverse("dashboard:tasks"), task_url()])
def test_task_pages_need_a_role(client: Client, outsider_client: Client, viewer_client: Client, url: str) -> None:
    assert client.get(url)["Location"] == f"{reverse('dashboard:login')}?next={url}"
    assert outsider_client.get(url).status_code == 403
    response = viewer_client.get(url)
    assert response.status_code == 200
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode()) == []


def test_tasks_page_lists_every_registered_task_with_its_figures(viewer_client: Client, make_job: Any) -> None:
    finish_job(make_job)
    finish_job(make_job, to=Status.FAILED, error="builtins.ValueError: boom")

    html = viewer_client.get(reverse("dashboard:tasks")).content.decode()

    row = re.search(r'<tr id="task-teststasksadd">(.*?)</tr>', html, re.S).group(1)
    assert f'href="{task_url()}"' in row
    assert "50%" in row  # success rate
    assert f'href="{reverse("dashboard:jobs")}?status=failed&amp;task=tests.tasks.add"' in row
    assert f'href="{task_url("tests.tasks.with_options")}"' in html  # every registered task is listed


def test_task_page_shows_figures_errors_schedules_versions_and_workers(viewer_client: Client, make_job: Any) -> None:
    finish_job(make_job)
    finish_job(make_job, to=Status.FAILED, error="builtins.KeyError: id 7 missing")
    schedules.create_schedule(name="nightly", cron="0 3 * * *", task_name=ADD, args=[1, 2])
    live_worker("w-new", [f"{ADD}@2"])
    live_worker("w-old", None)

    html = viewer_client.get(task_url()).content.decode()

    assert "<h1>Task add" in html
    assert re.search(r'id="task-success">50%', html)
    errors = re.search(r'<table class="grid" id="task-errors">(.*?)</table>', html, re.S).group(1)
    assert "builtins.KeyError" in errors and "id &lt;n&gt; missing" in errors
    assert 'id="task-versions">Versions: 2<' in html
    workers = re.search(r'id="task-workers">(.*?)</table>', html, re.S).group(1)
    assert "w-new" in workers and "version 2" in workers and "unknown (lists no tasks)" in workers
    assert "nightly" in re.search(r'id="task-schedules">(.*?)</table>', html, re.S).group(1)


def test_task_page_shows_every_option_the_task_sets(viewer_client: Client) -> None:
    from tests.api.test_task_detail import all_options

    registry.register(all_options)

    html = viewer_client.get(task_url("tests.api.test_task_detail.all_options")).content.decode()

    shown = re.search(r'id="task-options">(.*?)</dl>', html, re.S).group(1)
    text = re.sub(r"<[^>]+>", " ", shown)
    for fact in (
        "Version 2",
        "Max attempts 5",
        "linear, base 2.0 s, cap 30.0 s, jitter 0.0",
        "Retry on builtins.TimeoutError",
        "Discard on builtins.KeyError",
        "Max snoozes 4",
        "Unique for 1.0 h",
        "Expires in 2 min",
        "on_failure tests.api.test_task_detail.note, tests.retry_tasks.record_hook",
    ):
        assert fact in " ".join(text.split()), fact


def test_tasks_page_lists_a_task_only_a_live_worker_has(viewer_client: Client) -> None:
    live_worker("w-newer", ["newer.code.reindex@3"])

    html = viewer_client.get(reverse("dashboard:tasks")).content.decode()

    assert f'href="{task_url("newer.code.reindex")}"' in html
    assert "workers only" in html


def test_task_page_by_short_name_and_its_htmx_poll_partial(viewer_client: Client) -> None:
    full = viewer_client.get(task_url("add"))
    partial = viewer_client.get(task_url(), headers={"HX-Request": "true"})

    assert "tests.tasks.add" in full.content.decode()
    body = partial.content.decode()
    assert body.strip().startswith('<div id="task-live"') and "<html" not in body
    assert 'hx-trigger="every 5s"' in body


def test_unknown_task_is_the_404_page(viewer_client: Client) -> None:
    response = viewer_client.get(task_url("no.such.task"))

    assert response.status_code == 404
    assert "Task not found" in response.content.decode()


def test_every_page_that_names_a_task_links_to_its_page(viewer_client: Client, make_job: Any) -> None:
    failed = finish_job(make_job, to=Status.FAILED, error="builtins.ValueError: boom")
    schedules.create_schedule(name="nightly", cron="0 3 * * *", task_name=ADD, args=[1, 2])
    link = f'href="{task_url()}"'

    pages = [
        reverse("dashboard:overview"),
        reverse("dashboard:jobs"),
        reverse("dashboard:job_detail", args=[failed.pk]),
        reverse("dashboard:failed"),
        reverse("dashboard:schedules"),
    ]
    for page in pages:
        assert link in viewer_client.get(page).content.decode(), page


def test_nav_links_to_the_tasks_page(viewer_client: Client) -> None:
    html = viewer_client.get(task_url()).content.decode()
    nav = re.search(r'<nav class="nav">(.*?)</nav>', html, re.S).group(1)

    assert f'href="{reverse("dashboard:tasks")}" aria-current="page"' in nav


def test_task_page_query_count_does_not_grow_with_jobs(
    viewer_client: Client, make_job: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(30):
        finish_job(make_job)
    task_stats.reset()
    # Session and user, then the figures (sample, schedules, workers).
    with django_assert_max_num_queries(6):
        viewer_client.get(task_url())
