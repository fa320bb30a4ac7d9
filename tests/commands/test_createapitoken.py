"""`manage.py createapitoken`: the secret it prints works once stored as a hash; refusals are one line."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from jobs import tokens
from jobs.models import ApiToken
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("createapitoken", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def alice() -> object:
    return get_user_model().objects.create_user("alice", password="x")  # noqa: S106


def test_prints_a_secret_that_authenticates_and_is_stored_only_hashed(alice: object) -> None:
    output = run("alice", "--name", "ci deploys")

    first, secret = output.splitlines()
    token = ApiToken.objects.get()
    assert first == f"Created token {token.prefix}… for alice. It is shown only once:"
    assert secret.startswith(token.prefix)
    assert (token.name, token.read_only, token.user) == ("ci deploys", False, alice)
    assert secret not in {token.key_hash, token.prefix}
    assert tokens.authenticate(secret) == token


def test_read_only_and_quiet(alice: object) -> None:
    secret = run("alice", "--read-only", "--quiet").strip()

    token = tokens.authenticate(secret)
    assert token is not None and token.read_only


def test_each_call_makes_a_new_token(alice: object) -> None:
    assert run("alice", "--quiet") != run("alice", "--quiet")
    assert ApiToken.objects.count() == 2


def test_revoked_token_no_longer_authenticates(alice: object) -> None:
    secret = run("alice", "--quiet").strip()
    tokens.revoke_token(token_id=ApiToken.objects.get().pk)
    assert tokens.authenticate(secret) is None


def test_unknown_user_is_refused() -> None:
    with pytest.raises(CommandError, match="^No user named 'nobody'$"):
        run("nobody")
    assert not ApiToken.objects.exists()


def test_over_long_name_is_refused(alice: object) -> None:
    with pytest.raises(CommandError, match="at most 100 characters"):
        run("alice", "--name", "x" * 101)


def test_missing_user_argument_exits_non_zero_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "createapitoken"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith("the following arguments are required: username")
