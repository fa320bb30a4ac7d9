"""API personas (a writer token, a read-only token, session users) and a small JSON client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from jobs import tokens

BASE = "/api/v1"


class ApiClient:
    """Django's test client speaking JSON to /api/v1 with a bearer token (or none)."""

    def __init__(self, secret: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.secret = secret

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | str | None = None, **extra: Any) -> Any:
        headers = dict(extra.pop("headers", {}))
        if self.secret is not None:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"headers": headers, **extra}
        if data is not None:
            kwargs.update(data=data, content_type="application/json")
        response = getattr(self.client, method.lower())(BASE + path, **kwargs)
        return response

    def get(self, path: str, **extra: Any) -> Any:
        return self.request("GET", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("POST", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.request("PATCH", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.request("DELETE", path, **extra)


@pytest.fixture
def writer(django_user_model: Any, db: None) -> Any:
    return django_user_model.objects.create_user(username="alice", password="pw-alice")


@pytest.fixture
def token_secret(writer: Any) -> str:
    return tokens.create_token(username=writer.username, name="ci")[1]


@pytest.fixture
def api(token_secret: str) -> ApiClient:
    """A client with a read-write token."""
    return ApiClient(token_secret)


@pytest.fixture
def read_only_api(writer: Any) -> ApiClient:
    return ApiClient(tokens.create_token(username=writer.username, name="ro", read_only=True)[1])


@pytest.fixture
def anonymous_api(db: None) -> ApiClient:
    return ApiClient(None)


@pytest.fixture
def enqueue(api: ApiClient) -> Callable[..., int]:
    """POST /jobs and return the new job's id (the test fails on anything but 202)."""

    def post(**body: Any) -> int:
        body.setdefault("task", "tests.tasks.add")
        body.setdefault("payload", {"a": 1, "b": 2})
        response = api.post("/jobs", body)
        assert response.status_code == 202, response.content
        return response.json()["job_id"]

    return post
