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
        ({"priority": "urgent"}, "priority must be a whole number between -100 and 100, or high, medium or low"),
        ({"unique_for": 0}, r"unique_for must be a positive number of seconds \(at most ten years\)"),
        ({"expires_in": "soon"}, r"expires_in must be a positive number of seconds \(at most ten years\)"),
    ],
)
def test_bad_task_options_are_refused_at_definition(options: dict, message: str) -> None:
    with pytest.raises(InvalidTask, match=message):
        task(**options)(_module_level_function)


def _module_level_function() -> None:
    pass


# --- Named priorities, unique_for, expires_in (issue 12) ---------------------------------------------


def test_a_named_priority_becomes_its_number() -> None:
    high = task(priority="high")(_module_level_function)  # type: ignore[call-overload]

    assert high.priority == 10
    assert high.using(priority="low").priority == -10


@pytest.mark.django_db
def test_unique_for_and_expires_in_reach_the_job() -> None:
    import datetime

    from django.utils import timezone

    from jobs import registry

    unique = task(unique_for=datetime.timedelta(minutes=2), expires_in=30)(_module_level_function)  # type: ignore[call-overload]
    registry.register(unique)
    before = timezone.now()

    first = unique.enqueue()
    second = unique.enqueue()

    job = Job.objects.get()
    assert first.id == second.id == str(job.pk)
    assert (job.unique_for, job.key_held) == (120.0, True)
    assert job.expires_at is not None
    assert before + datetime.timedelta(seconds=30) <= job.expires_at <= timezone.now() + datetime.timedelta(seconds=30)
