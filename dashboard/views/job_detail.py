"""One job: its page (kept live), its whole payload or result, and the actions on it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from dashboard import fragments
from dashboard.permissions import OPERATOR, VIEWER, access_for, require
from dashboard.views import shared
from dashboard.views.shared import HtmxHttpRequest
from jobs import selectors, services
from jobs.exceptions import JobdeckError


@require_GET
@require(VIEWER)
def job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    cursor = selectors.last_event_id()
    try:
        context = fragments.job_context(job_id)
    except JobdeckError as exc:
        return shared.error_page(request, exc)
    access = access_for(request.user)
    context.update(cursor=cursor, live_url=reverse("dashboard:ws_job", args=[job_id]))
    context.update(operate=access.operate, show_data=access.see_payloads)
    if request.htmx:
        return render(request, "dashboard/job_detail.html#job-live", context)
    return shared.page(request, "dashboard/job_detail.html", context)


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
        return shared.error_page(request, exc)
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
    back = shared.return_url(request, reverse("dashboard:job_detail", args=[job_id]))
    try:
        service(job_id=job_id, actor=shared.actor(request))
    except JobdeckError as exc:
        if request.htmx:
            response = render(request, "dashboard/base.html#toast", {"text": exc.message, "level": "error"})
            response.status_code = exc.status_code
            return reswap(retarget(response, "#toasts"), "beforeend")
        return shared.refused(request, exc, back=back)
    text = done.format(id=job_id)
    if request.htmx:
        context = {**fragments.job_context(job_id), "operate": True}
        response = render(request, "dashboard/job_detail.html#job-live", context)
        # After the settle: htmx then fires it on the page body, so the toast still shows when a
        # live update replaced the button's form before this answer arrived.
        return trigger_client_event(response, "toast", {"text": text, "level": "success"}, after="settle")
    messages.success(request, text)
    return HttpResponseRedirect(back)


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


@require_POST
@require(OPERATOR)
def job_duplicate(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Enqueue a new job with the same task and version, arguments, payload, queue, priority, attempts
    and timeout (the arguments were made for that version).

    A task with unique_for makes its key from the task and arguments, so the copy has the original's
    key: while a job holds it (unfinished, or finished less than unique_for ago) enqueue answers with
    that job, as it would for any caller. The task's author declared such runs one job; Duplicate
    does not go around that. It opens the holder and says until when it holds the key."""
    asked_at = timezone.now()
    try:
        job = selectors.job_detail(job_id)
        spec = services.JobSpec(
            task_name=job.task_name,
            version=job.task_version,
            args=job.args,
            kwargs=job.payload,
            queue=job.queue,
            priority=job.priority,
            max_attempts=job.max_attempts,
            timeout=job.timeout,
        )
        copy = services.enqueue_job(spec=spec, actor=shared.actor(request))
    except JobdeckError as exc:
        return shared.refused(request, exc, back=reverse("dashboard:job_detail", args=[job_id]))
    if copy.created_at < asked_at:  # an existing job holds the key (the task's unique_for)
        until = "it finishes" if copy.unique_until is None else _when(copy.unique_until)
        messages.warning(
            request,
            f"No copy made: an equal job, #{copy.pk}, holds the key until {until} (the task's unique_for): opened it.",
        )
        return HttpResponseRedirect(reverse("dashboard:job_detail", args=[copy.pk]))
    messages.success(request, f"Job {copy.pk} enqueued as a duplicate of job {job_id}.")
    return HttpResponseRedirect(reverse("dashboard:job_detail", args=[copy.pk]))
