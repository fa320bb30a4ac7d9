"""Dashboard pages: function views that read through jobs.selectors and act through jobs.services.

Every view checks the user's role (dashboard.permissions) and never writes rows itself. Filters live
in the URL, so a page can be shared and reloaded; actions redirect back to the page they came from.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event
from django_htmx.middleware import HtmxDetails

from dashboard import charts, cron_words, failures, fragments, queries
from dashboard.permissions import ADMIN, OPERATOR, VIEWER, access_for, require
from jobs import listing, selectors, services
from jobs.admin.pagination import CappedPaginator
from jobs.conf import engine_settings
from jobs.exceptions import InvalidQueue, InvalidSearch, JobdeckError
from jobs.models import Job
from jobs.registry import all_tasks
from jobs.services import schedules
from jobs.status import ACTIVE, FINISHED, Status

PAGE_SIZE = 50
MAX_IDS = 500  # checkboxes one bulk request may carry
FAILURE_GROUPS = 100  # groups the failed page shows
# Seven capped counts per page view: 1,000 each keeps them near 4 ms at 1,000,000 jobs (10,000: ~30 ms).
TAB_COUNT_CAP = fragments.TAB_COUNT_CAP
POLL = "every 5s"  # how often the queues and workers pages refresh their tables (htmx polling)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


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


login = auth_views.LoginView.as_view(template_name="dashboard/login.html", next_page="dashboard:overview")
logout = auth_views.LogoutView.as_view(next_page="dashboard:login")


@require_GET
@require(VIEWER)
def overview(request: HtmxHttpRequest) -> HttpResponse:
    cursor = selectors.last_event_id()  # read before the data: whatever happens later is re-sent live
    context = {
        **fragments.overview_context(),
        **charts.overview_charts(last_event_id=cursor),
        "cursor": cursor,
        "live_url": reverse("dashboard:ws_overview"),
    }
    if request.htmx:
        return render(request, "dashboard/overview.html#overview-live", context)
    return _page(request, "dashboard/overview.html", context)


def _query(filters: listing.JobFilters, **changes: Any) -> str:
    """The query string for these filters with `changes` applied (empty values dropped)."""
    values = {
        "status": filters.status,
        "queue": filters.queue,
        "task": filters.task,
        "priority": "" if filters.priority is None else filters.priority,
        "worker": filters.worker,
        "created_after": filters.created_after_text,
        "created_before": filters.created_before_text,
        "q": filters.search,
        "order": "oldest" if filters.oldest_first else "",
        **changes,
    }
    query = QueryDict(mutable=True)
    for key, value in values.items():
        if value not in ("", None):
            query[key] = str(value)
    return query.urlencode()


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


def _tabs(filters: listing.JobFilters) -> tuple[list[dict[str, Any]], bool]:
    """The state tabs with their counts (within the other filters), and whether any count is capped.

    Counts are exact up to TAB_COUNT_CAP; above it a state shows "1,000+". The "All" tab of an
    unfiltered list over the cap shows the PostgreSQL planner's estimate (jobs.admin.pagination).
    A payload search gets no counts (its tabs show none); a list narrowed by task, worker, priority or
    time gets exact counts when at most TAB_COUNT_CAP jobs match, else only "1,000+" on "All".
    """
    if filters.payload_path:
        # No index serves a payload search: counting it would read every row the other filters leave.
        tabs = [{"key": "all", "label": "All", "count": "", "query": _query(filters, status="")}]
        tabs += [
            {"key": s.value, "label": s.label, "count": "", "query": _query(filters, status=s.value)} for s in Status
        ]
        return tabs, False
    if filters.counts_by_sample:
        small = listing.small_state_counts(filters, cap=TAB_COUNT_CAP)
        if small is None:  # more than the cap match: say so once, count no state (each would be a long walk)
            tabs = [{"key": "all", "label": "All", "count": f"{TAB_COUNT_CAP:,}+", "query": _query(filters, status="")}]
            tabs += [
                {"key": s.value, "label": s.label, "count": "", "query": _query(filters, status=s.value)}
                for s in Status
            ]
            return tabs, True
        counts = small
    else:
        counts = listing.state_counts(filters, cap=TAB_COUNT_CAP)
    capped = any(count > TAB_COUNT_CAP for count in counts.values())
    total = sum(min(count, TAB_COUNT_CAP) for count in counts.values())
    if capped and not filters.narrowed:
        all_label = CappedPaginator(Job.objects.order_by("-id"), PAGE_SIZE).count_label
    else:
        all_label = f"{total:,}+" if capped else f"{total:,}"
    tabs = [{"key": "all", "label": "All", "count": all_label, "query": _query(filters, status="")}]
    tabs += [
        {
            "key": s.value,
            "label": s.label,
            "count": listing.count_label(counts[s.value], cap=TAB_COUNT_CAP),
            "query": _query(filters, status=s.value),
        }
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
    if not access_for(request.user).see_payloads:
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
    tabs, capped = _tabs(filters)
    active_tab = filters.status or "all"
    access = access_for(request.user)
    context = {
        "jobs": rows,
        "filters": filters,
        "tabs": tabs,
        "counts_capped": capped,
        "count_cap": f"{TAB_COUNT_CAP:,}",
        "active_tab": active_tab,
        "matching_label": next(tab["count"] for tab in tabs if tab["key"] == active_tab),
        "bulk_actions": [(name, BULK_ACTIONS[name].verb) for name in bulk_actions_for(filters.status)],
        # The snapshot "all matching" acts on: jobs created later are left out.
        "upto": selectors.last_job_id() if access.operate else 0,
        "filter_query": _query(filters),
        "next_query": _query(filters, **{page_key: next_past}) if next_past else "",
        "first_query": _query(filters) if past else "",
        "task_names": list(all_tasks()),
        "search_text": filters.search,
        "task_text": filters.task,
        "search_window": f"{listing.search_window():,}",
        "cursor": cursor,
        "live_url": reverse("dashboard:ws_jobs") + ("?" + _query(filters, **{page_key: past or ""})),
        "here": request.get_full_path(),
        "access": access,
    }
    if request.htmx:
        return render(request, "dashboard/jobs.html#job-table", context)
    return _page(request, "dashboard/jobs.html", context)


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
    response = _page(request, template, context)
    response.status_code = exc.status_code
    return response


def _confirm(request: HttpRequest, *, title: str, text: str, fields: list[tuple[str, Any]], back: str) -> HttpResponse:
    """The confirmation step of a bulk action: the same form again, with its count and confirm=1."""
    context = {"title": title, "text": text, "action": request.path, "fields": fields, "back": back}
    return _page(request, "dashboard/confirm.html", context)


def _report(request: HttpRequest, result: services.BulkResult, done: str) -> None:
    text = f"{result.changed} of {result.matched} job(s) {done}"
    if result.skipped:
        text += f"; {result.skipped} skipped ({'; '.join(list(result.errors.values())[:3])})"
    (messages.success if result.changed else messages.warning)(request, text + ".")


@require_POST
@require(OPERATOR)
def jobs_bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Cancel, retry or delete jobs through the bulk services, after a confirmation stating the count.

    `scope=ids` acts on the checked jobs; `scope=matching` on every job matching the page's filters
    (`filter`, a query string) that existed when the page was rendered (id <= `upto`) and is in a
    state the action is valid for, at most services.MAX_BULK, oldest first.
    """
    name = request.POST.get("action", "")
    back = _back(request, reverse("dashboard:jobs"))
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
        fields += [("scope", "matching"), ("filter", _query(filters)), ("upto", upto or 0)]
    else:
        ids = [i for i in (queries.int_or_none(v) for v in request.POST.getlist("ids")[:MAX_IDS]) if i is not None]
        fields += [("ids", i) for i in ids]
    if not ids:
        messages.warning(request, "No jobs were selected.")
        return HttpResponseRedirect(back)
    if request.POST.get("confirm") != "1":
        noun = "job" if len(ids) == 1 else "jobs"
        return _confirm(
            request,
            title=f"{action.verb} {len(ids):,} {noun}?",
            text=f"{action.verb} {len(ids):,} {noun}; any not in a state that allows it are skipped.{more}",
            fields=fields,
            back=back,
        )
    _report(request, action.service(ids=ids, actor=_actor(request)), action.done)
    return HttpResponseRedirect(back)


