"""The queues, workers and schedules pages: what they show, who may act, and their query counts."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jobs import services, states
from jobs.engine.workers import register_worker
from jobs.models import Job, Queue, Schedule, WorkerProcess
from jobs.services import schedule_upkeep, schedules
from jobs.status import Status

pytestmark = pytest.mark.django_db

PAGES = ["dashboard:queues", "dashboard:workers", "dashboard:schedules", "dashboard:failed"]


@pytest.mark.parametrize("page", PAGES)
def test_operations_pages_need_a_role(
    client: Client, outsider_client: Client, viewer_client: Client, page: str
) -> None:
    url = reverse(page)

    assert client.get(url)["Location"] == f"{reverse('dashboard:login')}?next={url}"
    assert outsider_client.get(url).status_code == 403
    response = viewer_client.get(url)
    assert response.status_code == 200
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode()) == []


def test_nav_links_to_every_page(viewer_client: Client) -> None:
    html = viewer_client.get(reverse("dashboard:queues")).content.decode()
    nav = re.search(r'<nav class="nav">(.*?)</nav>', html, re.S).group(1)

    for page in ["dashboard:overview", "dashboard:jobs", *PAGES]:
        assert f'href="{reverse(page)}"' in nav
    assert f'href="{reverse("dashboard:queues")}" aria-current="page"' in nav


# --- queues --------------------------------------------------------------------------------------


def test_queues_page_shows_counts_oldest_wait_paused_badge_and_limit(viewer_client: Client, make_job: Any) -> None:
    make_job(queue="mail")
    make_job(queue="mail")
    make_job(queue="media")
    services.pause_queue(name="media")
    services.set_queue_concurrency(name="mail", limit=4)

    html = viewer_client.get(reverse("dashboard:queues")).content.decode()

    mail = re.search(r'<tr id="queue-mail">(.*?)</tr>', html, re.S).group(1)
    media = re.search(r'<tr id="queue-media">(.*?)</tr>', html, re.S).group(1)
    assert "status=queued" in mail and ">2</a>" in mail and '<td class="num">4</td>' in mail
    assert "paused" in media and "paused" not in mail
    assert " ms</td>" in mail or " s</td>" in mail
    assert 'hx-trigger="every 5s"' in html  # the table refreshes itself
    assert 'id="queue-controls"' not in html  # a viewer gets no controls


def test_queues_table_partial_for_htmx_polling(viewer_client: Client, make_job: Any) -> None:
    make_job(queue="mail")

    html = viewer_client.get(reverse("dashboard:queues"), headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<section class="card" id="queue-table"')
    assert "<html" not in html and 'id="queue-mail"' in html


def test_operator_gets_no_queue_controls_and_a_forged_pause_is_refused(
    operator_client: Client, viewer_client: Client, make_job: Any
) -> None:
    make_job(queue="mail")

    assert 'id="queue-controls"' not in operator_client.get(reverse("dashboard:queues")).content.decode()
    for client in (operator_client, viewer_client):
        assert client.post(reverse("dashboard:queue_pause", args=["mail"])).status_code == 403
        assert client.post(reverse("dashboard:queue_concurrency", args=["mail"]), {"limit": "2"}).status_code == 403
    assert not Queue.objects.filter(name="mail").exists()


@pytest.mark.parametrize("persona", ["group_admin_client", "admin_client"])
def test_admin_pauses_resumes_and_limits_a_queue(request: Any, persona: str, make_job: Any) -> None:
    client = request.getfixturevalue(persona)
    make_job(queue="mail")
    page = client.get(reverse("dashboard:queues")).content.decode()
    assert reverse("dashboard:queue_pause", args=["mail"]) in page

    paused = client.post(reverse("dashboard:queue_pause", args=["mail"]), follow=True)
    assert Queue.objects.get(name="mail").paused
    assert "Queue mail paused" in paused.content.decode()
    assert reverse("dashboard:queue_resume", args=["mail"]) in paused.content.decode()

    client.post(reverse("dashboard:queue_resume", args=["mail"]))
    assert not Queue.objects.get(name="mail").paused

    client.post(reverse("dashboard:queue_concurrency", args=["mail"]), {"limit": "3"})
    assert Queue.objects.get(name="mail").concurrency == 3
    client.post(reverse("dashboard:queue_concurrency", args=["mail"]), {"limit": ""})
    assert Queue.objects.get(name="mail").concurrency is None


@pytest.mark.parametrize(
    ("limit", "error"),
    [("0", "concurrency must be a whole number of at least 1"), ("two", "concurrency must be a whole number")],
)
def test_bad_concurrency_limit_shows_the_error(
    group_admin_client: Client, make_job: Any, limit: str, error: str
) -> None:
    make_job(queue="mail")

    response = group_admin_client.post(
        reverse("dashboard:queue_concurrency", args=["mail"]), {"limit": limit}, follow=True
    )

    assert error in response.content.decode()
    assert not Queue.objects.filter(name="mail", concurrency__isnull=False).exists()


# --- workers -------------------------------------------------------------------------------------


def test_workers_page_shows_each_worker_its_running_jobs_and_flags_gone_ones(
    viewer_client: Client, make_job: Any
) -> None:
    fresh = register_worker(name="host-a:10:abc", queues=("mail", "default"), concurrency=4, worker_type="thread")
    stale = register_worker(name="host-b:20:def", queues=("default",), concurrency=2, worker_type="process")
    WorkerProcess.objects.filter(pk=stale.pk).update(last_heartbeat=timezone.now() - datetime.timedelta(minutes=5))
    job = make_job(queue="mail")
    assert states.claim_next(queues=["mail"], worker=fresh.name, lease_seconds=60).id == job.pk

    html = viewer_client.get(reverse("dashboard:workers")).content.decode()

    a = re.search(rf'<tr id="worker-{fresh.pk}">(.*?)</tr>', html, re.S).group(1)
    b = re.search(rf'<tr id="worker-{stale.pk}" class="gone">(.*?)</tr>', html, re.S).group(1)
    assert "host-a:10:abc" in a and "mail, default" in a and "1 of 4 (thread)" in a
    task_link = f'<a href="{reverse("dashboard:task_detail", args=["tests.tasks.add"])}" class="task-link">'
    assert f'href="{reverse("dashboard:job_detail", args=[job.pk])}">#{job.pk}</a> {task_link}tests.tasks.add' in a
    assert "gone" not in a
    assert "gone: lost" in b and "idle" in b and "0 of 2 (process)" in b
    assert 'hx-trigger="every 5s"' in html


def test_workers_page_reads_the_running_jobs_once(viewer_client: Client, make_job: Any) -> None:
    worker = register_worker(name="host-a:10:abc", queues=("mail",), concurrency=4, worker_type="thread")
    make_job(queue="mail")
    assert states.claim_next(queues=["mail"], worker=worker.name, lease_seconds=60) is not None

    with CaptureQueriesContext(connection) as captured:
        assert viewer_client.get(reverse("dashboard:workers")).status_code == 200

    running = [q["sql"] for q in captured if "running" in q["sql"] and "jobs_job" in q["sql"]]
    assert len(running) == 1, running


def test_stopped_workers_are_listed_as_gone_until_pruned(viewer_client: Client) -> None:
    worker = register_worker(name="gone:1:x", queues=("default",), concurrency=1, worker_type="thread")
    WorkerProcess.objects.filter(pk=worker.pk).update(stopped_at=timezone.now())

    html = viewer_client.get(reverse("dashboard:workers")).content.decode()
    row = re.search(rf'<tr id="worker-{worker.pk}" class="gone">(.*?)</tr>', html, re.S).group(1)
    assert "gone: stopped" in row


# --- schedules -----------------------------------------------------------------------------------


@pytest.fixture
def nightly(db: None) -> Schedule:
    return schedules.create_schedule(name="nightly", cron="30 2 * * *", task_name="tests.tasks.add", args=[1, 2])


@pytest.fixture
def from_settings(settings: Any, db: None) -> Schedule:
    settings.JOBDECK_SCHEDULES = [{"name": "coded", "cron": "*/5 * * * *", "task_name": "tests.tasks.add"}]
    schedule_upkeep.sync_code_schedules()
    return Schedule.objects.get(name="coded")


def test_schedules_page_shows_cron_in_words_next_last_run_and_source(
    viewer_client: Client, nightly: Schedule, from_settings: Schedule
) -> None:
    html = viewer_client.get(reverse("dashboard:schedules")).content.decode()

    row = re.search(rf'<tr id="schedule-{nightly.pk}">(.*?)</tr>', html, re.S).group(1)
    coded = re.search(rf'<tr id="schedule-{from_settings.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "at 02:30 every day" in row and "30 2 * * *" in row and "UTC" in row
    assert "<time" in row  # the next run
    assert "Database" in row and "Settings" in coded and "every 5 minutes" in coded
    assert "Run now" not in html and "Disable" not in html  # a viewer


def test_operator_runs_a_schedule_now_but_cannot_disable_it(operator_client: Client, nightly: Schedule) -> None:
    html = operator_client.get(reverse("dashboard:schedules")).content.decode()
    assert reverse("dashboard:schedule_run_now", args=[nightly.pk]) in html
    assert reverse("dashboard:schedule_disable", args=[nightly.pk]) not in html

    response = operator_client.post(reverse("dashboard:schedule_run_now", args=[nightly.pk]), follow=True)

    job = Job.objects.get()
    assert (job.task_name, job.args, job.status) == ("tests.tasks.add", [1, 2], Status.QUEUED)
    assert f"Job {job.pk} enqueued from the schedule." in response.content.decode()
    assert operator_client.post(reverse("dashboard:schedule_disable", args=[nightly.pk])).status_code == 403
    assert Schedule.objects.get(pk=nightly.pk).enabled


def test_admin_disables_and_enables_a_database_schedule(group_admin_client: Client, nightly: Schedule) -> None:
    html = group_admin_client.get(reverse("dashboard:schedules")).content.decode()
    assert reverse("dashboard:schedule_disable", args=[nightly.pk]) in html

    group_admin_client.post(reverse("dashboard:schedule_disable", args=[nightly.pk]))
    disabled = Schedule.objects.get(pk=nightly.pk)
    assert (disabled.enabled, disabled.next_run_at) == (False, None)
    assert (
        reverse("dashboard:schedule_enable", args=[nightly.pk])
        in group_admin_client.get(reverse("dashboard:schedules")).content.decode()
    )

    group_admin_client.post(reverse("dashboard:schedule_enable", args=[nightly.pk]))
    enabled = Schedule.objects.get(pk=nightly.pk)
    assert enabled.enabled and enabled.next_run_at is not None


def test_settings_schedule_offers_no_enable_disable_and_a_forged_disable_is_refused(
    group_admin_client: Client, from_settings: Schedule
) -> None:
    html = group_admin_client.get(reverse("dashboard:schedules")).content.decode()
    assert reverse("dashboard:schedule_disable", args=[from_settings.pk]) not in html
    assert reverse("dashboard:schedule_run_now", args=[from_settings.pk]) in html

    response = group_admin_client.post(reverse("dashboard:schedule_disable", args=[from_settings.pk]), follow=True)

    assert Schedule.objects.get(pk=from_settings.pk).enabled
    assert "JOBDECK_SCHEDULES" in response.content.decode() or "settings" in response.content.decode()


def test_schedule_actions_on_a_missing_schedule_are_404(group_admin_client: Client) -> None:
    assert group_admin_client.post(reverse("dashboard:schedule_run_now", args=[999])).status_code == 404
    assert group_admin_client.post(reverse("dashboard:schedule_disable", args=[999])).status_code == 404


def test_viewer_forged_run_now_is_refused(viewer_client: Client, nightly: Schedule) -> None:
    assert viewer_client.post(reverse("dashboard:schedule_run_now", args=[nightly.pk])).status_code == 403
    assert not Job.objects.exists()


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 12])
def test_operations_page_query_counts_do_not_grow(
    group_admin_client: Client, make_job: Any, django_assert_max_num_queries: Any, size: int
) -> None:
    for n in range(size):
        queue = f"q{n}"
        make_job(queue=queue)
        services.set_queue_concurrency(name=queue, limit=n + 1)
        services.set_queue_max_depth(name=queue, max_depth=100)  # their depths: one statement more
        worker = register_worker(name=f"w{n}", queues=(queue,), concurrency=2, worker_type="thread")
        states.claim_next(queues=[queue], worker=worker.name, lease_seconds=60)
        schedules.create_schedule(name=f"s{n}", cron=f"{n} * * * *", task_name="tests.tasks.add", args=[1, 2])
    group_admin_client.get(reverse("dashboard:queues"))

    # session + user + groups, then the page's reads.
    # session + user + groups, queue names, capped counts (+ savepoint, SET LOCAL, release on
    # PostgreSQL), oldest waiting, queue settings, the limited queues' depths, refused enqueues;
    # the Limits section: the rate limits (none here; one or two more per limit), the busiest keys
    with django_assert_max_num_queries(14):
        assert group_admin_client.get(reverse("dashboard:queues")).status_code == 200
    with django_assert_max_num_queries(6):  # workers, running jobs (twice: ids, then ids with tasks)
        assert group_admin_client.get(reverse("dashboard:workers")).status_code == 200
    with django_assert_max_num_queries(4):  # schedules
        assert group_admin_client.get(reverse("dashboard:schedules")).status_code == 200
