"""Job admin behaviour: actions go through the services, pages are read-only, search and filters find jobs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobEvent, Queue
from jobs.status import Status
from tests.admin.conftest import change, changelist


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client: Client, action: str, jobs: list[Job]) -> Any:
    return client.post(changelist("job"), {"action": action, "_selected_action": [j.pk for j in jobs], "index": 0})


def status_of(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def test_cancel_action_cancels_waiting_jobs_and_reports_the_skipped(
    admin_client: Client, job_in: Callable[..., Job]
) -> None:
    queued, done = job_in(Status.QUEUED), job_in(Status.DONE)

    response = act(admin_client, "cancel_selected", [queued, done])

    assert response.status_code == 302
    assert (status_of(queued), status_of(done)) == (Status.CANCELLED, Status.DONE)
    assert messages_of(response) == [
        f"1 cancelled (running ones when their worker stops), 1 skipped: Job {done.pk} is done and cannot become"
        " cancelled"
    ]
    assert JobEvent.objects.filter(job=queued).last().actor == "admin"  # type: ignore[union-attr]


def test_cancel_action_flags_a_running_job(admin_client: Client, job_in: Callable[..., Job]) -> None:
    running = job_in(Status.RUNNING)

    act(admin_client, "cancel_selected", [running])

    job = Job.objects.get(pk=running.pk)
    assert (job.status, job.cancel_requested_at is not None) == (Status.RUNNING, True)


def test_retry_action_queues_finished_jobs_again(admin_client: Client, job_in: Callable[..., Job]) -> None:
    failed, queued = job_in(Status.FAILED), job_in(Status.QUEUED)

    response = act(admin_client, "retry_selected", [failed, queued])

    assert (status_of(failed), status_of(queued)) == (Status.QUEUED, Status.QUEUED)
    assert messages_of(response) == [f"1 queued again, 1 skipped: Job {queued.pk} is queued and cannot become queued"]
    assert JobEvent.objects.filter(job=failed).last().reason == "manual retry"  # type: ignore[union-attr]


def test_run_now_action_makes_a_scheduled_job_runnable(admin_client: Client, job_in: Callable[..., Job]) -> None:
    scheduled = job_in(Status.SCHEDULED)

    response = act(admin_client, "run_selected_now", [scheduled])

    job = Job.objects.get(pk=scheduled.pk)
    assert job.status == Status.QUEUED and job.run_at <= timezone.now()
    assert messages_of(response) == ["1 runnable now, 0 skipped"]


def test_job_page_offers_the_actions_and_runs_them_on_that_job(
    admin_client: Client, job_in: Callable[..., Job]
) -> None:
    done = job_in(Status.DONE)
    page = admin_client.get(change("job", done.pk)).content.decode()

    response = admin_client.post(
        change("job", done.pk), {"CHANGE_FORM-action": "retry_selected", "_selected_action": done.pk, "index": 0}
    )

    assert 'value="retry_selected"' in page and "Retry job" in page
    assert response.status_code == 302 and response["Location"] == change("job", done.pk)
    assert status_of(done) == Status.QUEUED


def test_job_page_is_read_only_and_shows_data_and_history(admin_client: Client, job_in: Callable[..., Job]) -> None:
    job = job_in(Status.DONE, kwargs={"b": 2}, args=[1])

    page = admin_client.get(change("job", job.pk)).content.decode()
    post = admin_client.post(change("job", job.pk), {"task_name": "tests.tasks.other", "_save": "Save"})

    assert 'name="_save"' not in page
    assert "&quot;sum&quot;: 3" in page and "&quot;b&quot;: 2" in page  # pretty result and payload
    assert "queued → running" in page and f"?job={job.pk}" in page  # events, and links to the full lists
    assert post.status_code == 403
    assert Job.objects.get(pk=job.pk).task_name == "tests.tasks.add"


def test_jobs_cannot_be_added_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get("/admin/jobs/job/add/").status_code == 403


def test_only_a_finished_job_can_be_deleted_with_its_history(admin_client: Client, job_in: Callable[..., Job]) -> None:
    queued, done = job_in(Status.QUEUED), job_in(Status.DONE)

    refused = admin_client.post(f"/admin/jobs/job/{queued.pk}/delete/", {"post": "yes"})
    confirm = admin_client.get(f"/admin/jobs/job/{done.pk}/delete/")
    deleted = admin_client.post(f"/admin/jobs/job/{done.pk}/delete/", {"post": "yes"})

    assert refused.status_code == 403 and Job.objects.filter(pk=queued.pk).exists()
    assert confirm.status_code == 200 and "Job events: 3" in confirm.content.decode()
    assert deleted.status_code == 302
    assert not Job.objects.filter(pk=done.pk).exists() and not JobEvent.objects.filter(job_id=done.pk).exists()


def test_bulk_delete_is_not_offered(admin_client: Client, job_in: Callable[..., Job]) -> None:
    job_in(Status.DONE)

    page = admin_client.get(changelist("job")).content.decode()

    assert "delete_selected" not in page
    assert 'value="cancel_selected"' in page


@pytest.fixture
def viewer_client(django_user_model: Any) -> Client:
    viewer = django_user_model.objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client = Client()
    client.force_login(viewer)
    return client


def test_a_viewer_sees_jobs_but_no_actions(viewer_client: Client, job_in: Callable[..., Job]) -> None:
    queued = job_in(Status.QUEUED)

    page = viewer_client.get(changelist("job")).content.decode()
    response = act(viewer_client, "cancel_selected", [queued])

    assert str(queued.pk) in page and "cancel_selected" not in page
    assert response.status_code == 200  # refused as "no action selected"
    assert status_of(queued) == Status.QUEUED


def listed(client: Client, query: str) -> list[int]:
    response = client.get(changelist("job") + query)
    assert response.status_code == 200
    return [job.pk for job in response.context["cl"].result_list]


def test_search_finds_an_id_exactly(admin_client: Client, make_job: Callable[..., Job]) -> None:
    jobs = [make_job() for _ in range(12)]

    assert listed(admin_client, f"?q={jobs[1].pk}") == [jobs[1].pk]
    assert listed(admin_client, f"?q=%23{jobs[1].pk}") == [jobs[1].pk]  # "#123"
    assert listed(admin_client, "?q=99999999999999999999999") == []


def test_search_finds_a_task_by_full_name_prefix_or_function_name(
    admin_client: Client, make_job: Callable[..., Job]
) -> None:
    add = make_job("tests.tasks.add")
    line = make_job("tests.tasks.append_line", args=["/dev/null", "x"])

    assert listed(admin_client, "?q=tests.tasks.add") == [add.pk]
    assert listed(admin_client, "?q=tests.tasks.app") == [line.pk]
    assert listed(admin_client, "?q=append") == [line.pk]
    assert listed(admin_client, "?q=tests.tasks.a") == [line.pk, add.pk]
    assert listed(admin_client, "?q=ghost") == []


def test_filters_offer_queues_and_tasks_without_reading_the_job_table(
    admin_client: Client, make_job: Callable[..., Job]
) -> None:
    Queue.objects.create(name="emails", paused=True)
    job = make_job(queue="only-one-job-uses-this")

    page = admin_client.get(changelist("job")).content.decode()

    assert "?queue=emails" in page and "?queue=default" in page  # queue rows and the tasks' queues
    assert "?queue=only-one-job-uses-this" not in page  # a queue only some job uses is not looked up with DISTINCT
    assert "?task=tests.tasks.add" in page and "?status__exact=failed" in page
    assert listed(admin_client, "?queue=only-one-job-uses-this") == [job.pk]
    assert listed(admin_client, "?queue=only-one-job-uses-this&status__exact=done") == []
    assert listed(admin_client, "?task=tests.tasks.add") == [job.pk]


def test_the_list_shows_and_filters_by_task_version(admin_client: Client, make_job: Callable[..., Job]) -> None:
    from jobs.engine.workers import register_worker

    register_worker(name="h:1:a", queues=("default",), concurrency=1, worker_type="thread", tasks=["tests.tasks.add@3"])
    v2 = make_job(version="2")
    make_job(version="3")
    plain = make_job()

    page = admin_client.get(changelist("job")).content.decode()

    assert "?version=3" in page  # a live worker's version, not read from the job table
    assert "tests.tasks.add@2" in page
    assert listed(admin_client, "?version=2") == [v2.pk]
    assert plain.pk not in listed(admin_client, "?version=3")


def test_the_job_page_shows_every_option_the_job_carries(admin_client: Client, make_job: Callable[..., Job]) -> None:
    job = make_job(
        version="2",
        idempotency_key="invoice-9",
        unique_for=600,
        expires_in=60,
        max_snoozes=3,
        backoff={"kind": "constant", "base": 5, "jitter": 0},
    )

    page = admin_client.get(change("job", job.pk)).content.decode()

    for label in ("Task version", "Retry policy", "Snoozes", "Unique for", "Unique until", "Expires at", "Timeout"):
        assert f"<label>{label}:</label>" in page, label
    assert "invoice-9" in page and "&quot;max_snoozes&quot;: 3" in page


def test_job_page_keeps_the_sites_csp_no_inline_style_or_script(
    admin_client: Client, job_in: Callable[..., Job]
) -> None:
    job = job_in(Status.DONE, kwargs={"b": 2}, args=[1])

    response = admin_client.get(change("job", job.pk))
    html = response.content.decode()

    assert "style-src 'self';" in response["Content-Security-Policy"]
    assert 'class="job-history"' in html and 'class="job-text"' in html
    assert "jobs_admin/jobs.css" in html
    assert " style=" not in html and "<style" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