def _error_page(request: HttpRequest, exc: JobdeckError) -> HttpResponse:
    response = _page(request, "dashboard/error.html", {"message": exc.message})
    response.status_code = exc.status_code
    return response


@require_GET
@require(VIEWER)
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    cursor = selectors.last_event_id()
    try:
        context = fragments.job_context(job_id)
    except JobdeckError as exc:
        return _error_page(request, exc)
    access = access_for(request.user)
    context.update(cursor=cursor, live_url=reverse("dashboard:ws_job", args=[job_id]))
    context.update(operate=access.operate, show_data=access.see_payloads)
    if request.htmx:
        return render(request, "dashboard/job_detail.html#job-live", context)
    return _page(request, "dashboard/job_detail.html", context)


@require_GET
@require(VIEWER)
def job_data(request: HtmxHttpRequest, job_id: int, part: str) -> HttpResponse:
    """A job's whole payload or result: the "Expand" of a value cut on the job page.

    htmx swaps the full box into the page; without JavaScript the link opens the JSON as plain text.
    """
    if not access_for(request.user).see_payloads:
        raise PermissionDenied("Payloads and results are hidden from viewers")
    try:
        job = selectors.job_detail(int(job_id))
    except JobdeckError as exc:
        return _error_page(request, exc)
    text, size = fragments.pretty_json(fragments.job_data(job, part), limit=None)
    if request.htmx:
        data = {"part": part, "text": text, "size": size}
        return render(request, "dashboard/_json_box.html", {"job": job, "data": data})
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


