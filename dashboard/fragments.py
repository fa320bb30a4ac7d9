"""Context builders and fragment renderers shared by the views, the fanout and the consumers.

Pages and live updates render the same partials from the same contexts, so HTTP and WebSocket
show one markup.
"""

from __future__ import annotations

import html
import json
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from dashboard import queries
from dashboard.permissions import payloads_hidden_from_viewers
from dashboard.templatetags.dashboard import percent, relative_time, task_link
from jobs import listing, selectors
from jobs.models import Job
from jobs.status import Status
from jobs.waiting import alive_worker_tasks, child_ids, parent_ids, parents_of, waiting_reason

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


def job_row_html(job: Job, parts: RowParts | None = None) -> str:
    """The jobs list's row of `job`, as the page's `#job-row` partial renders it (the live path's renderer).

    Written out rather than rendered through the template engine: the fanout renders every change of
    every row an open page shows (about a thousand a second at 1,000 jobs/s), and the engine took
    about 0.6 ms a row where this takes a tenth of it. tests/dashboard/test_fragments.py checks that
    both give the same HTML for a job in every state, so the partial stays the one markup source.
    `parts` carries what is the same for many rows (pass one to render a batch).
    """
    parts = parts or RowParts()
    status = conditional_escape(job.status)
    extra = ""
    if job.status == Status.RUNNING:
        if job.cancel_requested_at:
            extra = ' <span class="badge">cancel requested</span>'
        elif job.progress is not None:
            progress = conditional_escape(localize(job.progress))
            extra = f' <progress value="{progress}" max="1">{conditional_escape(percent(job.progress))}</progress>'
    pk = parts.number(job.pk)
    attempts = f"{parts.number(job.attempts_spent)}/{parts.number(job.max_attempts)}"
    return mark_safe(  # noqa: S308 - every value in it went through conditional_escape()
        f'\n        <tr id="job-{pk}" data-job-id="{pk}" data-status="{status}">\n'
        f'          <td class="select"><input type="checkbox" name="ids" value="{pk}" form="bulk-form"'
        f' aria-label="Select job {pk}"></td>\n'
        f'          <td><a href="{parts.job_url(job.pk)}">#{pk}</a></td>\n'
        f'          <td class="task">{parts.task_link(job.task_name)}</td>\n'
        f'          <td class="col-queue">{conditional_escape(job.queue)}</td>\n'
        f'          <td><span class="status status-{status}">{parts.label(job.status)}</span>{extra}</td>\n'
        f'          <td class="num col-priority">{parts.number(job.priority)}</td>\n'
        f'          <td class="num col-attempts">{attempts}</td>\n'
        f"          <td>{conditional_escape(relative_time(job.created_at))}</td>\n"
        "        </tr>\n        "
    )


def _number(value: int, *, grouped: bool | None = None) -> str:
    """An integer as `{{ value }}` prints it (localize() leaves it as is unless numbers are grouped)."""
    grouped = settings.USE_THOUSAND_SEPARATOR if grouped is None else grouped
    return conditional_escape(localize(value)) if grouped else str(value)


class RowParts:
    """What a batch of rows shares, each looked up once: the translated status labels, the task links,
    the job page's URL pattern, and whether numbers are grouped (the lookups of the active language and
    formats go through a thread-local and were most of a row's cost)."""

    SAMPLE_PK = 918273645  # reversed once; a row's URL replaces it with its own id

    def __init__(self) -> None:
        self.grouped = settings.USE_THOUSAND_SEPARATOR
        self.labels: dict[str, str] = {}
        self.links: dict[str, str] = {}
        sample = conditional_escape(reverse("dashboard:job_detail", args=[self.SAMPLE_PK]))
        self.url_parts = sample.split(str(self.SAMPLE_PK)) if sample.count(str(self.SAMPLE_PK)) == 1 else None

    def number(self, value: int) -> str:
        return _number(value, grouped=self.grouped)

    def job_url(self, job_id: int) -> str:
        if self.url_parts is None:
            return conditional_escape(reverse("dashboard:job_detail", args=[job_id]))
        return f"{self.url_parts[0]}{job_id}{self.url_parts[1]}"

    def label(self, status: str) -> str:
        if status not in self.labels:
            self.labels[status] = conditional_escape(Status(status).label)
        return self.labels[status]

    def task_link(self, name: str) -> str:
        if name not in self.links:
            self.links[name] = conditional_escape(task_link(name))
        return self.links[name]


def row_payload(job: Job, parts: RowParts | None = None) -> dict[str, Any]:
    """What a jobs-list consumer needs to decide whether a changed job belongs on its page, and its row."""
    return {
        "id": job.pk,
        "status": job.status,
        "queue": job.queue,
        "task": job.task_name,
        "priority": job.priority,
        "html": job_row_html(job, parts),
    }


