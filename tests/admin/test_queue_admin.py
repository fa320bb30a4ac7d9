"""Queue admin: adds, edits and pause/resume actions go through the queue services."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jobs import services
from jobs.models import Queue
from tests.admin.conftest import change, changelist


@pytest.fixture
def service_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Record every queue service call (the services still run)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in ("pause_queue", "resume_queue", "set_queue_concurrency"):
        real = getattr(services, name)

        def spy(*, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _real(**kwargs)

        monkeypatch.setattr(services, name, spy)
    return calls


def test_adding_a_queue_stores_its_settings_through_the_services(
    admin_client: Client, service_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    response = admin_client.post("/admin/jobs/queue/add/", {"name": "emails", "paused": "on", "concurrency": "2"})

    queue = Queue.objects.get(name="emails")
    assert response.status_code == 302
    assert (queue.paused, queue.concurrency) == (True, 2)
    assert service_calls == [
        ("set_queue_concurrency", {"name": "emails", "limit": 2}),
        ("pause_queue", {"name": "emails"}),
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "bad name!", "concurrency": ""}, "Use 1-100 letters, digits"),
        ({"name": "emails", "concurrency": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_queue_settings_are_form_errors(admin_client: Client, data: dict[str, str], error: str) -> None:
    response = admin_client.post("/admin/jobs/queue/add/", data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Queue.objects.exists()


def test_editing_a_queue_calls_only_the_services_for_what_changed(
    admin_client: Client, service_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    queue = services.pause_queue(name="emails")
    service_calls.clear()

    response = admin_client.post(change("queue", queue.pk), {"concurrency": "", "_save": "Save"})

    assert response.status_code == 302
    assert service_calls == [("resume_queue", {"name": "emails"})]
    assert Queue.objects.get(pk=queue.pk).paused is False


def test_queue_name_cannot_be_changed(admin_client: Client) -> None:
    queue = services.pause_queue(name="emails")

    admin_client.post(change("queue", queue.pk), {"name": "other", "paused": "on", "_save": "Save"})

    assert Queue.objects.get(pk=queue.pk).name == "emails"


def test_pause_and_resume_actions(admin_client: Client) -> None:
    emails, reports = services.resume_queue(name="emails"), services.resume_queue(name="reports")
    selected = {"_selected_action": [emails.pk, reports.pk], "index": 0}

    admin_client.post(changelist("queue"), {"action": "pause_selected", **selected})
    paused = set(Queue.objects.filter(paused=True).values_list("name", flat=True))
    admin_client.post(changelist("queue"), {"action": "resume_selected", **selected})

    assert paused == {"emails", "reports"}
    assert not Queue.objects.filter(paused=True).exists()


def test_queues_cannot_be_deleted(admin_client: Client) -> None:
    queue = services.pause_queue(name="emails")

    assert admin_client.post(f"/admin/jobs/queue/{queue.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(changelist("queue")).content.decode()


def test_max_depth_and_overflow_are_set_through_the_service(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/jobs/queue/add/",
        {"name": "mail", "concurrency": "", "max_depth": "50", "overflow": "block", "block_seconds": "2"},
    )

    queue = Queue.objects.get(name="mail")
    assert response.status_code == 302
    assert (queue.max_depth, queue.overflow, queue.block_seconds) == (50, "block", 2.0)
    assert "50" in admin_client.get("/admin/jobs/queue/").content.decode()


def test_a_bad_max_depth_is_a_form_error(admin_client: Client) -> None:
    response = admin_client.post("/admin/jobs/queue/add/", {"name": "mail", "max_depth": "0"})

    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()
    assert not Queue.objects.exists()