JOB_ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "cancel": (services.cancel_job, "Cancel requested for job {id}."),
    "retry": (services.retry_job, "Job {id} queued again."),
    "run-now": (services.run_job_now, "Job {id} will run now."),
}


@require_POST
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
        # After the settle: htmx then fires it on the page body, so the toast still shows when a
        # live update replaced the button's form before this answer arrived.
        return trigger_client_event(response, "toast", {"text": text, "level": "success"}, after="settle")
    messages.success(request, text)
    return HttpResponseRedirect(back)


@require_POST
@require(OPERATOR)
def job_duplicate(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Enqueue a new job with the same task, arguments, payload, queue, priority, attempts and timeout."""
    try:
        job = selectors.job_detail(job_id)
        spec = services.JobSpec(
            task_name=job.task_name,
            args=job.args,
            kwargs=job.payload,
            queue=job.queue,
            priority=job.priority,
            max_attempts=job.max_attempts,
            timeout=job.timeout,
        )
        copy = services.enqueue_job(spec=spec, actor=_actor(request))
    except JobdeckError as exc:
        if exc.status_code == 404:
            return _error_page(request, exc)
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("dashboard:job_detail", args=[job_id]))
    messages.success(request, f"Job {copy.pk} enqueued as a duplicate of job {job_id}.")
    return HttpResponseRedirect(reverse("dashboard:job_detail", args=[copy.pk]))


# --- failed jobs (dead letter) ---------------------------------------------------------------------


@require_GET
@require(VIEWER)
def failed(request: HtmxHttpRequest) -> HttpResponse:
    """Failed jobs grouped by task + exception class + normalised message, with retry forms bound to now."""
    snapshot = timezone.now()  # read before the groups: retries act on what the page shows
    report = failures.failure_groups(limit=FAILURE_GROUPS)
    context = {"report": report, "snapshot": snapshot.isoformat(), "limit": FAILURE_GROUPS}
    return _page(request, "dashboard/failed.html", context)


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
        return _confirm(
            request,
            title=f"Retry {len(ids):,} failed job(s)?",
            text=f"Retry {len(ids):,} {what} that had failed when the page was shown ({shown}).{extra}",
            fields=fields,
            back=back,
        )
    _report(request, services.retry_jobs(ids=ids, actor=_actor(request)), "queued again")
    return HttpResponseRedirect(back)


# --- queues --------------------------------------------------------------------------------------


@require_GET
@require(VIEWER)
def queues(request: HtmxHttpRequest) -> HttpResponse:
    """Per queue: counts by state, oldest waiting age, paused badge and limit; admins get the controls."""
    context = {"queues": selectors.queue_stats(cap=fragments.QUEUE_COUNT_CAP), "poll": POLL}
    if request.htmx:
        return render(request, "dashboard/queues.html#queue-table", context)
    return _page(request, "dashboard/queues.html", context)


def _concurrency(value: str) -> int | None:
    """The concurrency form's value: "" means no limit; anything else must be a whole number."""
    value = value.strip()
    if not value:
        return None
    number = queries.int_or_none(value)
    if number is None:
        raise InvalidQueue("concurrency must be a whole number of at least 1, or empty for no limit")
    return number


@require_POST
@require(ADMIN)
def queue_action(request: HtmxHttpRequest, name: str, action: str) -> HttpResponse:
    """Pause, resume or limit a queue through its service; back to the queues page with the outcome."""
    try:
        if action == "pause":
            services.pause_queue(name=name)
            text = f"Queue {name} paused: running jobs finish, no new ones start."
        elif action == "resume":
            services.resume_queue(name=name)
            text = f"Queue {name} resumed."
        else:
            limit = _concurrency(request.POST.get("limit", ""))
            services.set_queue_concurrency(name=name, limit=limit)
            text = f"Queue {name}: " + (f"at most {limit} running at once." if limit else "no concurrency limit.")
    except JobdeckError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, text)
    return HttpResponseRedirect(reverse("dashboard:queues"))


