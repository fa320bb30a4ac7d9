"""/healthz and /readyz: the web process's probes answer JSON, and liveness never touches the database."""

from __future__ import annotations

import pytest
from django.test import Client


def test_liveness_answers_without_touching_the_database(client: Client) -> None:
    # No db fixture: pytest-django fails any database access, so answering proves none was made.
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "OK"})
    assert "no-cache" in response["Cache-Control"]


def test_readiness_is_ok_when_the_database_answers(client: Client, db: None) -> None:
    response = client.get("/readyz")

    assert (response.status_code, response.json()) == (200, {"status": "OK"})


def test_readiness_is_503_json_when_the_database_is_unreachable(
    client: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobs.selectors.database_ok", lambda: False)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "DEGRADED", "reasons": ["database unreachable"]}


def test_liveness_answers_head_and_refuses_post(client: Client) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
