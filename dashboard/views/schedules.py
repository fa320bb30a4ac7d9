"""Schedules: each one with its cron in words and its runs; run now, enable and disable."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard.permissions import ADMIN, OPERATOR, VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import selectors
from jobs.exceptions import JobdeckError
from jobs.services import schedules


@require_GET
@require(VIEWER)
def schedules_page(request: HtmxHttpRequest) -> HttpResponse:
    """Every schedule with its cron in words, next and last run, and the actions the user's role allows."""
    return shared.page(request, "dashboard/schedules.html", {"schedules": selectors.schedule_list()})


@require_POST
@require(ADMIN)
def schedule_enable(request: HtmxHttpRequest, schedule_id: int, enabled: bool) -> HttpResponse:
    """Enable or disable a database schedule (settings schedules are refused by the service)."""
    back = reverse("dashboard:schedules")
    try:
        schedule = schedules.set_schedule_enabled(schedule_id=schedule_id, enabled=enabled, actor=shared.actor(request))
    except JobdeckError as exc:
        return shared.refused(request, exc, back=back)
    messages.success(request, f"Schedule {schedule.name} {'enabled' if enabled else 'disabled'}.")
    return HttpResponseRedirect(back)


@require_POST
@require(OPERATOR)
def schedule_run_now(request: HtmxHttpRequest, schedule_id: int) -> HttpResponse:
    """Enqueue a schedule's job now (its cron timing is unchanged)."""
    back = reverse("dashboard:schedules")
    try:
        job = schedules.run_schedule_now(schedule_id=schedule_id, actor=shared.actor(request))
    except JobdeckError as exc:
        return shared.refused(request, exc, back=back)
    messages.success(request, f"Job {job.pk} enqueued from the schedule.")
    return HttpResponseRedirect(back)
