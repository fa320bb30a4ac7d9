"""Who may call the API: bearer tokens (valid, bad, revoked, read-only) and dashboard sessions with CSRF."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from jobs import tokens
from jobs.models import ApiToken, JobEvent
from tests.api.conftest import ApiClient

JOB = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def test_request_without_credentials_gets_401_json_with_challenge(anonymous_api: ApiClient) -> None:
    response = anonymous_api.get("/stats")

    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required: send 'Authorization: Bearer <token>'"}
    assert response["WWW-Authenticate"] == 'Bearer realm="jobdeck"'


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer jd_not-a-real-token", "Invalid or revoked token"),
        ("Bearer nonsense", "Invalid or revoked token"),
        ("Basic YWxpY2U6cHc=", "Authorization header must be 'Bearer <token>'"),
        ("Bearer ", "Authorization header must be 'Bearer <token>'"),
    ],
)
def test_bad_authorization_header_gets_401(anonymous_api: ApiClient, header: str, message: str) -> None:
    response = anonymous_api.get("/stats", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.json() == {"error": message}


def test_a_refused_token_is_logged_with_the_address_but_never_the_secret(
    anonymous_api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "jd_guessedsecretvalue123456"
    with caplog.at_level(logging.WARNING, logger="jobdeck.auth"):
        anonymous_api.get("/stats", headers={"Authorization": f"Bearer {secret}"}, REMOTE_ADDR="203.0.113.9")
        anonymous_api.get("/stats", headers={"Authorization": "Basic YWxpY2U6cHc="}, REMOTE_ADDR="203.0.113.9")
    lines = [r.getMessage() for r in caplog.records if r.name == "jobdeck.auth"]
    assert len(lines) == 2
    assert all("203.0.113.9" in line for line in lines)
    assert "jd_guessed" in lines[0] and secret not in lines[0]


def test_revoked_token_gets_401(writer: Any, api: ApiClient) -> None:
    assert api.get("/stats").status_code == 200
    tokens.revoke_token(token_id=ApiToken.objects.get().pk)

    response = api.get("/stats")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or revoked token"}


def test_token_of_inactive_user_gets_401(writer: Any, api: ApiClient) -> None:
    writer.is_active = False
    writer.save()

    assert api.get("/stats").status_code == 401


def test_read_only_token_may_read_but_not_write(read_only_api: ApiClient) -> None:
    assert read_only_api.get("/stats").status_code == 200

    response = read_only_api.post("/jobs", JOB)

    assert response.status_code == 403
    assert response.json() == {"error": "This token is read-only"}
    assert read_only_api.patch("/queues/default", {"concurrency": 2}).status_code == 403


def test_token_write_records_the_token_as_actor(api: ApiClient) -> None:
    job_id = api.post("/jobs", JOB).json()["job_id"]

    prefix = ApiToken.objects.get().prefix
    assert JobEvent.objects.get(job_id=job_id).actor == f"alice (token {prefix})"


@pytest.fixture
def session_client(writer: Any) -> Client:
    writer.user_permissions.add(Permission.objects.get(codename="change_job"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(writer)
    return client


def test_session_may_read_without_csrf_token(session_client: Client) -> None:
    response = ApiClient(client=session_client).get("/stats")

    assert response.status_code == 200


def test_session_write_without_csrf_token_is_refused(session_client: Client) -> None:
    response = ApiClient(client=session_client).post("/jobs", JOB)

    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check failed: send the X-CSRFToken header with session authentication"}


def test_session_write_with_csrf_token_is_accepted(session_client: Client) -> None:
    session_client.get("/admin/login/")  # sets the csrftoken cookie
    csrf = session_client.cookies["csrftoken"].value

    response = ApiClient(client=session_client).post("/jobs", JOB, headers={"X-CSRFToken": csrf})

    assert response.status_code == 202
    assert JobEvent.objects.get(job_id=response.json()["job_id"]).actor == "alice"


def test_session_user_without_change_permission_may_only_read(django_user_model: Any) -> None:
    viewer = django_user_model.objects.create_user(username="bob", password="pw")
    client = Client()
    client.force_login(viewer)
    api = ApiClient(client=client)

    assert api.get("/jobs").status_code == 200
    response = api.post("/jobs", JOB)
    assert response.status_code == 403
    assert response.json() == {"error": "You may not change jobs"}


def test_bearer_header_wins_over_session(session_client: Client) -> None:
    response = ApiClient("jd_wrong", client=session_client).get("/stats")

    assert response.status_code == 401


def test_health_needs_no_credentials(anonymous_api: ApiClient) -> None:
    assert anonymous_api.get("/health").status_code in (200, 503)
