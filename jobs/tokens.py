"""API tokens: create (the secret is returned once), revoke, and look up a presented secret."""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.utils import timezone

from jobs import dbguard
from jobs.dbguard import write_service
from jobs.exceptions import JobdeckError
from jobs.models import ApiToken

SECRET_PREFIX = "jd_"  # noqa: S105 - a marker, not a secret
DISPLAY_CHARS = 10  # "jd_" and 7 characters of the secret: enough to tell tokens apart
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)  # write last_used_at at most this often

logger = logging.getLogger("jobs.tokens")


class TokenError(JobdeckError):
    """A token request is not acceptable (unknown user, bad name)."""


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@write_service
def create_token(*, username: str, name: str = "", read_only: bool = False) -> tuple[ApiToken, str]:
    """Create a token for an existing user. Returns the row and the secret (not stored; show it once)."""
    user_model = get_user_model()
    try:
        user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
    except user_model.DoesNotExist:
        raise TokenError(f"No user named '{username}'") from None
    if len(name) > 100:
        raise TokenError("Token name must be at most 100 characters")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:DISPLAY_CHARS],
        key_hash=_hash(secret),
        read_only=read_only,
        created_at=timezone.now(),
    )
    return token, secret


@write_service
def revoke_token(*, token_id: int) -> ApiToken:
    """Revoke a token; requests with it are refused from now on. Revoking twice is harmless."""
    try:
        token = ApiToken.objects.get(pk=token_id)
    except (ApiToken.DoesNotExist, ValueError, TypeError):
        raise TokenError("Token not found") from None
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
    return token


def authenticate(secret: str) -> ApiToken | None:
    """The active token with this secret, with its user, or None (unknown, revoked or inactive user)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(secret), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime.datetime) -> None:
    """Record when a token was last used. Bookkeeping: it never fails the request (a full disk or a
    held lock refuses this write while the request itself may only read), and while this process has
    seen writes refused it is skipped rather than made to wait out the lock again."""
    if dbguard.recent_refusal() is not None:
        return
    try:
        # One autocommit UPDATE (requests run outside transactions): a refusal leaves nothing to undo.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    except DatabaseError as exc:
        dbguard.record_refusal(exc)
        logger.warning("could not record the use of API token %s: %s", token.prefix, exc)
        return
    token.last_used_at = now
