"""Payload limits at every Python entry point: the service, the Tasks backend and the CLI refuse
an oversized job with one clear message and store nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.tasks.exceptions import InvalidTask

from jobs import services
from jobs.exceptions import PayloadTooLarge
from jobs.models import Job
from tests.tasks import append_line

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def test_a_payload_over_the_default_limit_is_refused_and_nothing_is_stored() -> None:
    # Before the limit, a 5 MB payload enqueued from Python was stored whole.
    with pytest.raises(PayloadTooLarge) as caught:
        services.enqueue_job(
            spec=services.JobSpec(task_name="tests.tasks.append_line", kwargs={"path": "x", "line": "a" * 5 * MIB})
        )

    assert caught.value.status_code == 413
    assert caught.value.message.startswith("payload too large: 52429")
    assert caught.value.message.endswith(f"bytes > limit {MIB} bytes")
    assert not Job.objects.exists()


def test_the_limit_counts_args_and_payload_as_utf8_bytes(settings: object) -> None:
    settings.JOBDECK_MAX_PAYLOAD_BYTES = 100  # type: ignore[attr-defined]
    # ["é" * 40] is 84 bytes of UTF-8 JSON and {} 2: 86 fits; 20 more characters do not.
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.append_line", args=["é" * 40]))
    with pytest.raises(PayloadTooLarge, match="payload too large: 126 bytes > limit 100 bytes"):
        services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.append_line", args=["é" * 60]))
    assert Job.objects.count() == 1


def test_tasks_backend_enqueue_refuses_an_oversized_payload(settings: object) -> None:
    settings.JOBDECK_MAX_PAYLOAD_BYTES = 1000  # type: ignore[attr-defined]
    with pytest.raises(InvalidTask, match=r"payload too large: \d+ bytes > limit 1000 bytes"):
        append_line.enqueue("path", "x" * 2000)
    assert not Job.objects.exists()


def test_enqueue_command_refuses_an_oversized_payload_in_one_line(settings: object) -> None:
    settings.JOBDECK_MAX_PAYLOAD_BYTES = 1000  # type: ignore[attr-defined]
    with pytest.raises(CommandError) as caught:
        call_command("enqueue", "tests.tasks.append_line", "--args", f'["p", "{"x" * 2000}"]', stdout=io.StringIO())
    assert str(caught.value) == "payload too large: 2011 bytes > limit 1000 bytes"
    assert not Job.objects.exists()
