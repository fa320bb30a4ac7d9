"""services.pause_queue, resume_queue and set_queue_concurrency: queue settings and their validation."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services
from jobs.exceptions import InvalidQueue
from jobs.models import Queue

pytestmark = pytest.mark.django_db

NAME_ERROR = "queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'"
LIMIT_ERROR = "concurrency must be a whole number of at least 1, or null for no limit"
BAD_NAMES = ["", "has space", "q" * 101, "emails/urgent", None, 5]


def settings_of(name: str) -> tuple[bool, int | None]:
    queue = Queue.objects.get(name=name)
    return queue.paused, queue.concurrency


def test_pause_queue_creates_paused_settings() -> None:
    queue = services.pause_queue(name="emails")

    assert (queue.name, queue.paused, queue.concurrency) == ("emails", True, None)
    assert settings_of("emails") == (True, None)


def test_pause_queue_twice_keeps_one_row() -> None:
    services.pause_queue(name="emails")
    services.pause_queue(name="emails")

    assert list(Queue.objects.values_list("name", "paused")) == [("emails", True)]


def test_resume_queue_unpauses_and_keeps_its_concurrency() -> None:
    services.set_queue_concurrency(name="emails", limit=3)
    services.pause_queue(name="emails")

    queue = services.resume_queue(name="emails")

    assert (queue.paused, queue.concurrency) == (False, 3)
    assert settings_of("emails") == (False, 3)


def test_resume_unknown_queue_stores_it_unpaused() -> None:
    assert services.resume_queue(name="fresh.queue:1").paused is False
    assert settings_of("fresh.queue:1") == (False, None)


def test_set_queue_concurrency_stores_the_limit_and_keeps_pause() -> None:
    services.pause_queue(name="emails")

    queue = services.set_queue_concurrency(name="emails", limit=4)

    assert (queue.paused, queue.concurrency) == (True, 4)
    assert settings_of("emails") == (True, 4)


def test_set_queue_concurrency_none_removes_the_limit() -> None:
    services.set_queue_concurrency(name="emails", limit=4)

    assert services.set_queue_concurrency(name="emails", limit=None).concurrency is None
    assert settings_of("emails") == (False, None)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "2"])
def test_bad_concurrency_limit_raises_invalid_queue_and_writes_nothing(limit: Any) -> None:
    with pytest.raises(InvalidQueue) as caught:
        services.set_queue_concurrency(name="emails", limit=limit)

    assert (caught.value.status_code, caught.value.message) == (400, LIMIT_ERROR)
    assert Queue.objects.count() == 0


@pytest.mark.parametrize("action", ["pause_queue", "resume_queue", "set_queue_concurrency"])
@pytest.mark.parametrize("name", BAD_NAMES, ids=["empty", "space", "too-long", "slash", "none", "int"])
def test_bad_queue_name_raises_invalid_queue_and_writes_nothing(action: str, name: Any) -> None:
    kwargs = {"limit": 2} if action == "set_queue_concurrency" else {}

    with pytest.raises(InvalidQueue) as caught:
        getattr(services, action)(name=name, **kwargs)

    assert (caught.value.status_code, caught.value.message) == (400, NAME_ERROR)
    assert Queue.objects.count() == 0
