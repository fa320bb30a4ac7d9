"""Queues: counts by state and settings per queue; pause, resume, a concurrency limit, a waiting limit
(back-pressure) and a default retry policy for admins."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import queries
from dashboard.permissions import ADMIN, VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import limit_selectors, listing, options, retry, selectors, services
from jobs.exceptions import InvalidQueue, JobdeckError
from jobs.models import RateLimit


@require_GET
@require(VIEWER)
def queues(request: HtmxHttpRequest) -> HttpResponse:
    """Per queue: counts by state, oldest waiting age, paused badge and limit; admins get the controls."""
    stats = selectors.queue_stats(cap=listing.STATE_COUNT_CAP)
    context: dict[str, Any] = {"queues": stats, "poll": shared.POLL}
    if request.htmx:
        return render(request, "dashboard/queues.html#queue-table", context)
    # Limits: every rate limit with its window's use (each queue's also beside its settings), and the
    # concurrency keys with the most running jobs.
    usage = limit_selectors.rate_limit_usage()
    context["rate_limits"] = usage
    by_queue = {u.name: u for u in usage if u.scope == "queue"}
    context["queue_rows"] = [(name, q, by_queue.get(name)) for name, q in stats.items()]
    context["busiest_keys"] = limit_selectors.busiest_keys()
    context["scopes"] = RateLimit.Scope.choices
    return shared.page(request, "dashboard/queues.html", context)


def _concurrency(value: str) -> int | None:
    """The concurrency form's value: "" means no limit; anything else must be a whole number."""
    value = value.strip()
    if not value:
        return None
    number = queries.int_or_none(value)
    if number is None:
        raise InvalidQueue("concurrency must be a whole number of at least 1, or empty for no limit")
    return number


def _set_retry_policy(name: str, form: QueryDict) -> str:
    """The retry policy form: backoff as kind:base:cap:jitter, exception names comma-separated; empty: unset."""
    text = form.get("backoff", "").strip()
    try:
        backoff = retry.parse_backoff_text(text).as_json() if text else None
    except ValueError as exc:
        raise InvalidQueue(str(exc)) from None
    names = {
        field: [n.strip() for n in form.get(field, "").split(",") if n.strip()] or None
        for field in ("retry_on", "discard_on")
    }
    queue = services.set_queue_retry_policy(name=name, backoff=backoff, **names)
    return f"Queue {name}: " + ("default retry policy set." if queue.retry_policy else "no default retry policy.")


def _set_max_depth(name: str, form: QueryDict) -> str:
    """The waiting-limit form: max depth ("": no limit), overflow, block seconds."""
    text = form.get("max_depth", "").strip()
    max_depth = queries.int_or_none(text) if text else None
    if text and max_depth is None:
        raise InvalidQueue("max_depth must be a whole number of at least 1, or empty for no limit")
    seconds_text = form.get("block_seconds", "").strip()
    try:
        block_seconds = float(seconds_text) if seconds_text else None
    except ValueError:
        raise InvalidQueue(options.BLOCK_SECONDS_ERROR) from None
    queue = services.set_queue_max_depth(
        name=name, max_depth=max_depth, overflow=form.get("overflow") or None, block_seconds=block_seconds
    )
    if queue.max_depth is None:
        return f"Queue {name}: no waiting limit."
    then = f"wait up to {queue.block_seconds:g} s" if queue.overflow == "block" else "are refused"
    return f"Queue {name}: at most {queue.max_depth} waiting; new jobs past it {then}."


@require_POST
@require(ADMIN)
def queue_action(request: HtmxHttpRequest, name: str, action: str) -> HttpResponse:
    """Pause, resume or limit a queue through its service; back to the queues page with the outcome."""
    try:
        if action == "pause":
            services.pause_queue(name=name)
            text = f"Queue {name} paused: running jobs finish, no new ones start."
        elif action == "resume":
            services.resume_queue(name=name)
            text = f"Queue {name} resumed."
        elif action == "retry":
            text = _set_retry_policy(name, request.POST)
        elif action == "max_depth":
            text = _set_max_depth(name, request.POST)
        else:
            limit = _concurrency(request.POST.get("limit", ""))
            services.set_queue_concurrency(name=name, limit=limit)
            text = f"Queue {name}: " + (f"at most {limit} running at once." if limit else "no concurrency limit.")
    except JobdeckError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, text)
    return HttpResponseRedirect(reverse("dashboard:queues"))
