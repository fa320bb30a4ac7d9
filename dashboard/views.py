"""Dashboard pages: function views that read through jobs.selectors and act through jobs.services.

Every view checks the user's role (dashboard.permissions) and never writes rows itself. Filters live
in the URL, so a page can be shared and reloaded; actions redirect back to the page they came from.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event
from django_htmx.middleware import HtmxDetails

from dashboard import fragments, queries
from dashboard.permissions import OPERATOR, VIEWER, access_for, require
from jobs import selectors, services
from jobs.exceptions import JobdeckError
from jobs.registry import all_tasks
from jobs.status import Status

PAGE_SIZE = 50
MAX_IDS = 500  # checkboxes one bulk request may carry

# A strict policy: only our own files, no inline script or style, no framing. WebSockets to this
# origin are covered by 'self' (CSP level 3).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def with_csp(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send the dashboard's Content-Security-Policy with every response of `view`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    return wrapped


def _actor(request: HttpRequest) -> str:
    return f"{request.user.get_username()} (dashboard)"


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context["access"] = access_for(request.user)
    return render(request, template, context)


def _back(request: HttpRequest, default: str) -> str:
    """Where an action returns to: the `next` the form carried (same site only), else `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


login = with_csp(auth_views.LoginView.as_view(template_name="dashboard/login.html", next_page="dashboard:overview"))
logout = with_csp(auth_views.LogoutView.as_view(next_page="dashboard:login"))


@require_GET
@with_csp
@require(VIEWER)
def overview(request: HtmxHttpRequest) -> HttpResponse:
    cursor = queries.last_event_id()  # read before the data: whatever happens later is re-sent live
    context = {**fragments.overview_context(), "cursor": cursor, "live_url": reverse("dashboard:ws_overview")}
    if request.htmx:
        return render(request, "dashboard/overview.html#overview-live", context)
    return _page(request, "dashboard/overview.html", context)


def _query(filters: queries.JobFilters, **changes: Any) -> str:
    """The query string for these filters with `changes` applied (empty values dropped)."""
    values = {
        "status": filters.status,
        "queue": filters.queue,
        "task": filters.task,
        "priority": "" if filters.priority is None else filters.priority,
        "q": "" if filters.job_id is None else filters.job_id,
        **changes,
    }
    query = QueryDict(mutable=True)
    for key, value in values.items():
        if value not in ("", None):
            query[key] = str(value)
    return query.urlencode()


@require_GET
@with_csp
@require(VIEWER)
def jobs(request: HtmxHttpRequest) -> HttpResponse:
    filters = queries.parse_filters(request.GET)
    before = queries.int_or_none(request.GET.get("before"))
    cursor = queries.last_event_id()
    rows, next_before = queries.job_page(filters=filters, before_id=before, limit=PAGE_SIZE)
    counts = selectors.job_counts()  # one GROUP BY over the (status, id) index
    tabs = [{"key": "all", "label": "All", "count": sum(counts.values()), "query": _query(filters, status="")}]
    tabs += [
        {"key": s.value, "label": s.label, "count": counts.get(s.value, 0), "query": _query(filters, status=s.value)}
        for s in Status
    ]
    context = {
        "jobs": rows,
        "filters": filters,
        "tabs": tabs,
        "active_tab": filters.status or "all",
        "next_query": _query(filters, before=next_before) if next_before else "",
        "first_query": _query(filters) if before else "",
        "task_names": list(all_tasks()),
        "cursor": cursor,
        "live_url": reverse("dashboard:ws_jobs") + ("?" + _query(filters, before=before or "")),
        "here": request.get_full_path(),
    }
    if request.htmx:
        return render(request, "dashboard/jobs.html#job-table", {**context, "access": access_for(request.user)})
    return _page(request, "dashboard/jobs.html", context)


@require_POST
@with_csp
@require(OPERATOR)
def jobs_bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Cancel or retry the checked jobs through the bulk services; report what was skipped."""
    action = request.POST.get("action", "")
    ids = [i for i in (queries.int_or_none(v) for v in request.POST.getlist("ids")[:MAX_IDS]) if i is not None]
    back = _back(request, reverse("dashboard:jobs"))
    services_by_action = {"cancel": services.cancel_jobs, "retry": services.retry_jobs}
    if action not in services_by_action:
        messages.error(request, "Unknown bulk action.")
        return HttpResponseRedirect(back)
    if not ids:
        messages.warning(request, "No jobs were selected.")
        return HttpResponseRedirect(back)
    result = services_by_action[action](ids=ids, actor=_actor(request))
    verb = {"cancel": "cancelled", "retry": "queued again"}[action]
    text = f"{result.changed} of {result.matched} job(s) {verb}"
    if result.skipped:
        text += f"; {result.skipped} skipped ({'; '.join(list(result.errors.values())[:3])})"
    (messages.success if result.changed else messages.warning)(request, text + ".")
    return HttpResponseRedirect(back)


def _error_page(request: HttpRequest, exc: JobdeckError) -> HttpResponse:
    response = _page(request, "dashboard/error.html", {"message": exc.message})
    response.status_code = exc.status_code
    return response


@require_GET
@with_csp
@require(VIEWER)
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    cursor = queries.last_event_id()
    try:
        context = fragments.job_context(job_id)
    except JobdeckError as exc:
        return _error_page(request, exc)
    context.update(cursor=cursor, live_url=reverse("dashboard:ws_job", args=[job_id]))
    context["operate"] = access_for(request.user).operate
    if request.htmx:
        return render(request, "dashboard/job_detail.html#job-live", context)
    return _page(request, "dashboard/job_detail.html", context)


JOB_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "cancel": (services.cancel_job, "Cancel requested for job {id}."),
    "retry": (services.retry_job, "Job {id} queued again."),
    "run-now": (services.run_job_now, "Job {id} will run now."),
}


@require_POST
@with_csp
@require(OPERATOR)
def job_action(request: HtmxHttpRequest, job_id: int, action: str) -> HttpResponse:
    """Cancel, retry or run one job now through its service.

    htmx requests get the job's live region back (and a toast); others are redirected to the job.
    A refused action (finished job, unknown job) is a 4xx with the service's message.
    """
    service, done = JOB_ACTIONS[action]
    back = _back(request, reverse("dashboard:job_detail", args=[job_id]))
    try:
        service(job_id=job_id, actor=_actor(request))
    except JobdeckError as exc:
        if request.htmx:
            response = render(request, "dashboard/base.html#toast", {"text": exc.message, "level": "error"})
            response.status_code = exc.status_code
            return reswap(retarget(response, "#toasts"), "beforeend")
        if exc.status_code == 404:
            return _error_page(request, exc)
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    text = done.format(id=job_id)
    if request.htmx:
        context = {**fragments.job_context(job_id), "operate": True}
        response = render(request, "dashboard/job_detail.html#job-live", context)
        return trigger_client_event(response, "toast", {"text": text, "level": "success"})
    messages.success(request, text)
    return HttpResponseRedirect(back)


def websocket_only(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Plain HTTP to a live-update address: it only speaks WebSocket."""
    return HttpResponse("This address serves WebSocket connections only.", status=426, content_type="text/plain")
