"""The dashboard's pages: what they show, their query counts, and who may see and act."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import path, reverse

from jobs.models import Job, JobEvent
from jobs.status import Status
from project import urls as project_urls
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db

PAGES = ["dashboard:overview", "dashboard:jobs"]


def page_urls(job_id: int) -> list[str]:
    return [reverse(name) for name in PAGES] + [reverse("dashboard:job_detail", args=[job_id])]


# --- sign-in and roles ---------------------------------------------------------------------------


def test_anonymous_user_is_sent_to_the_login_page_from_every_page(client: Client, make_job: Any) -> None:
    job = make_job()
    for url in page_urls(job.pk):
        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"] == f"{reverse('dashboard:login')}?next={url}"


def test_login_page_signs_a_viewer_in_and_returns_to_the_page_asked_for(client: Client, viewer: Any) -> None:
    from tests.dashboard.conftest import PASSWORD

    page = client.get(reverse("dashboard:login"))
    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.content.decode()

    response = client.post(
        reverse("dashboard:login"), {"username": "vera", "password": PASSWORD, "next": reverse("dashboard:jobs")}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:jobs")
    assert client.get(reverse("dashboard:jobs")).status_code == 200


def test_logout_signs_out_and_goes_to_the_login_page(viewer_client: Client) -> None:
    response = viewer_client.post(reverse("dashboard:logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:login")
    assert viewer_client.get(reverse("dashboard:overview")).status_code == 302


def test_signed_in_user_without_a_role_gets_403(outsider_client: Client, make_job: Any) -> None:
    job = make_job()
    for url in page_urls(job.pk):
        assert outsider_client.get(url).status_code == 403


def test_viewer_post_to_an_action_is_refused_and_changes_nothing(viewer_client: Client, make_job: Any) -> None:
    job = make_job()
    events = JobEvent.objects.count()

    cancel = viewer_client.post(reverse("dashboard:job_cancel", args=[job.pk]))
    bulk = viewer_client.post(reverse("dashboard:jobs_bulk"), {"action": "cancel", "ids": [job.pk]})

    assert (cancel.status_code, bulk.status_code) == (403, 403)
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED
    assert JobEvent.objects.count() == events


def test_anonymous_post_to_an_action_goes_to_login_and_changes_nothing(client: Client, make_job: Any) -> None:
    job = make_job()

    response = client.post(reverse("dashboard:job_cancel", args=[job.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("dashboard:login"))
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_action_without_csrf_token_is_refused(operator: Any, make_job: Any) -> None:
    job = make_job()
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(reverse("dashboard:job_cancel", args=[job.pk]))

    assert response.status_code == 403
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_viewer_sees_no_action_buttons(viewer_client: Client, make_job: Any) -> None:
    job = make_job()

    detail = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()
    jobs = viewer_client.get(reverse("dashboard:jobs")).content.decode()

    assert reverse("dashboard:job_cancel", args=[job.pk]) not in detail
    assert 'id="bulk-form"' not in jobs
    assert "read-only" in jobs


@pytest.mark.parametrize("persona", ["operator_client", "group_admin_client", "admin_client"])
def test_operator_admin_and_superuser_see_action_buttons(request: Any, persona: str, make_job: Any) -> None:
    client = request.getfixturevalue(persona)
    job = make_job()

    detail = client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert reverse("dashboard:job_cancel", args=[job.pk]) in detail


# --- pages ---------------------------------------------------------------------------------------


def test_every_page_sends_a_strict_content_security_policy_and_has_no_inline_script(
    viewer_client: Client, make_job: Any
) -> None:
    job = make_job()
    for url in [*page_urls(job.pk), reverse("dashboard:login")]:
        response = viewer_client.get(url)
        html = response.content.decode()

        assert "script-src 'self';" in response["Content-Security-Policy"]
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
        assert " style=" not in html and "<style" not in html


def _boom(request: Any) -> Any:
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom), *project_urls.urlpatterns]


@pytest.mark.urls(__name__)
def test_error_pages_carry_the_same_policy(outsider_client: Client, viewer_client: Client) -> None:
    """403, 404 and 500 pages are rendered outside any view, so only a middleware can give them the policy."""
    viewer_client.raise_request_exception = False
    page = viewer_client.get(reverse("dashboard:overview"))
    responses = {
        403: outsider_client.get(reverse("dashboard:overview")),
        404: viewer_client.get("/no-such-page/"),
        500: viewer_client.get("/boom/"),
    }
    for status, response in responses.items():
        assert response.status_code == status
        assert response["Content-Security-Policy"] == page["Content-Security-Policy"]
        assert "script-src 'self';" in response["Content-Security-Policy"]


def test_pages_load_vendored_scripts_never_a_cdn(viewer_client: Client) -> None:
    html = viewer_client.get(reverse("dashboard:jobs")).content.decode()

    assert "/static/vendor/htmx-2.0.11.min.js" in html
    assert "/static/vendor/htmx-ext-ws-2.0.4.min.js" in html
    assert "/static/dashboard/app.js" in html
    assert "https://" not in html


def test_overview_shows_counts_per_queue_paused_badge_and_oldest_waiting(viewer_client: Client, make_job: Any) -> None:
    from jobs import services

    make_job(queue="mail")
    make_job(queue="mail")
    make_job(queue="media")
    services.pause_queue(name="media")

    html = viewer_client.get(reverse("dashboard:overview")).content.decode()

    mail = re.search(r'<tr id="queue-mail">(.*?)</tr>', html, re.S).group(1)
    media = re.search(r'<tr id="queue-media">(.*?)</tr>', html, re.S).group(1)
    assert "status=queued" in mail and ">2</a>" in mail
    assert "paused" in media and "paused" not in mail
    assert " ms</td>" in mail or " s</td>" in mail  # the oldest waiting job's age
    assert "No workers running." in html


def test_jobs_list_filters_by_state_queue_task_priority_and_id(viewer_client: Client, make_job: Any) -> None:
    a = make_job(queue="mail", priority=5)
    b = make_job(queue="mail")
    c = make_job("tests.tasks.chatty", kwargs={"lines": 1})
    done = run_job(make_job(queue="other").pk)

    def shown(**query: Any) -> set[int]:
        html = viewer_client.get(reverse("dashboard:jobs"), query).content.decode()
        return {int(i) for i in re.findall(r'<tr id="job-(\d+)"', html)}

    assert shown() == {a.pk, b.pk, c.pk, done.pk}
    assert shown(status="done") == {done.pk}
    assert shown(queue="mail") == {a.pk, b.pk}
    assert shown(task="tests.tasks.chatty") == {c.pk}
    assert shown(priority=5) == {a.pk}
    assert shown(q=f"#{b.pk}") == {b.pk}
    assert shown(status="nonsense", priority="x") == {a.pk, b.pk, c.pk, done.pk}  # bad values are ignored


def test_jobs_list_pages_by_id_with_links_that_keep_the_filters(viewer_client: Client, make_job: Any) -> None:
    from dashboard.views.jobs_list import PAGE_SIZE

    jobs = [make_job(queue="mail") for _ in range(PAGE_SIZE + 3)]
    make_job(queue="other")

    first = viewer_client.get(reverse("dashboard:jobs"), {"queue": "mail"}).content.decode()
    ids = [int(i) for i in re.findall(r'<tr id="job-(\d+)"', first)]
    assert ids == sorted((j.pk for j in jobs), reverse=True)[:PAGE_SIZE]
    older = re.search(r'href="\?([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "queue=mail" in older and f"before={ids[-1]}" in older

    second = viewer_client.get(reverse("dashboard:jobs") + "?" + older).content.decode()
    assert [int(i) for i in re.findall(r'<tr id="job-(\d+)"', second)] == sorted(j.pk for j in jobs)[:3][::-1]
    assert 'rel="next"' not in second


def test_jobs_list_oldest_first_pages_forward_and_keeps_the_order_in_every_link(
    viewer_client: Client, make_job: Any
) -> None:
    from dashboard.views.jobs_list import PAGE_SIZE

    jobs = sorted(make_job(queue="mail").pk for _ in range(PAGE_SIZE + 3))

    first = viewer_client.get(reverse("dashboard:jobs"), {"queue": "mail", "order": "oldest"}).content.decode()
    ids = [int(i) for i in re.findall(r'<tr id="job-(\d+)"', first)]
    assert ids == jobs[:PAGE_SIZE]
    assert '<option value="oldest" selected>' in first
    newer = re.search(r'href="\?([^"]+)" rel="next">Newer', first).group(1).replace("&amp;", "&")
    assert "order=oldest" in newer and f"after_job={ids[-1]}" in newer
    assert all("order=oldest" in link for link in re.findall(r'<a href="\?([^"]*status=[^"]*)"', first))  # tabs

    second = viewer_client.get(reverse("dashboard:jobs") + "?" + newer).content.decode()
    assert [int(i) for i in re.findall(r'<tr id="job-(\d+)"', second)] == jobs[PAGE_SIZE:]
    assert 'rel="next"' not in second and "« Oldest" in second


def test_jobs_list_tabs_show_counts_per_state(viewer_client: Client, make_job: Any) -> None:
    make_job()
    make_job()
    run_job(make_job(queue="solo").pk)

    html = viewer_client.get(reverse("dashboard:jobs")).content.decode()

    assert '<span class="count" id="count-all">3</span>' in html
    assert '<span class="count" id="count-queued">2</span>' in html
    assert '<span class="count" id="count-done">1</span>' in html


def test_htmx_request_gets_only_the_table_partial(viewer_client: Client, make_job: Any) -> None:
    job = make_job()

    html = viewer_client.get(reverse("dashboard:jobs"), headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<div id="job-table"')
    assert f'id="job-{job.pk}"' in html and "<html" not in html


def test_job_detail_shows_payload_as_escaped_text_result_attempts_and_timeline(
    operator_client: Client, make_job: Any
) -> None:
    from jobs import services

    evil = make_job("tests.tasks.add", args=["<script>alert(1)</script>", 2], max_attempts=2, queue="solo")
    run_job(evil.pk, to="retrying", error="first try failed")
    services.run_job_now(job_id=evil.pk, actor="otto (dashboard)")
    run_job(evil.pk, result={"answer": "<b>42</b>"})

    html = operator_client.get(reverse("dashboard:job_detail", args=[evil.pk])).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;42&lt;/b&gt;" in html
    assert "builtins.ValueError" in html and "first try failed" in html and "Traceback" in html
    assert "by otto (dashboard)" in html  # the timeline names who acted from the dashboard
    assert reverse("dashboard:job_retry", args=[evil.pk]) in html  # done: retry offered
    assert reverse("dashboard:job_cancel", args=[evil.pk]) not in html


def test_job_detail_of_a_missing_job_is_404(viewer_client: Client) -> None:
    response = viewer_client.get(reverse("dashboard:job_detail", args=[999_999]))

    assert response.status_code == 404
    assert "Job not found" in response.content.decode()


def test_websocket_addresses_answer_426_over_plain_http(viewer_client: Client) -> None:
    assert viewer_client.get(reverse("dashboard:ws_jobs")).status_code == 426


# --- actions -------------------------------------------------------------------------------------


def test_operator_cancels_a_job_and_returns_to_it(operator_client: Client, make_job: Any) -> None:
    job = make_job()

    response = operator_client.post(reverse("dashboard:job_cancel", args=[job.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:job_detail", args=[job.pk])
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED
    assert JobEvent.objects.filter(job_id=job.pk, new_status=Status.CANCELLED).get().actor == "otto (dashboard)"


def test_operator_retries_a_failed_job_over_htmx_and_gets_the_live_region(
    operator_client: Client, failed_job: Any
) -> None:
    url = reverse("dashboard:job_retry", args=[failed_job.pk])

    response = operator_client.post(url, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="job-live"')
    assert '"toast"' in response["HX-Trigger-After-Settle"]  # fired on the body even if the form was replaced
    assert Job.objects.get(pk=failed_job.pk).status == Status.QUEUED


def test_operator_runs_a_scheduled_job_now(operator_client: Client, make_job: Any) -> None:
    job = make_job(delay=3600)

    operator_client.post(reverse("dashboard:job_run_now", args=[job.pk]))

    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_refused_action_shows_the_service_message(operator_client: Client, make_job: Any) -> None:
    job = make_job()  # queued: cannot be retried

    plain = operator_client.post(reverse("dashboard:job_retry", args=[job.pk]), follow=True)
    htmx = operator_client.post(reverse("dashboard:job_retry", args=[job.pk]), headers={"HX-Request": "true"})

    assert f"Job {job.pk} is queued and cannot become queued" in plain.content.decode()
    assert htmx.status_code == 409
    assert htmx["HX-Retarget"] == "#toasts"
    assert f"Job {job.pk} is queued and cannot become queued" in htmx.content.decode()


def test_action_on_a_missing_job_is_404(operator_client: Client) -> None:
    assert operator_client.post(reverse("dashboard:job_cancel", args=[999_999])).status_code == 404


def test_bulk_retry_of_failed_jobs_reports_skips_and_keeps_the_filters(
    operator_client: Client, make_job: Any, failed_job: Any
) -> None:
    queued = make_job()
    back = reverse("dashboard:jobs") + "?status=failed&queue=default"

    response = operator_client.post(
        reverse("dashboard:jobs_bulk"),
        {"action": "retry", "ids": [failed_job.pk, queued.pk], "next": back, "confirm": "1"},
    )

    assert response.status_code == 302
    assert response["Location"] == back
    assert Job.objects.get(pk=failed_job.pk).status == Status.QUEUED
    page = operator_client.get(back).content.decode()
    assert "1 of 2 job(s) queued again; 1 skipped" in page


def test_bulk_cancel_ignores_a_foreign_next_url(operator_client: Client, make_job: Any) -> None:
    job = make_job()

    response = operator_client.post(
        reverse("dashboard:jobs_bulk"),
        {"action": "cancel", "ids": [job.pk], "next": "https://evil.example/", "confirm": "1"},
    )

    assert response["Location"] == reverse("dashboard:jobs")
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [3, 60])
def test_page_query_counts_do_not_grow_with_the_number_of_jobs(
    viewer_client: Client, make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    from jobs import services

    made = [make_job(queue=f"q{n % 4}") for n in range(jobs)]  # made[0] is the oldest of q0
    run_job(made[0].pk, to="failed", error="x")
    services.retry_job(job_id=made[0].pk)
    viewer_client.get(reverse("dashboard:overview"))  # warm the session and role lookups alike

    # session + user + groups, then the page's own reads (see dashboard/fragments.py and the charts;
    # PostgreSQL adds 3 for the capped queue counts' savepoint, SET LOCAL and release; 1 counts gone workers).
    with django_assert_max_num_queries(16):
        assert viewer_client.get(reverse("dashboard:overview")).status_code == 200
    with django_assert_max_num_queries(6):
        assert viewer_client.get(reverse("dashboard:jobs"), {"queue": "q1", "status": "queued"}).status_code == 200
    # 8, the live workers and the rate limits for why a queued job waits (jobs.waiting), and the job's
    # parents (dependencies)
    with django_assert_max_num_queries(11):
        assert viewer_client.get(reverse("dashboard:job_detail", args=[made[0].pk])).status_code == 200
