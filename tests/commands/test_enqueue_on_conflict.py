"""manage.py enqueue --on-conflict: drop reports the existing job; a bad use is a one-line error."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job
from jobs.status import Status

pytestmark = pytest.mark.django_db


def enqueue(*extra: str) -> str:
    out = io.StringIO()
    call_command("enqueue", "tests.tasks.add", "--args", "[1, 2]", *extra, stdout=out)
    return out.getvalue().strip()


def test_drop_reports_the_existing_job_and_replace_cancels_the_waiting_one() -> None:
    first = enqueue("--concurrency-key", "customer:42", "--on-conflict", "drop")
    job = Job.objects.get()

    assert first == f"Job {job.pk} queued (tests.tasks.add on default)"
    assert enqueue("--concurrency-key", "customer:42", "--on-conflict", "drop") == (
        f"Job {job.pk} already queued with key customer:42: nothing enqueued (tests.tasks.add on default)"
    )
    enqueue("--concurrency-key", "customer:42", "--on-conflict", "replace")
    assert Job.objects.get(pk=job.pk).status == Status.CANCELLED
    assert Job.objects.filter(status=Status.QUEUED).count() == 1


def test_on_conflict_without_a_key_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="^on_conflict needs a concurrency_key$"):
        enqueue("--on-conflict", "drop")
    assert not Job.objects.exists()
