"""Password guessing through the real login forms: throttled per user name and per address, logged,
and shown to admins; the real user is locked out only for the cool-off, never for good."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests.dashboard.conftest import PASSWORD, client_for, make_user

LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(password: str, *, username: str = "operator", address: str = "203.0.113.7", path: str = "/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Dozens of sign-ins per test: a fast hasher keeps them cheap (all in this process)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator_user(db: None) -> User:
    return make_user("operator", "operator")


def test_wrong_passwords_lock_the_name_then_the_right_one_is_refused_too(operator_user: User) -> None:
    for _ in range(LIMIT - 1):
        assert sign_in("guess").status_code == 200  # the form again, with its error
    locked = sign_in("guess")
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert f"locked after {LIMIT} failed attempts".encode() in locked.content
    # The right password does not get in during the cool-off, from this address or any other.
    assert sign_in(PASSWORD).status_code == 429
    assert sign_in(PASSWORD, address="198.51.100.9").status_code == 429


def test_the_lock_lifts_after_the_cool_off(operator_user: User) -> None:
    for _ in range(LIMIT):
        sign_in("guess")
    assert sign_in(PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response = sign_in(PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_one_address_guessing_many_names_is_locked(operator_user: User) -> None:
    for n in range(LIMIT):
        sign_in("guess", username=f"someone{n}")
    assert sign_in(PASSWORD).status_code == 429  # the operator, from the guessing address
    assert sign_in(PASSWORD, address="198.51.100.9").status_code == 302  # and from elsewhere, fine


def test_a_success_resets_the_count(operator_user: User) -> None:
    for _ in range(LIMIT - 1):
        sign_in("guess")
    assert sign_in(PASSWORD).status_code == 302
    for _ in range(LIMIT - 1):
        assert sign_in("guess").status_code == 200


def test_the_admin_login_is_throttled_too(db: None) -> None:
    make_user("boss", superuser=True)
    for _ in range(LIMIT):
        sign_in("guess", username="boss", path="/admin/login/")
    response = sign_in(PASSWORD, username="boss", path="/admin/login/")
    assert response.status_code == 429


def test_every_failure_is_logged_with_name_and_address(operator_user: User, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="axes"):
        sign_in("guess")
    line = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("axes"))
    assert "operator" in line and "203.0.113.7" in line
    assert "guess" not in line  # never the password


def test_admins_see_recent_failures(operator_user: User) -> None:
    sign_in("guess")
    admin = client_for(make_user("boss", superuser=True))
    page = admin.get("/admin/axes/accessfailurelog/")
    assert page.status_code == 200
    assert b"operator" in page.content and b"203.0.113.7" in page.content
