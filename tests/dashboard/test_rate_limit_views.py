"""The queues page's Limits: every rate limit with its window's use, the busiest concurrency keys; admins
set and remove rate limits (a queue's beside its other settings), others only see them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobs import states
from jobs.models import RateLimit
from jobs.services import rate_limits

pytestmark = pytest.mark.django_db


def section(html: str, dom_id: str) -> str:
    match = re.search(rf'<table class="grid" id="{dom_id}">(.*?)</table>', html, re.S)
    assert match, html
    return match.group(1)


def test_viewers_see_the_limits_and_their_use_without_controls(viewer_client: Client, make_job: Any) -> None:
    rate_limits.set_rate_limit(scope="key", name="customer:42", max_starts=1, period=60)
    rate_limits.set_rate_limit(scope="task", name="tests.tasks.add", max_starts=100, period=3600)
    make_job(concurrency_key="customer:42")
    make_job(concurrency_key="customer:42")
    assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None

    html = viewer_client.get(reverse("dashboard:queues")).content.decode()

    limits = section(html, "rate-limits")
    key_row = re.search(r'<tr id="rate-limit-key-customer42">(.*?)</tr>', limits, re.S)
    assert key_row and "1 per 60 s" in key_row.group(1) and "full until" in key_row.group(1)
    task_row = re.search(r'<tr id="rate-limit-task-teststasksadd">(.*?)</tr>', limits, re.S)
    assert task_row and "100 per 3600 s" in task_row.group(1) and "now" in task_row.group(1)
    keys = section(html, "busiest-keys")
    assert re.search(
        r"customer:42</th>\s*<td class=\"num\">1</td>\s*<td class=\"num\">1</td>\s*<td class=\"num\">1</td>", keys
    )
    assert "rate_limit_set" not in html and "Remove" not in html and 'id="rate-limit-form"' not in html


def test_admin_sets_and_removes_a_key_limit(group_admin_client: Client) -> None:
    page = group_admin_client.post(
        reverse("dashboard:rate_limit_set"),
        {"scope": "key", "name": "tenant/7", "max_starts": "5", "period": "1.5"},
        follow=True,
    )

    assert "Rate limit set: key tenant/7: 5 per 1.5 s." in page.content.decode()
    assert RateLimit.objects.filter(scope="key", name="tenant/7", max_starts=5, period=1.5).exists()

    page = group_admin_client.post(
        reverse("dashboard:rate_limit_remove"), {"scope": "key", "name": "tenant/7"}, follow=True
    )

    assert "Rate limit of key tenant/7 removed." in page.content.decode()
    assert not RateLimit.objects.exists()


def test_admin_sets_a_queue_limit_beside_its_settings(group_admin_client: Client, make_job: Any) -> None:
    make_job(queue="mail")
    group_admin_client.post(
        reverse("dashboard:rate_limit_set"), {"scope": "queue", "name": "mail", "max_starts": "10", "period": "60"}
    )

    html = group_admin_client.get(reverse("dashboard:queues")).content.decode()

    assert 'value="10" placeholder="no limit" aria-label="Rate limit of mail: starts"' in html
    assert 'aria-label="Remove the rate limit of mail"' in html


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"scope": "key", "name": "k", "max_starts": "0", "period": "60"},
            "max_starts must be a whole number of at least 1",
        ),
        (
            {"scope": "key", "name": "k", "max_starts": "x", "period": "60"},
            "max_starts must be a whole number of at least 1",
        ),
        (
            {"scope": "key", "name": "k", "max_starts": "1", "period": "soon"},
            "period must be a positive number of seconds",
        ),
        (
            {"scope": "key", "name": "k", "max_starts": "1", "period": "90000"},
            "period must be a positive number of seconds",
        ),
        ({"scope": "key", "name": "", "max_starts": "1", "period": "60"}, "name must be a string of 1-255 characters"),
        ({"scope": "worker", "name": "k", "max_starts": "1", "period": "60"}, "scope must be queue, task or key"),
    ],
)
def test_a_bad_form_shows_the_error_and_changes_nothing(
    group_admin_client: Client, form: dict[str, str], error: str
) -> None:
    page = group_admin_client.post(reverse("dashboard:rate_limit_set"), form, follow=True)

    assert page.status_code == 200
    assert error in page.content.decode()
    assert not RateLimit.objects.exists()


def test_removing_a_missing_limit_says_so(group_admin_client: Client) -> None:
    page = group_admin_client.post(reverse("dashboard:rate_limit_remove"), {"scope": "key", "name": "k"}, follow=True)

    assert "No rate limit for key k" in page.content.decode()


@pytest.mark.parametrize("action", ["rate_limit_set", "rate_limit_remove"])
def test_operators_and_viewers_cannot_change_limits(
    viewer_client: Client, operator_client: Client, action: str
) -> None:
    rate_limits.set_rate_limit(scope="queue", name="default", max_starts=1, period=60)
    form = {"scope": "queue", "name": "default", "max_starts": "9", "period": "1"}

    assert viewer_client.post(reverse(f"dashboard:{action}"), form).status_code == 403
    assert operator_client.post(reverse(f"dashboard:{action}"), form).status_code == 403
    assert RateLimit.objects.get().max_starts == 1


def test_busiest_keys_are_ordered_and_bounded(make_job: Any) -> None:
    from jobs import limit_selectors

    for key, count in (("a", 1), ("b", 3), ("c", 2)):
        for _ in range(count):
            make_job(concurrency_key=key, concurrency_limit=5)
    make_job(concurrency_key="b", concurrency_limit=5)  # stays queued: claims take the oldest first
    for _ in range(6):
        assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None

    keys = limit_selectors.busiest_keys(limit=2)

    assert [(k.key, k.running, k.limit, k.waiting) for k in keys] == [("b", 3, 5, 1), ("c", 2, 5, 0)]
