"""Queues: counts by state and settings per queue; pause, resume and a concurrency limit for admins."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import queries
from dashboard.permissions import ADMIN, VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import listing, selectors, services
from jobs.exceptions import InvalidQueue, JobdeckError


@require_GET
@require(VIEWER)
def queues(request: HtmxHttpRequest) -> HttpResponse:
    """Per queue: counts by state, oldest waiting age, paused badge and limit; admins get the controls."""
    context = {"queues": selectors.queue_stats(cap=listing.STATE_COUNT_CAP), "poll": shared.POLL}
    if request.htmx:
        return render(request, "dashboard/queues.html#queue-table", context)
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
        else:
            limit = _concurrency(request.POST.get("limit", ""))
            services.set_queue_concurrency(name=name, limit=limit)
            text = f"Queue {name}: " + (f"at most {limit} running at once." if limit else "no concurrency limit.")
    except JobdeckError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, text)
    return HttpResponseRedirect(reverse("dashboard:queues"))
