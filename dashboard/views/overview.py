"""The overview: per-queue health, charts, alive workers and the newest jobs, kept live."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard import charts, fragments
from dashboard.permissions import VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import selectors


@require_GET
@require(VIEWER)
def overview(request: HtmxHttpRequest) -> HttpResponse:
    cursor = selectors.last_event_id()  # read before the data: whatever happens later is re-sent live
    context = {
        **fragments.overview_context(),
        **charts.overview_charts(last_event_id=cursor),
        "cursor": cursor,
        "live_url": reverse("dashboard:ws_overview"),
    }
    if request.htmx:
        return render(request, "dashboard/overview.html#overview-live", context)
    return shared.page(request, "dashboard/overview.html", context)
