"""What the dashboard's views share: the request type, the page renderer, where an action returns to,
how a service's refusal is shown, and the confirmation step and report of bulk actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails

from dashboard.permissions import access_for
from jobs import services
from jobs.exceptions import JobdeckError

POLL = "every 5s"  # how often the queues and workers pages refresh their tables (htmx polling)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def actor(request: HttpRequest) -> str:
    """Who a service records as having acted: the user, through the dashboard."""
    return f"{request.user.get_username()} (dashboard)"


def page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A whole page: the template with what the user's role allows (`access`) added to its context."""
    context["access"] = access_for(request.user)
    return render(request, template, context)


def return_url(request: HttpRequest, default: str) -> str:
    """Where an action returns to: the `next` the form carried (same site only), else `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def error_page(request: HttpRequest, exc: JobdeckError) -> HttpResponse:
    """The error page with the service's message and status (a job or schedule that does not exist)."""
    response = page(request, "dashboard/error.html", {"message": exc.message})
    response.status_code = exc.status_code
    return response


def refused(request: HttpRequest, exc: JobdeckError, *, back: str) -> HttpResponse:
    """A service's refusal of a form's action: the error page when what it acts on does not exist
    (404), else the message shown on the page the action returns to."""
    if exc.status_code == 404:
        return error_page(request, exc)
    messages.error(request, exc.message)
    return HttpResponseRedirect(back)


def confirm(request: HttpRequest, *, title: str, text: str, fields: list[tuple[str, Any]], back: str) -> HttpResponse:
    """The confirmation step of a bulk action: the same form again, with its count and confirm=1."""
    context = {"title": title, "text": text, "action": request.path, "fields": fields, "back": back}
    return page(request, "dashboard/confirm.html", context)


def report(request: HttpRequest, result: services.BulkResult, done: str) -> None:
    """A bulk action's outcome as a message: how many changed, and why others were skipped."""
    text = f"{result.changed} of {result.matched} job(s) {done}"
    if result.skipped:
        text += f"; {result.skipped} skipped ({'; '.join(list(result.errors.values())[:3])})"
    (messages.success if result.changed else messages.warning)(request, text + ".")
