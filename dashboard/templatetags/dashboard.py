"""Template helpers for the dashboard: relative times with the absolute UTC time on hover, durations,
counts ("1,000+"), cron expressions in words and links to task pages."""

from __future__ import annotations

import datetime
import html

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from dashboard import cron_words
from jobs import listing, options

register = template.Library()


def relative_time(value: datetime.datetime | None, now: datetime.datetime | None = None) -> SafeString | str:
    """`<time class="rel">` showing "5 minutes ago" (or "in 5 minutes"), the exact UTC time in its title.

    static/dashboard/app.js keeps the text current from the `datetime` attribute, with the same wording.
    """
    if value is None:
        return "-"
    now = now or timezone.now()
    utc = value.astimezone(datetime.UTC)
    gap = abs((now - value).total_seconds())
    # timesince() says "0 minutes" below a minute; seconds matter for live jobs.
    span = f"{gap:.0f} s" if gap < 60 else timesince(min(now, value), max(now, value), depth=1)
    text = html.escape(f"in {span}" if value > now else f"{span} ago")
    # An f-string, not format_html() and strftime(): the live job page prints one per timeline event,
    # a few thousand a second with many viewers. The two times hold only digits, "-", ":", "+", "T", ".".
    exact = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}"
    )
    return SafeString(f'<time class="rel" datetime="{utc.isoformat()}" title="{exact} UTC">{text}</time>')


@register.simple_tag
def reltime(value: datetime.datetime | None) -> SafeString | str:
    """{% reltime when %}: see relative_time()."""
    return relative_time(value)


@register.filter(name="reltime")
def reltime_filter(value: datetime.datetime | None) -> SafeString | str:
    """{{ when|reltime }}: see relative_time()."""
    return relative_time(value)


@register.filter
def seconds(value: float | datetime.timedelta | None) -> str:
    """A duration in the largest unit that keeps it readable: 850 ms, 12.3 s, 4 min, 2.5 h."""
    if value is None:
        return "-"
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{value / 60:.0f} min"
    if value < 86400:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


@register.filter
def priority_name(value: int) -> str:
    """The name of a named priority (10: "high"), or "" for other numbers."""
    return next((name for name, number in options.PRIORITY_NAMES.items() if number == value), "")


@register.filter
def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


@register.filter
def thousands(value: int) -> str:
    """12345 -> "12,345"."""
    return f"{value:,}"


@register.filter
def count_label(value: int, more: bool = False) -> str:
    """{{ count|count_label }} "1,234"; {{ count|count_label:capped }} "1,000+" (jobs.listing.count_label)."""
    return listing.count_label(value, more=more)


@register.filter(name="cron_words")
def cron_words_filter(expression: str) -> str:
    """{{ schedule.cron|cron_words }}: the expression in plain words, or as it is (dashboard.cron_words)."""
    return cron_words.describe(expression)


@register.simple_tag
def task_link(name: str) -> SafeString | str:
    """{% task_link job.task_name %}: the task's name linked to its page (plain text for a name no
    address can carry)."""
    try:
        url = reverse("dashboard:task_detail", args=[name])
    except NoReverseMatch:
        return name
    return format_html('<a href="{}" class="task-link">{}</a>', url, name)
