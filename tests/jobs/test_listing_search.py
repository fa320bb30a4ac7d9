"""jobs.listing's search and task filter, shared by the dashboard, the REST API and `manage.py jobs`:
free text within a bounded window of the newest jobs, job ids, payload values, and task names read the way
enqueue reads them (an unknown one is an error, never an empty list)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from jobs import listing
from jobs.exceptions import InvalidSearch
from jobs.models import Job
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db


def found(**filters: Any) -> set[int]:
    return {job.pk for job in listing.list_jobs(listing.JobFilters(**filters), limit=100)}


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("", {}),
        ("  ", {}),
        ("123", {"job_id": 123}),
        ("#123", {"job_id": 123}),
        ("payload.user.id:42", {"payload_path": ("user", "id"), "payload_value": 42}),
        ("payload.email:a@example.com", {"payload_path": ("email",), "payload_value": "a@example.com"}),
        ("invoice", {"text": "invoice"}),
        ("  Invoice ready ", {"text": "Invoice ready"}),
        ("ValueError: boom", {"text": "ValueError: boom"}),
    ],
)
def test_parse_search_reads_ids_payload_values_and_free_text(text: str, fields: dict[str, Any]) -> None:
    assert listing.parse_search(text) == fields
    assert listing.JobFilters(**fields).search == text.strip().removeprefix("#")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("payload.:1", "A payload search is payload.<key>:<value>"),
        ("payload.a b:1", "A payload search is payload.<key>:<value>"),
        ("x" * 201, "A search is at most 200 characters"),
        ("a\x00b", "A search cannot contain a NUL character"),
        ("99999999999999999999", "No job can have the id 99999999999999999999"),
        ("#0", "No job can have the id 0"),
    ],
)
def test_parse_search_refuses_what_it_cannot_run(text: str, message: str) -> None:
    with pytest.raises(InvalidSearch) as excinfo:
        listing.parse_search(text)
    assert excinfo.value.message.startswith(message)
    assert excinfo.value.status_code == 400


def test_free_text_matches_task_name_error_payload_and_arguments_ignoring_case(make_job: Any) -> None:
    by_task = make_job("tests.tasks.progress_steps", args=[3])
    by_payload = make_job("tests.tasks.add", kwargs={"note": "Invoice READY"}, args=[])
    by_args = make_job("tests.tasks.append_line", args=["/tmp/x", "weekly invoice"])
    by_error = run_job(make_job(max_attempts=1, queue="e").pk, to="failed", error="invoice 7 not found")
    other = make_job()

    assert found(text="progress_st") == {by_task.pk}
    assert found(text="invoice") == {by_payload.pk, by_args.pk, by_error.pk}
    assert found(text="NOT FOUND") == {by_error.pk}
    assert found(text="invoice", text_in_payload=False) == {by_error.pk}
    assert found(text="100%_") == set()  # LIKE wildcards are matched literally
    assert other.pk in found(text="tests.tasks.add")


@override_settings(JOBDECK_SEARCH_WINDOW=2)
def test_free_text_reads_only_the_newest_window_of_jobs(make_job: Any) -> None:
    old, middle, new = (make_job(kwargs={"n": "needle"}, args=[]) for _ in range(3))

    assert found(text="needle") == {middle.pk, new.pk}
    assert found(text="needle", status="queued") == {middle.pk, new.pk}
    # Bulk selections by filter take the same window: never more than the list shows.
    assert listing.job_ids(listing.JobFilters(text="needle"), limit=10) == [middle.pk, new.pk]
    assert old.pk not in listing.job_ids(listing.JobFilters(text="needle"), limit=10, upto=new.pk)


def test_free_text_on_an_empty_table_finds_nothing() -> None:
    assert found(text="anything") == set()


def test_task_filter_takes_the_names_enqueue_takes(make_job: Any) -> None:
    job = make_job("tests.tasks.add")

    assert listing.resolve_task_filter("tests.tasks.add") == "tests.tasks.add"
    assert listing.resolve_task_filter("add") == "tests.tasks.add"
    assert listing.resolve_task_filter("echo") == "jobs.tasks.echo"
    assert listing.resolve_task_filter("") == ""
    assert found(task=listing.resolve_task_filter("add")) == {job.pk}


def test_task_filter_refuses_unknown_names_but_keeps_stored_names_of_removed_tasks(make_job: Any) -> None:
    with pytest.raises(InvalidSearch, match="Unknown task 'nope'"):
        listing.resolve_task_filter("nope")
    gone = make_job()
    Job.objects.filter(pk=gone.pk).update(task_name="old_app.tasks.retired")

    assert listing.resolve_task_filter("old_app.tasks.retired") == "old_app.tasks.retired"
    assert found(task="old_app.tasks.retired") == {gone.pk}
