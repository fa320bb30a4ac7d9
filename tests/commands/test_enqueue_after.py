"""manage.py enqueue --after / --after-failure."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jobs import services
from jobs.models import Job

pytestmark = pytest.mark.django_db


def test_enqueue_after_waits_for_the_jobs_named() -> None:
    a = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    b = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    out = StringIO()

    call_command(
        "enqueue", "tests.tasks.add", "--args", "[1, 2]", f"--after={a.pk},{b.pk}", "--after-failure=run", stdout=out
    )

    job = Job.objects.latest("pk")
    assert out.getvalue().startswith(f"Job {job.pk} waiting for 2 of 2 jobs")
    assert (job.status, job.pending_parents, job.after_failure) == ("scheduled", 2, "run")


def test_enqueue_after_a_missing_job_is_a_one_line_error() -> None:
    with pytest.raises(CommandError, match=r"^after: job #99999 does not exist$"):
        call_command("enqueue", "tests.tasks.add", "--args", "[1, 2]", "--after=99999")
    assert not Job.objects.exists()
