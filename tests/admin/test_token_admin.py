"""API token admin: the add form calls create_token and shows the secret once; revoke calls revoke_token."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.messages import get_messages
from django.test import Client

from jobs import tokens
from jobs.models import ApiToken
from tests.admin.conftest import change, changelist


def add_token(client: Client, user: Any, **data: str) -> tuple[Any, str]:
    response = client.post("/admin/jobs/apitoken/add/", {"user": user.pk, "name": "ci", **data})
    assert response.status_code == 200, response.content.decode()[:2000]
    match = re.search(r'id="token-secret" value="(jd_[A-Za-z0-9_-]+)"', response.content.decode())
    assert match is not None
    return response, match.group(1)


def test_adding_a_token_shows_its_secret_once_and_it_authenticates(admin_client: Client, admin_user: Any) -> None:
    response, secret = add_token(admin_client, admin_user, read_only="on")

    token = ApiToken.objects.get()
    authenticated = tokens.authenticate(secret)
    assert authenticated is not None and authenticated.pk == token.pk and authenticated.read_only
    assert (token.name, token.user_id, token.prefix) == ("ci", admin_user.pk, secret[:10])
    assert "no-store" in response["Cache-Control"]
    assert all(secret not in str(m) for m in get_messages(response.wsgi_request))
    for page in (admin_client.get(changelist("apitoken")), admin_client.get(change("apitoken", token.pk))):
        body = page.content.decode()
        assert secret not in body and token.key_hash not in body
        assert f"{token.prefix}…" in body


def test_add_form_asks_only_user_name_and_read_only(admin_client: Client) -> None:
    page = admin_client.get("/admin/jobs/apitoken/add/").content.decode()

    assert 'name="user"' in page and 'name="name"' in page and 'name="read_only"' in page
    assert 'name="key_hash"' not in page and 'name="prefix"' not in page


def test_tokens_are_never_edited(admin_client: Client, admin_user: Any) -> None:
    token, _ = tokens.create_token(username=admin_user.username, name="ci")

    page = admin_client.get(change("apitoken", token.pk)).content.decode()
    post = admin_client.post(change("apitoken", token.pk), {"user": admin_user.pk, "name": "renamed"})

    assert 'name="_save"' not in page
    assert post.status_code == 403
    assert ApiToken.objects.get(pk=token.pk).name == "ci"


def test_revoke_action_revokes_the_selected_tokens(admin_client: Client, admin_user: Any) -> None:
    revoked, secret = tokens.create_token(username=admin_user.username, name="old")
    kept, kept_secret = tokens.create_token(username=admin_user.username, name="new")

    response = admin_client.post(
        changelist("apitoken"), {"action": "revoke_selected", "_selected_action": [revoked.pk], "index": 0}
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 token revoked"]
    assert tokens.authenticate(secret) is None
    assert tokens.authenticate(kept_secret) is not None
    active = admin_client.get(changelist("apitoken") + "?state=active").context["cl"].result_list
    assert [t.pk for t in active] == [kept.pk]
