"""manage.py enqueue --concurrency-key / --concurrency-limit."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job


@pytest.mark.django_db
def test_the_key_and_limit_reach_the_job() -> None:
    call_command(
        "enqueue",
        "add",
        "--args",
        "[1, 2]",
        "--concurrency-key",
        "customer:42",
        "--concurrency-limit",
        "2",
        stdout=io.StringIO(),
    )

    assert Job.objects.values_list("concurrency_key", "concurrency_limit").get() == ("customer:42", 2)


@pytest.mark.django_db
def test_a_limit_without_a_key_is_refused() -> None:
    with pytest.raises(CommandError, match="concurrency_limit needs a concurrency_key"):
        call_command("enqueue", "add", "--args", "[1, 2]", "--concurrency-limit", "2", stdout=io.StringIO())

    assert not Job.objects.exists()
