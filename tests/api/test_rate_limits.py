"""/rate-limits: listed with their window's use, set and removed; names with ':', '/' and '.'."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jobs import services, states
from jobs.models import RateLimit
from tests.api.conftest import ApiClient

LIMIT = {"max_starts": 1, "period": 60}


def test_a_limit_is_set_listed_and_removed(api: ApiClient) -> None:
    put = api.request("PUT", "/rate-limits/queue/default", {"max_starts": 10, "period": 30.5})

    assert put.status_code == 200
    assert put.json() == {
        "scope": "queue",
        "name": "default",
        "max_starts": 10,
        "period": 30.5,
        "starts": 0,
        "next_start_at": None,
    }
    assert api.get("/rate-limits").json() == [put.json()]
    assert api.delete("/rate-limits/queue/default").status_code == 204
    assert api.get("/rate-limits").json() == []
    assert not RateLimit.objects.exists()


def test_put_replaces_the_limit(api: ApiClient) -> None:
    api.request("PUT", "/rate-limits/task/tests.tasks.add", LIMIT)
    api.request("PUT", "/rate-limits/task/tests.tasks.add", {"max_starts": 5, "period": 1})

    assert [(r["max_starts"], r["period"]) for r in api.get("/rate-limits").json()] == [(5, 1.0)]


@pytest.mark.parametrize("name", ["customer:42", "tenant/7/eu", "a.b.c", "with space", "x" * 255])
def test_a_key_name_with_colons_slashes_and_dots_round_trips(api: ApiClient, name: str) -> None:
    path = "/rate-limits/key/" + name.replace(" ", "%20")
    assert api.request("PUT", path, LIMIT).json()["name"] == name
    assert RateLimit.objects.get().name == name
    assert api.delete(path).status_code == 204


def test_the_list_shows_the_starts_in_the_window_and_the_next_free_start(api: ApiClient) -> None:
    api.request("PUT", "/rate-limits/key/customer:42", LIMIT)
    api.request("PUT", "/rate-limits/queue/default", {"max_starts": 100, "period": 60})
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], concurrency_key="customer:42"))
    before = timezone.now()
    assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None

    by_name = {r["name"]: r for r in api.get("/rate-limits").json()}
    only_keys = api.get("/rate-limits?scope=key").json()

    assert (by_name["customer:42"]["starts"], by_name["default"]["starts"]) == (1, 1)
    assert by_name["default"]["next_start_at"] is None
    next_at = datetime.datetime.fromisoformat(by_name["customer:42"]["next_start_at"])
    assert before + datetime.timedelta(seconds=59) < next_at <= timezone.now() + datetime.timedelta(seconds=60)
    assert [r["name"] for r in only_keys] == ["customer:42"]


def test_removing_a_missing_limit_is_404(api: ApiClient) -> None:
    response = api.delete("/rate-limits/key/customer:42")

    assert response.status_code == 404
    assert response.json() == {"error": "Rate limit not found"}


@pytest.mark.parametrize(
    ("path", "body", "word"),
    [
        ("/rate-limits/queue/default", {"max_starts": 0, "period": 60}, "max_starts"),
        ("/rate-limits/queue/default", {"max_starts": 1.5, "period": 60}, "max_starts"),
        ("/rate-limits/queue/default", {"max_starts": 1, "period": 0}, "period"),
        ("/rate-limits/queue/default", {"max_starts": 1, "period": 86_401}, "period"),
        ("/rate-limits/queue/default", {"max_starts": 1}, "period"),
        ("/rate-limits/queue/default", {"max_starts": 1, "period": 1, "burst": 2}, "burst"),
        ("/rate-limits/worker/default", LIMIT, "scope"),
        ("/rate-limits/key/" + "x" * 256, LIMIT, "name"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: ApiClient, path: str, body: dict[str, object], word: str) -> None:
    response = api.request("PUT", path, body)

    assert response.status_code == 400
    assert word in response.json()["error"]
    assert not RateLimit.objects.exists()


def test_an_unknown_list_scope_is_a_400(api: ApiClient) -> None:
    response = api.get("/rate-limits?scope=worker")

    assert response.status_code == 400
    assert "scope" in response.json()["error"]


def test_a_read_only_token_lists_but_cannot_change(api: ApiClient, read_only_api: ApiClient) -> None:
    api.request("PUT", "/rate-limits/queue/default", LIMIT)

    assert read_only_api.get("/rate-limits").status_code == 200
    assert read_only_api.request("PUT", "/rate-limits/queue/default", {"max_starts": 9, "period": 1}).status_code == 403
    assert read_only_api.delete("/rate-limits/queue/default").status_code == 403
    assert RateLimit.objects.get().max_starts == 1
