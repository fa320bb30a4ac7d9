"""The failed (dead-letter) page: grouping, snapshot retries, roles and query counts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dashboard import failures
from jobs.models import Job
from jobs.status import Status


def fail(
    make_job: Any,
    message: str,
    *,
    error_class: str = "builtins.ValueError",
    task: str = "tests.tasks.add",
    version: str | None = None,
) -> Job:
    """A job made through the services whose only attempt failed with `error_class: message`."""
    from jobs import states

    job = make_job(task, max_attempts=1, queue="failing", version=version)
    claimed = states.claim_next(queues=["failing"], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == job.pk
    failure = states.Failure(outcome="failed", error_class=error_class, message=message, traceback="Traceback...")
    assert states.record(states.Finish(claimed, Status.FAILED, reason="failed", failure=failure))
    return Job.objects.get(pk=job.pk)


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


# --- normalising and grouping (no page) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("id 42 not found", "id <n> not found"),
        ("user 7 has 12 items", "user <n> has <n> items"),
        ("row 550e8400-e29b-41d4-a716-446655440000 is locked", "row <uuid> is locked"),
        ("object at 0x7f3a2b1c missing", "object at <hex> missing"),
        ("commit deadbeef42 rejected", "commit <hex> rejected"),
        ("connection refused", "connection refused"),
        ("first line 1\nsecond line", "first line <n>"),
        ("", ""),
    ],
)
def test_normalise_replaces_numbers_hex_and_uuids(message: str, normalised: str) -> None:
    assert failures.normalise(message) == normalised


def test_split_error_separates_the_exception_class_from_the_message() -> None:
    assert failures.split_error("builtins.KeyError: 'x': missing") == ("builtins.KeyError", "'x': missing")
    assert failures.split_error("worker lost") == ("", "worker lost")
    assert failures.split_error("not a class: text") == ("", "not a class: text")


@pytest.mark.django_db
def test_failures_group_by_task_class_and_normalised_message(make_job: Any) -> None:
    a1 = fail(make_job, "id 42 not found")
    a2 = fail(make_job, "id 43 not found")
    b = fail(make_job, "id 44 not found", error_class="myapp.NotFound")
    c = fail(make_job, "timeout after 30 s", task="tests.tasks.chatty")
    make_job()  # queued: not part of it

    report = failures.failure_groups()

    keyed = {(g.task, g.error_class, g.message): g for g in report.groups}
    assert report.total == 4 and not report.windowed
    assert set(keyed) == {
        ("tests.tasks.add", "builtins.ValueError", "id <n> not found"),
        ("tests.tasks.add", "myapp.NotFound", "id <n> not found"),
        ("tests.tasks.chatty", "builtins.ValueError", "timeout after <n> s"),
    }
    merged = keyed["tests.tasks.add", "builtins.ValueError", "id <n> not found"]
    assert (merged.count, merged.sample_job_id) == (2, a2.pk)
    assert merged.first_seen == a1.finished_at and merged.last_seen == a2.finished_at
    assert report.groups[0].sample_job_id == c.pk  # the most recent failure first
    assert keyed["tests.tasks.add", "myapp.NotFound", "id <n> not found"].sample_job_id == b.pk


# --- the page ------------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_failed_page_shows_groups_with_counts_and_sample_links(viewer_client: Client, make_job: Any) -> None:
    fail(make_job, "id 42 not found")
    newest = fail(make_job, "id 43 not found")

    html = viewer_client.get(reverse("dashboard:failed")).content.decode()

    rows = re.findall(r'<tr class="failure-group">(.*?)</tr>', html, re.S)
    assert len(rows) == 1
    assert "builtins.ValueError" in rows[0] and "id &lt;n&gt; not found" in rows[0]
    assert '<td class="num">2</td>' in rows[0]
    assert reverse("dashboard:job_detail", args=[newest.pk]) in rows[0]
    assert "Retry this group" not in html and 'id="retry-all"' not in html  # a viewer: no actions


def test_failed_page_shows_the_versions_a_groups_jobs_were_enqueued_for(
    viewer_client: Client, make_job: Any, django_assert_num_queries: Any
) -> None:
    fail(make_job, "id 42 not found", version="2")
    fail(make_job, "id 43 not found", version="1")
    fail(make_job, "id 44 not found")

    report = failures.failure_groups()
    html = viewer_client.get(reverse("dashboard:failed")).content.decode()

    assert [g.versions for g in report.groups] == [["1", "2"]]  # one group: the version does not split it
    [row] = re.findall(r'<tr class="failure-group">(.*?)</tr>', html, re.S)
    assert '<span class="muted version">@1</span><span class="muted version">,@2</span>' in row
    with django_assert_num_queries(1):
        failures.failure_groups()


def test_failed_page_with_no_failures_says_so(viewer_client: Client, make_job: Any) -> None:
    make_job()

    assert "No failed jobs." in viewer_client.get(reverse("dashboard:failed")).content.decode()


def test_retry_all_asks_to_confirm_with_the_count_then_retries_only_the_snapshot(
    operator_client: Client, make_job: Any
) -> None:
    shown = [fail(make_job, "id 1 not found"), fail(make_job, "boom", error_class="builtins.KeyError")]
    page = operator_client.get(reverse("dashboard:failed")).content.decode()
    at = hidden(page.split('id="retry-all"')[1], "at")
    later = fail(make_job, "id 2 not found")  # failed after the page was shown

    confirm = operator_client.post(reverse("dashboard:failed_retry"), {"scope": "all", "at": at})

    assert confirm.status_code == 200
    assert "Retry 2 failed job(s)?" in confirm.content.decode()
    assert Job.objects.filter(status=Status.FAILED).count() == 3  # nothing happened yet

    done = operator_client.post(reverse("dashboard:failed_retry"), {"scope": "all", "at": at, "confirm": "1"})

    assert done.status_code == 302 and done["Location"] == reverse("dashboard:failed")
    assert {j.pk: j.status for j in Job.objects.all()} == {
        shown[0].pk: Status.QUEUED,
        shown[1].pk: Status.QUEUED,
        later.pk: Status.FAILED,
    }
    assert "2 of 2 job(s) queued again." in operator_client.get(done["Location"]).content.decode()


def test_retry_this_group_retries_only_that_group(operator_client: Client, make_job: Any) -> None:
    a = [fail(make_job, "id 42 not found"), fail(make_job, "id 43 not found")]
    other_class = fail(make_job, "id 44 not found", error_class="myapp.NotFound")
    other_message = fail(make_job, "disk full")
    page = operator_client.get(reverse("dashboard:failed")).content.decode()
    form = next(
        f
        for f in re.findall(r"<form[^>]*>.*?</form>", page, re.S)
        if "id &lt;n&gt; not found" in f and "ValueError" in f
    )
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    fields = {k: v.replace("&lt;", "<").replace("&gt;", ">") for k, v in fields.items() if k != "csrfmiddlewaretoken"}

    confirm = operator_client.post(reverse("dashboard:failed_retry"), fields)
    assert "Retry 2 failed job(s)?" in confirm.content.decode()
    operator_client.post(reverse("dashboard:failed_retry"), {**fields, "confirm": "1"})

    statuses = dict(Job.objects.values_list("pk", "status"))
    assert [statuses[j.pk] for j in a] == [Status.QUEUED, Status.QUEUED]
    assert statuses[other_class.pk] == statuses[other_message.pk] == Status.FAILED


def test_retry_without_a_snapshot_time_is_refused(operator_client: Client, make_job: Any) -> None:
    job = fail(make_job, "x")

    response = operator_client.post(reverse("dashboard:failed_retry"), {"scope": "all", "confirm": "1"}, follow=True)

    assert "snapshot time is missing" in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Status.FAILED


def test_viewer_forged_retry_is_refused(viewer_client: Client, make_job: Any) -> None:
    job = fail(make_job, "x")
    page = viewer_client.get(reverse("dashboard:failed")).content.decode()
    assert "Retry" not in page.split("<h1>")[1].split("</section>")[0].replace("Retrying acts", "")

    response = viewer_client.post(
        reverse("dashboard:failed_retry"), {"scope": "all", "at": "2999-01-01T00:00:00+00:00", "confirm": "1"}
    )

    assert response.status_code == 403
    assert Job.objects.get(pk=job.pk).status == Status.FAILED


@pytest.mark.parametrize("jobs", [2, 40])
def test_failed_page_query_count_does_not_grow_with_the_number_of_failures(
    operator_client: Client, make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    for n in range(jobs):
        fail(make_job, f"id {n} not found", error_class=f"app.Error{n % 3}")
    operator_client.get(reverse("dashboard:failed"))

    with django_assert_max_num_queries(4):  # session + user + groups, then one GROUP BY
        html = operator_client.get(reverse("dashboard:failed")).content.decode()
    assert html.count('<tr class="failure-group">') == min(jobs, 3)