# --- workers -------------------------------------------------------------------------------------


@require_GET
@require(VIEWER)
def workers(request: HtmxHttpRequest) -> HttpResponse:
    """Worker processes, alive first, with the jobs each one holds now; gone ones until pruned."""
    lease = datetime.timedelta(seconds=engine_settings().lease_seconds)
    rows = selectors.worker_list()
    running = selectors.running_by_worker()
    for worker in rows:
        worker.running = running.get(worker.name, [])  # type: ignore[attr-defined]
    context = {"workers": rows, "lease": lease, "poll": POLL}
    if request.htmx:
        return render(request, "dashboard/workers.html#worker-table", context)
    return _page(request, "dashboard/workers.html", context)


# --- schedules -----------------------------------------------------------------------------------


@require_GET
@require(VIEWER)
def schedules_page(request: HtmxHttpRequest) -> HttpResponse:
    """Every schedule with its cron in words, next and last run, and the actions the user's role allows."""
    rows = selectors.schedule_list()
    for schedule in rows:
        schedule.cron_words = cron_words.describe(schedule.cron)  # type: ignore[attr-defined]
    return _page(request, "dashboard/schedules.html", {"schedules": rows})


@require_POST
@require(ADMIN)
def schedule_enable(request: HtmxHttpRequest, schedule_id: int, enabled: bool) -> HttpResponse:
    """Enable or disable a database schedule (settings schedules are refused by the service)."""
    try:
        schedule = schedules.set_schedule_enabled(schedule_id=schedule_id, enabled=enabled, actor=_actor(request))
    except JobdeckError as exc:
        if exc.status_code == 404:
            return _error_page(request, exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Schedule {schedule.name} {'enabled' if enabled else 'disabled'}.")
    return HttpResponseRedirect(reverse("dashboard:schedules"))


@require_POST
@require(OPERATOR)
def schedule_run_now(request: HtmxHttpRequest, schedule_id: int) -> HttpResponse:
    """Enqueue a schedule's job now (its cron timing is unchanged)."""
    try:
        job = schedules.run_schedule_now(schedule_id=schedule_id, actor=_actor(request))
    except JobdeckError as exc:
        if exc.status_code == 404:
            return _error_page(request, exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job {job.pk} enqueued from the schedule.")
    return HttpResponseRedirect(reverse("dashboard:schedules"))


def websocket_only(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Plain HTTP to a live-update address: it only speaks WebSocket."""
    return HttpResponse("This address serves WebSocket connections only.", status=426, content_type="text/plain")