def changed_rows(job_ids: list[int]) -> list[dict[str, Any]]:
    """Rendered rows of `job_ids` (newest first). One query."""
    parts = RowParts()
    return [row_payload(job, parts) for job in selectors.jobs_by_id(job_ids, fields=queries.ROW_FIELDS)]


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
    """job_context() of each of `job_ids` that still exists: four queries (jobs, attempts, events,
    dependencies), plus one per job with an attempt (its log lines) or retrying (its last attempt's
    outcome), and one for the live workers when one of them is queued (why it waits)."""
    details = selectors.jobs_detail(job_ids)
    workers = alive_worker_tasks() if any(job.status == Status.QUEUED for job, _, _ in details.values()) else None
    parents = parents_of(list(details))
    return {
        job_id: _job_context(job, attempts, events, workers=workers, parents=parents.get(job_id, []))
        for job_id, (job, attempts, events) in details.items()
    }


def _job_context(
    job: Job,
    attempts: list[Any],
    events: list[Any],
    *,
    workers: list[tuple[Any, Any]] | None = None,
    parents: list[int] | None = None,
) -> dict[str, Any]:
    payload, payload_size = pretty_json(job_data(job, "payload"))
    result, result_size = pretty_json(job_data(job, "result"))
    return {
        "job": job,
        "payload": {"part": "payload", "text": payload, "size": payload_size},
        "result": {"part": "result", "text": result, "size": result_size},
        "attempts": attempts,
        "events": events,
        "timeline": timeline_html(events),
        "logs": selectors.job_logs(job.pk, attempt=job.attempt, limit=LOG_LINES_SHOWN) if job.attempt else [],
        # Run now applies to jobs waiting for their time; jobs.services.run_job_now refuses the rest.
        "can_run_now": job.can_run_now,
        "cancel_pending": job.status == Status.RUNNING and job.cancel_requested_at is not None,
        "waiting_reason": waiting_reason(job, workers=workers),
        # Dependencies: the jobs this one waits for, and those waiting for it (links on the page).
        "parents": parent_ids(job) if parents is None else parents,
        "children": child_ids(job),
    }


def timeline_html(events: list[Any]) -> str:
    """The job page's timeline items, one `<li>` per JobEvent of `events`.

    Written out rather than as a `{% for %}` in the template: a job's region is rendered again each
    time it moves, and a timeline of a few dozen events took the engine most of the region's cost
    (about 0.5 ms an item). tests/dashboard/test_fragments.py holds the loop it replaced and checks
    that both give the same HTML.
    """
    items = []
    for event in events:
        # html.escape: the fields are plain strings from the database (conditional_escape() gives the
        # same text through a lazy-string wrapper, which was a third of this loop).
        old = html.escape(event.old_status or "new")
        new = html.escape(event.new_status)
        item = (
            f'\n        <li>{relative_time(event.created_at)} <span class="status status-{old}">'
            f'{old}</span> → <span class="status status-{new}">{new}</span>'
        )
        if event.attempt:
            item += f' <span class="muted">attempt {_number(event.attempt)}</span>'
        if event.reason:
            item += f" · {html.escape(event.reason)}"
        if event.actor:
            item += f' · <span class="actor">by {html.escape(event.actor)}</span>'
        items.append(item + "</li>\n      ")
    return mark_safe("".join(items))  # noqa: S308 - every value in it is escaped or relative_time()'s markup


def job_live_html(context: dict[str, Any], *, operate: bool) -> str:
    """The job page's live region, with or without its action buttons (and the result, when hidden from viewers)."""
    show_data = operate or not payloads_hidden_from_viewers()
    context = {**context, "operate": operate, "show_data": show_data}
    return render_to_string("dashboard/job_detail.html#job-live", context)


VARIANTS = ("operate", "view")  # the live region as operators see it, and as viewers do


def job_live_variants(
    job_id: int, variants: tuple[str, ...] = VARIANTS, *, cursor: int | None = None
) -> dict[str, str]:
    """The live region in each of `variants` ("operate": with the action buttons; "view": as viewers see
    it), from one read of the job; with the cursor's element (cursor_html) when `cursor` is given.
    Raises JobNotFound."""
    return live_variants(job_context(job_id), variants, cursor=cursor)


def live_variants(
    context: dict[str, Any], variants: tuple[str, ...] = VARIANTS, *, cursor: int | None = None
) -> dict[str, str]:
    """The live region of a job_context() in each of `variants`, followed by cursor_html(cursor) when given."""
    tail = "" if cursor is None else cursor_html(cursor)
    return {variant: job_live_html(context, operate=variant == "operate") + tail for variant in variants}
