"""Tasks: every task with its figures, and a page per task (jobs.task_stats), refreshed by polling."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.permissions import VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import task_stats
from jobs.exceptions import JobdeckError


@require_GET
@require(VIEWER)
def tasks(request: HtmxHttpRequest) -> HttpResponse:
    """Every registered task (and those only live workers have) with figures from its newest jobs."""
    context = {"tasks": task_stats.task_list(), "sample": task_stats.LIST_SAMPLE, "poll": shared.POLL}
    if request.htmx:
        return render(request, "dashboard/tasks.html#task-table", context)
    return shared.page(request, "dashboard/tasks.html", context)


@require_GET
@require(VIEWER)
def task_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """One task: throughput, outcomes, run and wait percentiles, retries, errors, schedules, versions
    and workers. An unknown task is the 404 page."""
    try:
        figures = task_stats.task_figures(name)
    except JobdeckError as exc:
        return shared.error_page(request, exc)
    context = {"task": figures, "poll": shared.POLL}
    if request.htmx:
        return render(request, "dashboard/task_detail.html#task-live", context)
    return shared.page(request, "dashboard/task_detail.html", context)
