"""Django's Tasks API: task.after(result, ...) enqueues a job that waits for others."""

from __future__ import annotations

import pytest
from django.tasks.exceptions import InvalidTask

from jobs.models import Job
from tests import tasks

pytestmark = pytest.mark.django_db


def test_after_waits_for_the_results_given() -> None:
    first = tasks.add.enqueue(1, 2)
    second = tasks.add.enqueue(3, 4)

    result = tasks.add.after(first, int(second.id), after_failure="run").enqueue(5, 6)

    job = Job.objects.get(pk=int(result.id))
    assert (job.status, job.pending_parents, job.after_failure) == ("scheduled", 2, "run")
    assert result.status == "READY"  # Django's name for a job not started yet
    assert tasks.add.enqueue(7, 8).id != result.id  # the task itself is unchanged


def test_after_a_missing_job_is_invalid_task() -> None:
    with pytest.raises(InvalidTask, match="after: job #999999 does not exist"):
        tasks.add.after(999999).enqueue(1, 2)
    with pytest.raises(InvalidTask, match="after_failure"):
        tasks.add.after(after_failure="later").enqueue(1, 2)
