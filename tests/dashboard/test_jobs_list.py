"""The jobs list's worker, time-range and payload filters, capped counts, "all matching" bulk actions, duplicate."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import queries
from jobs import listing, states
from jobs.models import Job, JobEvent
from jobs.status import Status
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db


def shown(client: Client, **query: Any) -> set[int]:
    html = client.get(reverse("dashboard:jobs"), query).content.decode()
    return {int(i) for i in re.findall(r'<tr id="job-(\d+)"', html)}


def test_a_row_shows_the_version_its_job_was_enqueued_for(viewer_client: Client, make_job: Any) -> None:
    versioned = make_job(version="2")
    plain = make_job()

    html = viewer_client.get(reverse("dashboard:jobs")).content.decode()

    row = re.search(rf'<tr id="job-{versioned.pk}"(.*?)</tr>', html, re.S).group(1)
    assert '</a><span class="muted version">@2</span>' in row
    assert "@" not in re.search(rf'<tr id="job-{plain.pk}"(.*?)</tr>', html, re.S).group(1).split('class="task"')[1]


# --- filters -------------------------------------------------------------------------------------


def test_jobs_list_filters_by_worker(viewer_client: Client, make_job: Any) -> None:
    mine = make_job(queue="a")
    theirs = make_job(queue="b")
    make_job(queue="c")
    states.claim_next(queues=["a"], worker="host:1:x", lease_seconds=60)
    states.claim_next(queues=["b"], worker="host:2:y", lease_seconds=60)

    assert shown(viewer_client, worker="host:1:x") == {mine.pk}
    assert shown(viewer_client, worker="host:2:y") == {theirs.pk}


def test_jobs_list_filters_by_creation_time_range(viewer_client: Client, make_job: Any) -> None:
    jobs = [make_job() for _ in range(3)]
    middle = Job.objects.get(pk=jobs[1].pk).created_at
    after = (middle - datetime.timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")

    assert shown(viewer_client, created_after=after) >= {jobs[1].pk, jobs[2].pk}
    assert jobs[0].pk not in shown(viewer_client, created_after="2999-01-01T00:00")
    assert shown(viewer_client, created_before="2000-01-01T00:00") == set()
    assert shown(viewer_client, created_after="2000-01-01", created_before="2999-01-01T00:00:00") == {
        j.pk for j in jobs
    }
    assert shown(viewer_client, created_after="yesterday") == {j.pk for j in jobs}  # malformed: ignored


def test_time_range_is_read_as_utc_and_kept_in_links(viewer_client: Client, make_job: Any) -> None:
    make_job()
    filters = queries.parse_filters(
        QueryDict("created_after=2024-05-01T12:30&created_before=2024-05-02T00:00:00%2B02:00")
    )

    assert filters.created_after == datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    assert filters.created_before == datetime.datetime(2024, 5, 1, 22, 0, tzinfo=datetime.UTC)
    html = viewer_client.get(reverse("dashboard:jobs"), {"created_after": "2024-05-01T12:30"}).content.decode()
    assert 'value="2024-05-01T12:30:00"' in html
    assert "created_after=2024-05-01T12%3A30%3A00" in html  # the state tabs keep it


def test_payload_search_matches_one_key_exactly(viewer_client: Client, make_job: Any) -> None:
    a = make_job("tests.tasks.chatty", kwargs={"lines": 42})
    b = make_job("tests.tasks.chatty", kwargs={"lines": 7})
    text = make_job("tests.tasks.chatty", kwargs={"lines": 1, "tag": "a@example.com"})
    nested = make_job("tests.tasks.chatty", kwargs={"lines": 1, "user": {"id": "u-42"}})
    odd_key = make_job("tests.tasks.chatty", kwargs={"lines": 1, "contains": 5})

    assert shown(viewer_client, q="payload.lines:42") == {a.pk}
    assert shown(viewer_client, q="payload.lines:7") == {b.pk}
    assert shown(viewer_client, q='payload.lines:"42"') == set()  # a string is not the number
    assert shown(viewer_client, q="payload.tag:a@example.com") == {text.pk}
    assert shown(viewer_client, q="payload.user.id:u-42") == {nested.pk}
    assert shown(viewer_client, q="payload.contains:5") == {odd_key.pk}  # a key, not a lookup
    assert shown(viewer_client, q="payload.missing:1") == set()
    assert shown(viewer_client, q="payload.lines:42", status="done") == set()  # within the other filters


def test_payload_search_shows_no_counts_but_still_offers_select_all(operator_client: Client, make_job: Any) -> None:
    make_job("tests.tasks.chatty", kwargs={"lines": 42})

    html = operator_client.get(reverse("dashboard:jobs"), {"q": "payload.lines:42"}).content.decode()

    assert 'id="counts-skipped"' in html
    assert '<span class="count" id="count-queued"></span>' in html
    assert "Or select all matching:" in html


def test_payload_search_text_survives_in_the_search_box_and_links(viewer_client: Client, make_job: Any) -> None:
    make_job("tests.tasks.chatty", kwargs={"lines": 42})

    html = viewer_client.get(reverse("dashboard:jobs"), {"q": "payload.lines:42"}).content.decode()

    assert 'value="payload.lines:42"' in html
    assert "q=payload.lines%3A42" in html
    assert queries.parse_filters(QueryDict("q=payload.x:%2242%22")).search == 'payload.x:"42"'


def test_new_jobs_are_not_added_live_to_lists_they_cannot_be_matched_against() -> None:
    new = {"job_id": 9, "status": "queued", "queue": "default", "task": "t", "priority": 0}

    assert listing.JobFilters(created_after=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)).matches(**new)
    assert not listing.JobFilters(worker="w").matches(**new)
    assert not listing.JobFilters(payload_path=("a",), payload_value=1).matches(**new)
    assert not listing.JobFilters(created_before=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)).matches(**new)


# --- counts --------------------------------------------------------------------------------------


def test_state_counts_are_within_the_filters_and_capped(make_job: Any) -> None:
    run_job(make_job(queue="mail").pk)
    for _ in range(4):
        make_job(queue="mail")
    make_job(queue="other")

    assert listing.state_counts(listing.JobFilters(queue="mail"))["queued"] == 4
    assert listing.state_counts(listing.JobFilters(queue="mail"))["done"] == 1
    assert listing.state_counts(listing.JobFilters(queue="mail"), cap=2)["queued"] == 3  # "more than 2"
    assert listing.capped_label(3, cap=2) == "2+"
    assert listing.capped_label(1_234, cap=10_000) == "1,234"


def test_large_counts_are_labelled_estimated(viewer_client: Client, make_job: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(listing, "STATE_COUNT_CAP", 2)
    for _ in range(3):
        make_job()
    run_job(make_job(queue="solo").pk)

    html = viewer_client.get(reverse("dashboard:jobs")).content.decode()
    assert '<span class="count" id="count-queued">2+</span>' in html
    assert '<span class="count" id="count-done">1</span>' in html
    assert 'id="counts-estimated"' in html and "estimated" in html

    small = viewer_client.get(reverse("dashboard:jobs"), {"queue": "solo"}).content.decode()
    assert '<span class="count" id="count-all">1</span>' in small
    assert 'id="counts-estimated"' not in small


# --- select all matching, bulk with confirmation -------------------------------------------------


def bulk_matching_form(html: str) -> dict[str, str]:
    form = re.search(r'<form[^>]*id="bulk-matching"[^>]*>(.*?)</form>', html, re.S).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken", None)
    return {k: v.replace("&amp;", "&") for k, v in fields.items()}


def test_select_all_matching_confirms_the_count_and_acts_on_the_snapshot(
    operator_client: Client, make_job: Any
) -> None:
    mail = [make_job(queue="mail") for _ in range(3)]
    make_job(queue="other")
    page = operator_client.get(reverse("dashboard:jobs"), {"queue": "mail", "status": "queued"}).content.decode()
    assert 'select all <span id="matching-count">3</span> matching' in page
    assert re.findall(r'form="bulk-form"|value="(cancel|retry|delete)">\w+ all', page).count("cancel") == 1
    assert 'value="retry">Retry all' not in page  # queued jobs cannot be retried
    fields = bulk_matching_form(page)
    late = make_job(queue="mail")  # enqueued after the page was shown

    confirm = operator_client.post(reverse("dashboard:jobs_bulk"), {**fields, "action": "cancel"})
    assert confirm.status_code == 200
    assert "Cancel 3 jobs?" in confirm.content.decode()
    assert Job.objects.filter(status=Status.CANCELLED).count() == 0

    done = operator_client.post(reverse("dashboard:jobs_bulk"), {**fields, "action": "cancel", "confirm": "1"})

    assert done.status_code == 302
    assert done["Location"] == reverse("dashboard:jobs") + "?queue=mail&status=queued"
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert [statuses[j.pk] for j in mail] == [Status.CANCELLED] * 3
    assert statuses[late.pk] == Status.QUEUED
    assert "3 of 3 job(s) cancelled." in operator_client.get(done["Location"]).content.decode()


def test_all_matching_without_a_state_acts_only_on_jobs_the_action_is_valid_for(
    operator_client: Client, make_job: Any
) -> None:
    finished = run_job(make_job(queue="mail").pk)
    waiting = make_job(queue="mail")
    page = operator_client.get(reverse("dashboard:jobs"), {"queue": "mail"}).content.decode()
    fields = bulk_matching_form(page)
    assert {"Cancel all", "Retry all", "Delete all"} <= set(re.findall(r">(\w+ all)</button>", page))

    confirm = operator_client.post(reverse("dashboard:jobs_bulk"), {**fields, "action": "delete"})
    assert "Delete 1 job?" in confirm.content.decode()
    operator_client.post(reverse("dashboard:jobs_bulk"), {**fields, "action": "delete", "confirm": "1"})

    assert list(Job.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert not JobEvent.objects.filter(job_id=finished.pk).exists()


def test_all_matching_refuses_an_action_the_filtered_state_does_not_allow(
    operator_client: Client, make_job: Any
) -> None:
    job = make_job()
    fields = {"scope": "matching", "filter": "status=queued", "upto": str(job.pk), "action": "retry", "confirm": "1"}

    response = operator_client.post(reverse("dashboard:jobs_bulk"), fields, follow=True)

    assert "Queued jobs cannot be queued again." in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_checked_jobs_bulk_asks_to_confirm_with_the_count(operator_client: Client, make_job: Any) -> None:
    a, b = make_job(), make_job()

    confirm = operator_client.post(reverse("dashboard:jobs_bulk"), {"action": "cancel", "ids": [a.pk, b.pk]})

    html = confirm.content.decode()
    assert "Cancel 2 jobs?" in html
    assert f'name="ids" value="{a.pk}"' in html and 'name="confirm" value="1"' in html
    assert Job.objects.filter(status=Status.QUEUED).count() == 2


def test_bulk_delete_of_checked_jobs_skips_unfinished_ones(operator_client: Client, make_job: Any) -> None:
    done = run_job(make_job(queue="solo").pk)
    queued = make_job()

    operator_client.post(
        reverse("dashboard:jobs_bulk"), {"action": "delete", "ids": [done.pk, queued.pk], "confirm": "1"}
    )

    assert list(Job.objects.values_list("pk", flat=True)) == [queued.pk]


def test_viewer_sees_no_select_all_and_a_forged_matching_bulk_is_refused(viewer_client: Client, make_job: Any) -> None:
    job = make_job()
    assert 'id="bulk-matching"' not in viewer_client.get(reverse("dashboard:jobs")).content.decode()

    response = viewer_client.post(
        reverse("dashboard:jobs_bulk"),
        {"scope": "matching", "filter": "", "upto": str(job.pk), "action": "cancel", "confirm": "1"},
    )

    assert response.status_code == 403
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


# --- duplicate -----------------------------------------------------------------------------------


def test_operator_duplicates_a_job_and_lands_on_the_copy(operator_client: Client, make_job: Any) -> None:
    original = run_job(
        make_job("tests.tasks.chatty", kwargs={"lines": 2}, queue="mail", priority=7, max_attempts=5, timeout=30).pk
    )
    assert (
        reverse("dashboard:job_duplicate", args=[original.pk])
        in operator_client.get(reverse("dashboard:job_detail", args=[original.pk])).content.decode()
    )

    response = operator_client.post(reverse("dashboard:job_duplicate", args=[original.pk]))

    copy = Job.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:job_detail", args=[copy.pk])
    assert (copy.task_name, copy.args, copy.payload, copy.queue, copy.priority) == (
        "tests.tasks.chatty",
        [],
        {"lines": 2},
        "mail",
        7,
    )
    assert (copy.status, copy.max_attempts, copy.timeout) == (Status.QUEUED, 5, 30)
    assert JobEvent.objects.get(job_id=copy.pk).actor == "otto (dashboard)"


def test_duplicate_is_refused_to_a_viewer_and_404_for_a_missing_job(
    viewer_client: Client, operator_client: Client, make_job: Any
) -> None:
    job = make_job()
    assert (
        reverse("dashboard:job_duplicate", args=[job.pk])
        not in viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()
    )

    assert viewer_client.post(reverse("dashboard:job_duplicate", args=[job.pk])).status_code == 403
    assert operator_client.post(reverse("dashboard:job_duplicate", args=[999_999])).status_code == 404
    assert Job.objects.count() == 1


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [3, 60])
def test_jobs_list_query_count_does_not_grow_with_filters_or_jobs(
    operator_client: Client, make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    for n in range(jobs):
        make_job("tests.tasks.chatty", kwargs={"lines": n % 5}, queue=f"q{n % 3}")
    operator_client.get(reverse("dashboard:jobs"))

    # session + user + groups, then: event cursor, page, state counts, snapshot id (operators).
    for query in ({}, {"queue": "q1", "status": "queued", "q": "payload.lines:2", "created_after": "2000-01-01"}):
        with django_assert_max_num_queries(7):
            assert operator_client.get(reverse("dashboard:jobs"), query).status_code == 200


# --- search and task names (issue points 10 and 11) ----------------------------------------------


def test_plain_word_search_lists_only_matching_jobs_and_keeps_the_box(operator_client: Client, make_job: Any) -> None:
    hit = make_job(kwargs={"note": "invoice ready"}, args=[])
    make_job(kwargs={"note": "welcome"}, args=[])

    html = operator_client.get(reverse("dashboard:jobs"), {"q": "invoice"}).content.decode()

    assert {int(i) for i in re.findall(r'<tr id="job-(\d+)"', html)} == {hit.pk}
    assert 'id="job-search" value="invoice"' in html or 'value="invoice"' in html
    assert "Searched the newest 100,000 jobs" in html
    assert 'select all <span id="matching-count">1</span> matching' in html
    fields = bulk_matching_form(html)
    assert "q=invoice" in fields["filter"]
    confirm = operator_client.post(reverse("dashboard:jobs_bulk"), {**fields, "action": "cancel"})
    assert "Cancel 1 job?" in confirm.content.decode()


def test_a_search_that_cannot_run_says_why_and_offers_no_bulk_action(operator_client: Client, make_job: Any) -> None:
    make_job()

    response = operator_client.get(reverse("dashboard:jobs"), {"q": "payload.:x"})
    html = response.content.decode()

    assert response.status_code == 400
    assert 'id="search-error"' in html and "A payload search is payload.&lt;key&gt;:&lt;value&gt;" in html
    assert 'value="payload.:x"' in html  # the box keeps what was typed
    assert '<tr id="job-' not in html
    assert "bulk-matching" not in html and "bulk-form" not in html.split('id="job-table"')[1].split("<table")[0]


def test_all_matching_with_a_search_that_cannot_run_acts_on_nothing(operator_client: Client, make_job: Any) -> None:
    job = make_job()
    fields = {"scope": "matching", "filter": "q=payload.:x", "upto": str(job.pk), "action": "cancel", "confirm": "1"}

    response = operator_client.post(reverse("dashboard:jobs_bulk"), fields, follow=True)

    assert "A payload search is payload." in response.content.decode()
    assert Job.objects.get(pk=job.pk).status == Status.QUEUED


def test_task_filter_takes_short_names_and_refuses_unknown_ones(viewer_client: Client, make_job: Any) -> None:
    job = make_job("tests.tasks.add")
    make_job("tests.tasks.progress_steps", args=[2])

    assert shown(viewer_client, task="add") == {job.pk}
    response = viewer_client.get(reverse("dashboard:jobs"), {"task": "nope"})
    assert response.status_code == 400
    assert "Unknown task &#x27;nope&#x27;" in response.content.decode()


def test_free_text_is_not_looked_for_in_payloads_hidden_from_viewers(
    viewer_client: Client, make_job: Any, settings: Any
) -> None:
    make_job(kwargs={"secret": "hunter2"}, args=[])
    settings.JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS = True

    assert shown(viewer_client, q="hunter2") == set()


def test_duplicate_of_a_job_over_the_payload_limit_is_refused_with_a_message(
    operator_client: Client, make_job: Any, settings: Any
) -> None:
    original = make_job("tests.tasks.append_line", args=["p", "x" * 2000])
    settings.JOBDECK_MAX_PAYLOAD_BYTES = 1000  # lowered after the job was stored

    response = operator_client.post(reverse("dashboard:job_duplicate", args=[original.pk]), follow=True)

    assert "payload too large: 2011 bytes &gt; limit 1000 bytes" in response.content.decode()
    assert Job.objects.count() == 1


def test_a_duplicate_keeps_the_version_its_arguments_were_made_for(operator_client: Client, make_job: Any) -> None:
    from jobs import registry
    from tests import versioned_tasks

    registry.register(versioned_tasks.report)  # version "1" here
    original = make_job("tests.versioned_tasks.report@7", args=[1])

    operator_client.post(reverse("dashboard:job_duplicate", args=[original.pk]))

    assert Job.objects.exclude(pk=original.pk).get().task_version == "7"


def test_duplicate_of_a_unique_job_whose_key_is_held_opens_the_holder_and_says_until_when(
    operator_client: Client, make_job: Any
) -> None:
    from jobs import registry
    from tests.jobs.test_unique_for import unique_report  # @task(unique_for=60)

    registry.register(unique_report)
    original = run_job(make_job("tests.jobs.test_unique_for.unique_report", args=["monday"]).pk)
    assert original.status == Status.DONE and original.unique_until is not None

    response = operator_client.post(reverse("dashboard:job_duplicate", args=[original.pk]), follow=True)

    assert Job.objects.count() == 1  # no copy: the task declared such runs one job for 60 s
    assert response.redirect_chain == [(reverse("dashboard:job_detail", args=[original.pk]), 302)]
    until = timezone.localtime(original.unique_until).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert (
        f"No copy made: an equal job, #{original.pk}, holds the key until {until} (the task&#x27;s unique_for): "
        "opened it." in response.content.decode()
    )


def test_duplicate_of_a_unique_job_while_it_runs_says_the_key_is_held_until_it_finishes(
    operator_client: Client, make_job: Any
) -> None:
    from jobs import registry
    from tests.jobs.test_unique_for import unique_report

    registry.register(unique_report)
    original = make_job("tests.jobs.test_unique_for.unique_report", args=["tuesday"])

    response = operator_client.post(reverse("dashboard:job_duplicate", args=[original.pk]), follow=True)

    assert Job.objects.count() == 1
    assert f"an equal job, #{original.pk}, holds the key until it finishes" in response.content.decode()
