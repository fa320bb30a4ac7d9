"""Rate limits on the queues page: set (or replace) and remove one for a queue, a task or a concurrency key."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard import queries
from dashboard.permissions import ADMIN, require
from dashboard.views.shared import HtmxHttpRequest
from jobs.exceptions import InvalidJob, JobdeckError
from jobs.services import rate_limits


def _set(form: QueryDict) -> str:
    """The set form: scope, name, starts per period and the period in seconds."""
    scope, name = form.get("scope", ""), form.get("name", "").strip()
    max_starts = queries.int_or_none(form.get("max_starts", "").strip())
    if max_starts is None:
        raise InvalidJob("max_starts must be a whole number of at least 1")
    try:
        period = float(form.get("period", "").strip())
    except ValueError:
        raise InvalidJob(f"period must be a positive number of seconds, at most {rate_limits.MAX_PERIOD:g}") from None
    limit = rate_limits.set_rate_limit(scope=scope, name=name, max_starts=max_starts, period=period)
    return f"Rate limit set: {limit}."


def _remove(form: QueryDict) -> str:
    scope, name = form.get("scope", ""), form.get("name", "")
    if not rate_limits.remove_rate_limit(scope=scope, name=name):
        raise InvalidJob(f"No rate limit for {scope} {name}")
    return f"Rate limit of {scope} {name} removed."


@require_POST
@require(ADMIN)
def rate_limit_action(request: HtmxHttpRequest, action: str) -> HttpResponse:
    """Set or remove a rate limit through its service; back to the queues page with the outcome."""
    try:
        text = _set(request.POST) if action == "set" else _remove(request.POST)
    except JobdeckError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, text)
    return HttpResponseRedirect(reverse("dashboard:queues") + "#limits")
