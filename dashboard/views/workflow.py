"""A job's workflow: the jobs connected to it by dependencies, drawn as a graph that refreshes while
any of them is unfinished, with "retry the failed part" and "cancel the rest"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import graph
from dashboard.permissions import OPERATOR, VIEWER, access_for, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import services, workflow_graph
from jobs.exceptions import JobdeckError
from jobs.status import Status

POLL = "every 2s"  # while a job of the workflow is unfinished; the fragment drops its trigger after


def _context(job_id: int) -> dict[str, Any]:
    flow = workflow_graph.workflow(job_id)
    labels = dict(Status.choices)
    nodes = [
        graph.Node(
            id=job.pk,
            status=job.status,
            status_label=str(labels.get(job.status, job.status)),
            task=job.task_name,
            href=reverse("dashboard:job_detail", args=[job.pk]),
        )
        for job in flow.jobs
    ]
    counts = [(status, str(labels[status]), flow.counts[status]) for status in Status.values if flow.counts[status]]
    return {
        "job_id": flow.job_id,
        "flow": flow,
        "layout": graph.layout(nodes, flow.links),
        "counts": counts,
        "poll": None if flow.finished else POLL,
        "failed": flow.counts[Status.FAILED] + flow.counts[Status.CANCELLED],
        "unfinished": sum(flow.counts[s] for s in (Status.SCHEDULED, Status.QUEUED, Status.RUNNING, Status.RETRYING)),
    }


@require_GET
@require(VIEWER)
def workflow_page(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """The graph (and its table) with counts per state; htmx polls get the graph fragment alone."""
    try:
        context = _context(job_id)
    except JobdeckError as exc:
        return shared.error_page(request, exc)
    context["operate"] = access_for(request.user).operate
    if request.htmx:
        return render(request, "dashboard/workflow.html#workflow-graph", context)
    return shared.page(request, "dashboard/workflow.html", context)


ACTIONS: dict[str, tuple[Callable[..., services.BulkResult], str, str]] = {
    # action: (service, the confirmation's question, what the report says was done)
    "retry": (
        services.retry_workflow,
        "Retry the failed part of the workflow of job #{id}? Failed jobs run again, and the jobs their "
        "failure cancelled wait again for them.",
        "re-armed",
    ),
    "cancel": (
        services.cancel_workflow,
        "Cancel every unfinished job of the workflow of job #{id}? Running jobs are asked to stop.",
        "cancelled",
    ),
}


@require_POST
@require(OPERATOR)
def workflow_action(request: HtmxHttpRequest, job_id: int, action: str) -> HttpResponse:
    """Retry the failed part or cancel the rest. The first POST answers with a confirmation; the
    second (confirm=1) calls the service and returns to the workflow with its report."""
    service, question, done = ACTIONS[action]
    back = reverse("dashboard:job_workflow", args=[job_id])
    if request.POST.get("confirm") != "1":
        try:
            context = _context(job_id)
        except JobdeckError as exc:
            return shared.error_page(request, exc)
        counts = ", ".join(f"{n} {label.lower()}" for _, label, n in context["counts"])
        title = "Retry the failed part?" if action == "retry" else "Cancel the rest?"
        text = f"{question.format(id=job_id)} Its {len(context['flow'].jobs)} job(s) now: {counts}."
        return shared.confirm(request, title=title, text=text, fields=[], back=back)
    try:
        result = service(job_id=job_id, actor=shared.actor(request))
    except JobdeckError as exc:
        return shared.refused(request, exc, back=back)
    shared.report(request, result, done)
    return HttpResponseRedirect(back)
