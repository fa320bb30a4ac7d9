"""@task(concurrency_key=..., concurrency_limit=...): checked when the task is defined, computed per job."""

from __future__ import annotations

import pytest
from django.tasks import task
from django.tasks.exceptions import InvalidTask

from jobs.models import Job


def _module_level_function(customer_id: int = 0) -> None:
    pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency_key": 42}, "concurrency_key must be a callable of the job's arguments or a format string"),
        ({"concurrency_key": "k", "concurrency_limit": 0}, "concurrency_limit must be a whole number between 1"),
        ({"concurrency_limit": 2}, "concurrency_limit needs a concurrency_key"),
    ],
)
def test_bad_concurrency_options_are_refused_at_definition(options: dict, message: str) -> None:
    with pytest.raises(InvalidTask, match=message):
        task(**options)(_module_level_function)  # type: ignore[call-overload]


@pytest.mark.django_db
def test_a_callable_key_is_computed_from_the_jobs_arguments() -> None:
    from jobs import registry

    keyed = task(concurrency_key=lambda customer_id: f"customer:{customer_id}")(_module_level_function)  # type: ignore[call-overload]
    registry.register(keyed)

    job = Job.objects.get(pk=keyed.enqueue(customer_id=9).id)

    assert (job.concurrency_key, job.concurrency_limit) == ("customer:9", 1)
