"""Rate limit admin: adds, edits and deletes go through the rate-limit services."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from jobs.models import RateLimit
from jobs.services import rate_limits
from tests.admin.conftest import change, changelist


@pytest.fixture
def service_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Record every rate-limit service call (the services still run)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for name in ("set_rate_limit", "remove_rate_limit"):
        real = getattr(rate_limits, name)

        def spy(*, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _real(**kwargs)

        monkeypatch.setattr(rate_limits, name, spy)
    return calls


def test_adding_editing_and_deleting_go_through_the_services(
    admin_client: Client, service_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    form = {"scope": "key", "name": "customer:42", "max_starts": "3", "period": "60"}
    assert admin_client.post("/admin/jobs/ratelimit/add/", form).status_code == 302
    limit = RateLimit.objects.get()
    assert admin_client.post(change("ratelimit", limit.pk), {"max_starts": "5", "period": "30"}).status_code == 302
    assert (RateLimit.objects.get().max_starts, RateLimit.objects.get().period) == (5, 30.0)
    delete = {"action": "delete_selected", "_selected_action": [limit.pk], "post": "yes"}
    assert admin_client.post(changelist("ratelimit"), delete).status_code == 302

    assert not RateLimit.objects.exists()
    assert [call[0] for call in service_calls] == ["set_rate_limit", "set_rate_limit", "remove_rate_limit"]
    assert service_calls[1][1] == {"scope": "key", "name": "customer:42", "max_starts": 5, "period": 30.0}


def test_a_bad_value_is_a_form_error(admin_client: Client) -> None:
    form = {"scope": "key", "name": "k", "max_starts": "0", "period": "60"}

    response = admin_client.post("/admin/jobs/ratelimit/add/", form)

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    assert not RateLimit.objects.exists()
