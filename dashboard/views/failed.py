"""Failed jobs (the dead letter): grouped by failure, retried by group or all, as the page showed them."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dashboard import failures
from dashboard.permissions import OPERATOR, VIEWER, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import services

FAILURE_GROUPS = 100  # groups the failed page shows


@require_GET
@require(VIEWER)
def failed(request: HtmxHttpRequest) -> HttpResponse:
    """Failed jobs grouped by task + exception class + normalised message, with retry forms bound to now."""
    snapshot = timezone.now()  # read before the groups: retries act on what the page shows
    report = failures.failure_groups(limit=FAILURE_GROUPS)
    context = {"report": report, "snapshot": snapshot.isoformat(), "limit": FAILURE_GROUPS}
    return shared.page(request, "dashboard/failed.html", context)


def _snapshot_time(value: str | None) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@require_POST
@require(OPERATOR)
def failed_retry(request: HtmxHttpRequest) -> HttpResponse:
    """Retry the failed jobs of one group, or all, as they were when the page was rendered (`at`).

    Jobs that failed after the page was rendered are left alone; so are jobs retried meanwhile.
    The first POST answers with a confirmation stating the count; the second (confirm=1) retries.
    """
    back = reverse("dashboard:failed")
    at = _snapshot_time(request.POST.get("at"))
    if at is None:
        messages.error(request, "The page's snapshot time is missing: reload the page and try again.")
        return HttpResponseRedirect(back)
    fields: list[tuple[str, Any]] = [("at", at.isoformat())]
    if request.POST.get("scope") == "group":
        task = request.POST.get("task", "")
        error_class, message = request.POST.get("error_class", ""), request.POST.get("message", "")
        ids, more = failures.snapshot_ids(at=at, task=task, error_class=error_class, message=message)
        fields += [("scope", "group"), ("task", task), ("error_class", error_class), ("message", message)]
        what = f"failed {task} job(s) with {error_class or 'error'} \u201c{message}\u201d"
    else:
        ids, more = failures.snapshot_ids(at=at)
        what = "failed job(s)"
    if not ids:
        messages.warning(request, "None of those jobs is still failed.")
        return HttpResponseRedirect(back)
    if request.POST.get("confirm") != "1":
        extra = f" More remain: this retries the oldest {len(ids):,}; repeat it for the rest." if more else ""
        shown = timezone.localtime(at).strftime("%H:%M:%S %Z")
        return shared.confirm(
            request,
            title=f"Retry {len(ids):,} failed job(s)?",
            text=f"Retry {len(ids):,} {what} that had failed when the page was shown ({shown}).{extra}",
            fields=fields,
            back=back,
        )
    shared.report(request, services.retry_jobs(ids=ids, actor=shared.actor(request)), "queued again")
    return HttpResponseRedirect(back)
