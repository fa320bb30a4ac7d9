"""Workers: each process, alive first, with its heartbeat and the jobs it runs now."""

from __future__ import annotations

import datetime

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.permissions import VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import selectors
from jobs.conf import engine_settings


@require_GET
@require(VIEWER)
def workers(request: HtmxHttpRequest) -> HttpResponse:
    """Worker processes, alive first, with the jobs each one holds now; gone ones until pruned."""
    lease = datetime.timedelta(seconds=engine_settings().lease_seconds)
    context = {"workers": selectors.worker_list(), "lease": lease, "poll": shared.POLL}
    if request.htmx:
        return render(request, "dashboard/workers.html#worker-table", context)
    return shared.page(request, "dashboard/workers.html", context)
