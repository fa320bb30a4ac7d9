"""Jobdeck's task_class: @task(max_attempts=..., timeout=...) reaches the jobs it enqueues."""

from __future__ import annotations

import pytest
from django.tasks import task
from django.tasks.exceptions import InvalidTask

from jobs.backend import JobdeckTask
from jobs.models import Job
from tests.tasks import add, with_options


def test_task_decorator_builds_jobdeck_tasks() -> None:
    assert isinstance(with_options, JobdeckTask)
    assert (with_options.max_attempts, with_options.timeout) == (4, 30)


@pytest.mark.django_db
def test_task_options_are_stored_on_the_job() -> None:
    result = with_options.enqueue()

    job = Job.objects.get(pk=result.id)
    assert (job.max_attempts, job.timeout) == (4, 30)


@pytest.mark.django_db
def test_task_without_options_uses_the_defaults() -> None:
    job = Job.objects.get(pk=add.enqueue(1, 2).id)

    assert (job.max_attempts, job.timeout) == (3, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number between 1 and 1000"),
        ({"max_attempts": "3"}, "max_attempts must be a whole number between 1 and 1000"),
        ({"timeout": -1}, "timeout must be a positive number of seconds"),
    ],
)
def test_bad_task_options_are_refused_at_definition(options: dict, message: str) -> None:
    with pytest.raises(InvalidTask, match=message):
        task(**options)(_module_level_function)


def _module_level_function() -> None:
    pass
