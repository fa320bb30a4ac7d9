"""/jobs: concurrency_key and concurrency_limit as the API takes and shows them."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import states
from jobs.models import Job
from tests.api.conftest import ApiClient

ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def test_a_key_and_limit_are_stored_and_shown(api: ApiClient) -> None:
    job_id = api.post("/jobs", ADD | {"concurrency_key": "customer:42", "concurrency_limit": 3}).json()["job_id"]

    detail = api.get(f"/jobs/{job_id}").json()

    assert (detail["concurrency_key"], detail["concurrency_limit"]) == ("customer:42", 3)


def test_a_full_key_shows_as_the_waiting_reason(api: ApiClient) -> None:
    first = api.post("/jobs", ADD | {"concurrency_key": "customer:42"}).json()["job_id"]
    second = api.post("/jobs", ADD | {"concurrency_key": "customer:42"}).json()["job_id"]
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == first

    detail = api.get(f"/jobs/{second}").json()

    assert "waiting for key customer:42 (1 of 1 running)" in detail["waiting_reason"]


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"concurrency_key": ""}, "concurrency_key"),
        ({"concurrency_key": 42}, "concurrency_key"),
        ({"concurrency_key": "k", "concurrency_limit": 0}, "concurrency_limit"),
        ({"concurrency_key": "k", "concurrency_limit": "2"}, "concurrency_limit"),
    ],
)
def test_bad_concurrency_options_are_400(api: ApiClient, db: None, fields: dict[str, Any], word: str) -> None:
    response = api.post("/jobs", ADD | fields)

    assert response.status_code == 400
    assert word in response.json()["error"]
    assert not Job.objects.exists()


def test_a_limit_without_a_key_is_400(api: ApiClient, db: None) -> None:
    response = api.post("/jobs", ADD | {"concurrency_limit": 2})

    assert (response.status_code, response.json()) == (400, {"error": "concurrency_limit needs a concurrency_key"})
