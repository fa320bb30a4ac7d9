"""The dashboard's feel on the server side: relative times, the shortcuts help, the role hint for keys."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from dashboard.templatetags.dashboard import relative_time

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (datetime.timedelta(seconds=-12), "12 s ago"),
        (datetime.timedelta(minutes=-3, seconds=-20), "3\xa0minutes ago"),
        (datetime.timedelta(hours=-1, minutes=-5), "1\xa0hour ago"),
        (datetime.timedelta(days=-2, hours=-3), "2\xa0days ago"),
        (datetime.timedelta(minutes=5), "in 5\xa0minutes"),
    ],
)
def test_relative_time_reads_like_speech_with_the_utc_time_on_hover(delta: datetime.timedelta, text: str) -> None:
    when = NOW + delta
    html = relative_time(when, now=NOW)
    utc = when.strftime("%Y-%m-%d %H:%M:%S")
    assert html == f'<time class="rel" datetime="{when.isoformat()}" title="{utc}.000 UTC">{text}</time>'


def test_relative_time_of_nothing_is_a_dash() -> None:
    assert relative_time(None) == "-"


def test_reltime_works_as_a_tag_and_as_a_filter() -> None:
    when = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    template = Template("{% load dashboard %}{% reltime when %}|{{ when|reltime }}")
    tag, filtered = template.render(Context({"when": when})).split("|")
    assert tag == filtered
    assert tag.startswith('<time class="rel" datetime="2020-01-01T00:00:00+00:00" title="2020-01-01 00:00:00.000 UTC">')


@pytest.mark.django_db
def test_pages_carry_the_shortcuts_help_with_every_destination(viewer_client: Client) -> None:
    html = viewer_client.get(reverse("dashboard:overview")).content.decode()
    help_html = html[html.index('<dialog id="shortcuts"') : html.index("</dialog>")]
    for key, name in [("o", "overview"), ("j", "jobs"), ("f", "failed"), ("q", "queues"), ("w", "workers")]:
        assert f'<a href="{reverse(f"dashboard:{name}")}" data-go="{key}">' in help_html
    assert f'<a href="{reverse("dashboard:schedules")}" data-go="s">' in help_html
    assert f'data-cancel-url="{reverse("dashboard:job_cancel", args=[0])}"' in help_html
    assert f'data-retry-url="{reverse("dashboard:job_retry", args=[0])}"' in help_html
    assert 'id="help-toggle"' in html


@pytest.mark.django_db
def test_only_roles_that_may_act_get_the_keyboard_action_hint(viewer_client: Client, operator_client: Client) -> None:
    # A hint for app.js only: the server refuses a viewer's POST whatever the page says.
    assert "<body>" in viewer_client.get(reverse("dashboard:jobs")).content.decode()
    assert "<body data-operate>" in operator_client.get(reverse("dashboard:jobs")).content.decode()


def test_login_page_has_no_shortcuts_help(client: Client, db: Any) -> None:
    html = client.get(reverse("dashboard:login")).content.decode()
    assert "shortcuts" not in html and "<body>" in html


def test_overview_marks_counts_that_stopped_at_a_cap() -> None:
    from django.template.loader import render_to_string

    from jobs.selectors import QueueStats

    stats = QueueStats("big", capped={"done"})
    stats.counts["done"], stats.counts["queued"] = 10_000, 7
    html = render_to_string(
        "dashboard/overview.html#overview-live",
        {"queues": {"big": stats}, "workers": [], "recent": [], "performance": [], "chart_json": "{}"},
    )
    assert 'title="at least 10,000: counted up to a cap">10,000+</a>' in html
    assert 'class="status-count status-queued">7</a>' in html
