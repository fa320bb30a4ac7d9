"""jobs.tokens: secrets stored hashed, revocation, inactive users, and a throttled last_used_at."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model

from jobs import tokens
from jobs.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> object:
    return get_user_model().objects.create_user("bob", password="x")  # noqa: S106


def test_secret_is_random_prefixed_and_only_its_hash_stored(user: object) -> None:
    token, secret = tokens.create_token(username="bob", name="n")
    _, other = tokens.create_token(username="bob")
    assert secret.startswith("jd_") and len(secret) > 40 and secret != other
    assert token.prefix == secret[:10]
    assert ApiToken.objects.filter(key_hash=tokens._hash(secret)).exists()
    assert not ApiToken.objects.filter(key_hash=secret).exists()


@pytest.mark.parametrize("presented", ["", "jd_", "jd_wrong", "Bearer x", "x" * 5000, None, 42])
def test_unknown_or_malformed_secrets_do_not_authenticate(user: object, presented: object) -> None:
    tokens.create_token(username="bob")
    assert tokens.authenticate(presented) is None  # type: ignore[arg-type]


def test_inactive_user_cannot_use_a_token(user: object) -> None:
    _, secret = tokens.create_token(username="bob")
    get_user_model().objects.filter(username="bob").update(is_active=False)
    assert tokens.authenticate(secret) is None


def test_revoke_is_idempotent_and_unknown_token_is_an_error(user: object) -> None:
    token, secret = tokens.create_token(username="bob")
    first = tokens.revoke_token(token_id=token.pk).revoked_at
    assert first is not None
    assert tokens.revoke_token(token_id=token.pk).revoked_at == first
    assert tokens.authenticate(secret) is None
    with pytest.raises(tokens.TokenError, match="Token not found"):
        tokens.revoke_token(token_id=token.pk + 1000)


def test_last_used_is_written_at_most_once_a_minute(user: object, django_assert_num_queries) -> None:  # noqa: ANN001
    token, secret = tokens.create_token(username="bob")
    with django_assert_num_queries(2):  # lookup + first last_used_at write
        assert tokens.authenticate(secret) == token
    with django_assert_num_queries(1):  # lookup only
        tokens.authenticate(secret)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=token.created_at - datetime.timedelta(minutes=5))
    with django_assert_num_queries(2):
        tokens.authenticate(secret)
