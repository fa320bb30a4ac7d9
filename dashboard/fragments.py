"""Context builders and fragment renderers shared by the views, the fanout and the consumers.

Pages and live updates render the same partials from the same contexts, so HTTP and WebSocket
show one markup.
"""

from __future__ import annotations

import json
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from dashboard import queries
from dashboard.permissions import payloads_hidden_from_viewers
from jobs import listing, selectors
from jobs.models import Job
from jobs.status import Status
from jobs.waiting import child_ids, parent_ids, waiting_reason

JSON_DISPLAY_LIMIT = 20_000  # characters of payload or result shown before truncating
LOG_LINES_SHOWN = 1_100  # a little over JOBDECK_LOG_MAX_LINES: the closing "n lines dropped" line fits
RECENT_JOBS = 15


def pretty_json(value: Any, *, limit: int | None = JSON_DISPLAY_LIMIT) -> tuple[str, int]:
    """Indented JSON for display, cut to `limit` characters (None: whole); and the full length.

    The text is escaped by the template like any other, so a payload holding markup shows as text.
    """
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return text[:limit], len(text)


def job_data(job: Job, part: str) -> Any:
    """The job's "payload" (its arguments) or "result", as the job page shows them."""
    return {"args": job.args, "kwargs": job.payload} if part == "payload" else job.result


def overview_context() -> dict[str, Any]:
    """Per-queue counts and settings, alive workers (and how many are gone) and the newest jobs. Seven queries."""
    recent, _ = listing.job_page(listing.JobFilters(), past_id=None, limit=RECENT_JOBS, fields=queries.ROW_FIELDS)
    workers = selectors.worker_list(include_gone=False)
    _, gone = selectors.worker_counts()
    return {
        "queues": selectors.queue_stats(cap=listing.STATE_COUNT_CAP),
        "workers": workers,
        "workers_gone": gone,
        "recent": recent,
    }


def overview_html(context: dict[str, Any]) -> str:
    return render_to_string("dashboard/overview.html#overview-live", context)


def job_row_html(job: Job) -> str:
    return render_to_string("dashboard/jobs.html#job-row", {"job": job})


def row_payload(job: Job) -> dict[str, Any]:
    """What a jobs-list consumer needs to decide whether a changed job belongs on its page, and its row."""
    return {
        "id": job.pk,
        "status": job.status,
        "queue": job.queue,
        "task": job.task_name,
        "priority": job.priority,
        "html": job_row_html(job),
    }


def changed_rows(job_ids: list[int]) -> list[dict[str, Any]]:
    """Rendered rows of `job_ids` (newest first). One query."""
    return [row_payload(job) for job in selectors.jobs_by_id(job_ids, fields=queries.ROW_FIELDS)]


def counts_html(counts: dict[str, int], *, cap: int = listing.STATE_COUNT_CAP) -> str:
    """The state tabs' counters (capped counts: "1,000+" above `cap`), each replacing its element by id.

    "All" is sent only when no state reached the cap; otherwise the page keeps the figure it
    rendered (an estimate on a large table).
    """
    items = [(f"count-{status}", listing.capped_label(counts.get(status, 0), cap=cap)) for status in Status.values]
    if all(count <= cap for count in counts.values()):
        items.insert(0, ("count-all", listing.count_label(sum(counts.values()))))
    return format_html_join("", '<span class="count" id="{}">{}</span>', items)


def matching_html(counts: dict[str, int], *, status: str, upto: int, cap: int = listing.STATE_COUNT_CAP) -> str:
    """For an operator's list filtered by state alone: the "select all N matching" count and snapshot,
    moved with the live tab counts so the two agree ("" when "All" keeps an estimate, as counts_html does).

    N is the active tab's count (a state, or all of them) and `upto` the newest job id read before the
    counts, so the action takes no job the count did not.
    """
    if status:
        label = listing.capped_label(counts.get(status, 0), cap=cap)
    elif all(count <= cap for count in counts.values()):
        label = listing.count_label(sum(counts.values()))
    else:
        return ""
    return format_html(
        '<span id="matching-count">{}</span><input type="hidden" name="upto" value="{}" id="matching-upto">',
        label,
        upto,
    )


def cursor_html(event_id: int) -> str:
    """The element that tells the browser the newest event it has seen (sent back on reconnect)."""
    return format_html('<span id="live-cursor" data-event-id="{}" hidden></span>', event_id)


def notice_html(text: str) -> str:
    return format_html('<span id="live-notice" class="live-notice">{}</span>', text)


def job_context(job_id: int) -> dict[str, Any]:
    """Everything the job page shows. Four queries (five for a retrying or queued job: why it waits).
    Raises JobNotFound."""
    job = selectors.job_detail(job_id)
    return _job_context(job, selectors.job_attempts(job_id), selectors.job_events(job_id))


def job_contexts(job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """job_context() of each of `job_ids` that still exists: three queries, plus one per job with an
    attempt (its log lines)."""
    return {
        job_id: _job_context(job, attempts, events)
        for job_id, (job, attempts, events) in selectors.jobs_detail(job_ids).items()
    }


def _job_context(job: Job, attempts: list[Any], events: list[Any]) -> dict[str, Any]:
    payload, payload_size = pretty_json(job_data(job, "payload"))
    result, result_size = pretty_json(job_data(job, "result"))
    return {
        "job": job,
        "payload": {"part": "payload", "text": payload, "size": payload_size},
        "result": {"part": "result", "text": result, "size": result_size},
        "attempts": attempts,
        "events": events,
        "logs": selectors.job_logs(job.pk, attempt=job.attempt, limit=LOG_LINES_SHOWN) if job.attempt else [],
        # Run now applies to jobs waiting for their time; jobs.services.run_job_now refuses the rest.
        "can_run_now": job.can_run_now,
        "cancel_pending": job.status == Status.RUNNING and job.cancel_requested_at is not None,
        "waiting_reason": waiting_reason(job),
        # Dependencies: the jobs this one waits for, and those waiting for it (links on the page).
        "parents": parent_ids(job),
        "children": child_ids(job),
    }


def job_live_html(context: dict[str, Any], *, operate: bool) -> str:
    """The job page's live region, with or without its action buttons (and the result, when hidden from viewers)."""
    show_data = operate or not payloads_hidden_from_viewers()
    context = {**context, "operate": operate, "show_data": show_data}
    return render_to_string("dashboard/job_detail.html#job-live", context)


VARIANTS = ("operate", "view")  # the live region as operators see it, and as viewers do


def job_live_variants(job_id: int, variants: tuple[str, ...] = VARIANTS) -> dict[str, str]:
    """The live region in each of `variants` ("operate": with the action buttons; "view": as viewers see
    it), from one read of the job. Raises JobNotFound."""
    return live_variants(job_context(job_id), variants)


def live_variants(context: dict[str, Any], variants: tuple[str, ...] = VARIANTS) -> dict[str, str]:
    """The live region of a job_context() in each of `variants`."""
    return {variant: job_live_html(context, operate=variant == "operate") for variant in variants}
