"""Who is calling: a bearer token (jobs.tokens) or a logged-in dashboard session, and what it may do."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from jobs import tokens
from jobs.api.errors import Forbidden, NotAuthenticated
from jobs.models import ApiToken

log = logging.getLogger("jobdeck.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_PERMISSION = "jobs.change_job"  # what a session user needs for unsafe methods


@dataclass(frozen=True)
class Caller:
    """The authenticated caller, as `request.auth`."""

    user: Any
    token: ApiToken | None
    read_only: bool

    @property
    def actor(self) -> str:
        """How job history names this caller."""
        name = self.user.get_username()
        return f"{name} (token {self.token.prefix})" if self.token else name


def authenticate(request: HttpRequest) -> Caller:
    """The caller of `request`, or an error: 401 without valid credentials, 403 for a write it may not make.

    A request with an Authorization header is judged by it alone; without one, a logged-in
    session is accepted, with Django's CSRF check on unsafe methods (a cookie alone is not enough).
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            log_refused(request, "malformed Authorization header")
            raise NotAuthenticated("Authorization header must be 'Bearer <token>'")
        token = tokens.authenticate(secret.strip())
        if token is None:
            log_refused(request, f"invalid or revoked token {secret.strip()[: tokens.DISPLAY_CHARS]!r}...")
            raise NotAuthenticated("Invalid or revoked token")
        caller = Caller(user=token.user, token=token, read_only=token.read_only)
    elif request.user.is_authenticated:
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise Forbidden("CSRF check failed: send the X-CSRFToken header with session authentication")
        caller = Caller(user=request.user, token=None, read_only=not request.user.has_perm(WRITE_PERMISSION))
    else:
        raise NotAuthenticated("Authentication required: send 'Authorization: Bearer <token>'")
    if caller.read_only and request.method not in SAFE_METHODS:
        raise Forbidden("This token is read-only" if caller.token else "You may not change jobs")
    return caller


def log_refused(request: HttpRequest, why: str) -> None:
    """Log a refused credential with the caller's address, as failed sign-ins are (only the
    token's public prefix, never the secret), so token guessing shows in the logs."""
    log.warning("API: %s from %s (%s %s)", why, request.META.get("REMOTE_ADDR", "?"), request.method, request.path)


class ApiAuth(HttpBearer):
    """Bearer token or session (see authenticate()); shown in OpenAPI as HTTP bearer."""

    def __call__(self, request: HttpRequest) -> Caller:
        return authenticate(request)

    def authenticate(self, request: HttpRequest, token: str) -> Caller:  # pragma: no cover - __call__ decides
        return authenticate(request)


def actor(request: HttpRequest) -> str:
    """The job-history name of the caller of an authenticated operation."""
    caller: Caller = request.auth  # type: ignore[attr-defined]  # set by ninja; HttpRequest's stub lacks it
    return caller.actor
