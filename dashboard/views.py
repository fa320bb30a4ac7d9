"""Dashboard pages (the live, htmx-driven dashboard grows here in issue 5)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from jobs import selectors


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    context = {
        "queues": selectors.queue_stats(),
        "workers": selectors.worker_list(),
        "recent": selectors.list_jobs(limit=20),
    }
    return render(request, "dashboard/overview.html", context)
