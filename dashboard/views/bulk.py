"""Bulk actions on the jobs list: cancel, retry or delete the checked jobs or every matching job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard import queries
from dashboard.permissions import OPERATOR, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import listing, services
from jobs.exceptions import InvalidSearch
from jobs.status import ACTIVE, FINISHED

MAX_IDS = 500  # checkboxes one bulk request may carry


@dataclass(frozen=True)
class BulkAction:
    service: Callable[..., services.BulkResult]
    statuses: frozenset[str]  # the states the action is valid for
    verb: str  # "Cancel"
    done: str  # "cancelled"


BULK_ACTIONS = {
    "cancel": BulkAction(services.cancel_jobs, ACTIVE, "Cancel", "cancelled"),
    "retry": BulkAction(services.retry_jobs, FINISHED, "Retry", "queued again"),
    "delete": BulkAction(services.delete_jobs, FINISHED, "Delete", "deleted"),
}


def bulk_actions_for(status: str) -> list[str]:
    """The bulk actions offered on a list of jobs in `status` ("" = any state: each action skips the rest)."""
    return [name for name, action in BULK_ACTIONS.items() if not status or status in action.statuses]


@require_POST
@require(OPERATOR)
def jobs_bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Cancel, retry or delete jobs through the bulk services, after a confirmation stating the count.

    `scope=ids` acts on the checked jobs; `scope=matching` on every job matching the page's filters
    (`filter`, a query string) that existed when the page was rendered (id <= `upto`) and is in a
    state the action is valid for, at most services.MAX_BULK, oldest first.
    """
    name = request.POST.get("action", "")
    back = shared.return_url(request, reverse("dashboard:jobs"))
    action = BULK_ACTIONS.get(name)
    if action is None:
        messages.error(request, "Unknown bulk action.")
        return HttpResponseRedirect(back)
    fields: list[tuple[str, Any]] = [("action", name), ("next", back)]
    more = ""
    if request.POST.get("scope") == "matching":
        try:
            filters = queries.parse_filters(QueryDict(request.POST.get("filter", "")))
        except InvalidSearch as exc:  # never "all jobs" in place of a search that cannot run
            messages.error(request, exc.message)
            return HttpResponseRedirect(back)
        upto = queries.int_or_none(request.POST.get("upto"))
        if filters.status and filters.status not in action.statuses:
            messages.error(request, f"{filters.status.capitalize()} jobs cannot be {action.done}.")
            return HttpResponseRedirect(back)
        limit = services.MAX_BULK
        ids = listing.job_ids(filters, statuses=action.statuses, upto=upto or 0, limit=limit + 1)
        if len(ids) > limit:
            ids = ids[:limit]
            more = f" More than {limit:,} match: this acts on the oldest {limit:,}; repeat it for the rest."
        fields += [("scope", "matching"), ("filter", queries.query_string(filters)), ("upto", upto or 0)]
    else:
        ids = [i for i in (queries.int_or_none(v) for v in request.POST.getlist("ids")[:MAX_IDS]) if i is not None]
        fields += [("ids", i) for i in ids]
    if not ids:
        messages.warning(request, "No jobs were selected.")
        return HttpResponseRedirect(back)
    if request.POST.get("confirm") != "1":
        noun = "job" if len(ids) == 1 else "jobs"
        return shared.confirm(
            request,
            title=f"{action.verb} {len(ids):,} {noun}?",
            text=f"{action.verb} {len(ids):,} {noun}; any not in a state that allows it are skipped.{more}",
            fields=fields,
            back=back,
        )
    shared.report(request, action.service(ids=ids, actor=shared.actor(request)), action.done)
    return HttpResponseRedirect(back)
