"""manage.py ratelimit list / set / remove."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from jobs.models import RateLimit


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("ratelimit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_set_list_and_remove() -> None:
    assert run("set", "queue", "default", "10", "60") == "Set queue default: 10 per 60 s\n"
    assert run("list") == "queue default: 10 per 60 s\n"
    assert run("remove", "queue", "default") == "Removed queue default\n"
    assert not RateLimit.objects.exists()


@pytest.mark.django_db
def test_a_bad_limit_is_one_line_error() -> None:
    with pytest.raises(CommandError, match="max_starts must be a whole number of at least 1"):
        run("set", "queue", "default", "0", "60")
