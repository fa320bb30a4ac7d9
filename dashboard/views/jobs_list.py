"""The jobs list: filters and search from the URL, state tabs with capped counts, keyset pages."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard import queries
from dashboard.permissions import VIEWER, access_for, require
from dashboard.views import shared
from dashboard.views.bulk import BULK_ACTIONS, bulk_actions_for
from dashboard.views.shared import HtmxHttpRequest
from jobs import listing, selectors
from jobs.exceptions import InvalidSearch
from jobs.models import Job
from jobs.registry import all_tasks
from jobs.status import Status

PAGE_SIZE = 50


@dataclass(frozen=True)
class Tab:
    """One state tab of the list (or "All"), with its count as shown ("" when not counted)."""

    key: str  # "all" or a state
    label: str
    count: str
    query: str  # the list's query string with this tab's state


def tab_counts(filters: listing.JobFilters) -> tuple[str, dict[str, str], bool]:
    """The "All" tab's count, each state's count (labels), and whether any count stopped at the cap.

    1. A payload search gets no counts: no index serves it, so counting would read every row the
       other filters leave.
    2. A list narrowed by task, worker, priority, time or text (JobFilters.counts_by_sample) gets exact
       counts when at most STATE_COUNT_CAP jobs match, else only "1,000+" on "All".
    3. Otherwise each state is counted up to STATE_COUNT_CAP ("1,000+" above it). "All" is their sum;
       for an unfiltered list over the cap it is the count of every job, exact up to COUNT_CAP, then
       PostgreSQL's planner estimate (listing.total_label).
    """
    cap = listing.STATE_COUNT_CAP
    if filters.payload_path:
        return "", {}, False
    if filters.counts_by_sample:
        small = listing.small_state_counts(filters, cap=cap)
        if small is None:  # more than the cap match: say so once, count no state (each would be a long walk)
            return listing.count_label(cap, more=True), {}, True
        counts = small
    else:
        counts = listing.state_counts(filters, cap=cap)
    labels = {status: listing.capped_label(count, cap=cap) for status, count in counts.items()}
    capped = any(count > cap for count in counts.values())
    if capped and not filters.narrowed:
        every_job = Job.objects.order_by("-id")
        return listing.total_label(every_job, counted=listing.capped_count(every_job)), labels, True
    return listing.count_label(sum(min(count, cap) for count in counts.values()), more=capped), labels, capped


def tabs_for(filters: listing.JobFilters) -> tuple[list[Tab], bool]:
    """The "All" and state tabs with their counts (tab_counts), and whether any count is capped."""
    all_count, counts, capped = tab_counts(filters)
    tabs = [Tab("all", "All", all_count, queries.query_string(filters, status=""))]
    tabs += [
        Tab(s.value, str(s.label), counts.get(s.value, ""), queries.query_string(filters, status=s.value))
        for s in Status
    ]
    return tabs, capped


@require_GET
@require(VIEWER)
def jobs(request: HtmxHttpRequest) -> HttpResponse:
    try:
        filters = queries.parse_filters(request.GET)
    except InvalidSearch as exc:
        return _search_error(request, exc)
    access = access_for(request.user)
    if not access.see_payloads:
        if filters.payload_path:
            # A payload search would reveal payload values one guess at a time.
            raise PermissionDenied("Payload search is not open to viewers while payloads are hidden from them")
        filters = replace(filters, text_in_payload=False)  # for the same reason, text is not looked for there
    # The keyset: `before` (newest first) or `after_job` (oldest first) the last id of the previous page;
    # not `after`, which is the live connection's event cursor.
    page_key = "after_job" if filters.oldest_first else "before"
    past = queries.int_or_none(request.GET.get(page_key))
    cursor = selectors.last_event_id()
    rows, next_past = listing.job_page(filters, past_id=past, limit=PAGE_SIZE, fields=queries.ROW_FIELDS)
    tabs, capped = tabs_for(filters)
    active_tab = filters.status or "all"
    query = queries.query_string
    context = {
        "jobs": rows,
        "filters": filters,
        "tabs": tabs,
        "counts_capped": capped,
        "count_cap": listing.STATE_COUNT_CAP,
        "active_tab": active_tab,
        "matching_label": next(tab.count for tab in tabs if tab.key == active_tab),
        "bulk_actions": [(name, BULK_ACTIONS[name].verb) for name in bulk_actions_for(filters.status)],
        # The snapshot "all matching" acts on: jobs created later are left out.
        "upto": selectors.last_job_id() if access.operate else 0,
        "filter_query": query(filters),
        "next_query": query(filters, **{page_key: next_past}) if next_past else "",
        "first_query": query(filters) if past else "",
        "task_names": list(all_tasks()),
        "search_text": filters.search,
        "task_text": filters.task,
        "search_window": f"{listing.search_window():,}",
        "cursor": cursor,
        "live_url": reverse("dashboard:ws_jobs") + ("?" + query(filters, **{page_key: past or ""})),
        "here": request.get_full_path(),
        "access": access,
    }
    if request.htmx:
        return render(request, "dashboard/jobs.html#job-table", context)
    return shared.page(request, "dashboard/jobs.html", context)


def _search_error(request: HtmxHttpRequest, exc: InvalidSearch) -> HttpResponse:
    """The jobs page with the search as typed and why it cannot run: no rows, no counts, no bulk actions
    (dropping the search instead would list, and offer to act on, every job)."""
    context = {
        "search_error": exc.message,
        "filters": listing.JobFilters(),
        "search_text": request.GET.get("q", "")[:1000],
        "task_text": request.GET.get("task", "")[:300],
        "tabs": [],
        "jobs": [],
        "task_names": list(all_tasks()),
        "search_window": f"{listing.search_window():,}",
        "cursor": selectors.last_event_id(),
        "live_url": "",
        "access": access_for(request.user),
    }
    template = "dashboard/jobs.html#job-table" if request.htmx else "dashboard/jobs.html"
    response = shared.page(request, template, context)
    response.status_code = exc.status_code
    return response
