"""Admin for the jobs' history: attempts, events and log lines, read-only records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from jobs.admin.display import ADMIN_CSS, ReadOnlyRows, as_id, job_link, pre
from jobs.admin.filters import EventStatusFilter, JobIdFilter, LevelFilter, QueueFilter
from jobs.admin.pagination import LargeTableAdmin
from jobs.models import Attempt, JobEvent, JobLog


class HistoryAdmin(ReadOnlyRows, LargeTableAdmin):
    """Read-only records of jobs: viewable, never added, changed or deleted here (pruning deletes them)."""

    class Media:
        css = ADMIN_CSS

    list_select_related = ("job",)
    search_fields = ("=job__id",)  # shows the search box; get_search_results decides what runs
    search_help_text = "A job id."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        job_id = as_id(search_term)
        return (queryset.none() if job_id is None else queryset.filter(job_id=job_id)), False

    @admin.display(description="job")
    def job_link(self, obj: Attempt | JobEvent | JobLog) -> SafeString:
        return job_link(obj.job_id, obj.job)


@admin.register(Attempt)
class AttemptAdmin(HistoryAdmin):
    list_display = ("id", "job_link", "number", "outcome", "worker", "started_at", "finished_at", "error_class")
    list_filter = ("outcome", JobIdFilter)
    fields = (
        "job",
        "number",
        "outcome",
        "worker",
        "started_at",
        "finished_at",
        "duration",
        "error_class",
        "error_message",
        "traceback_text",
        "progress",
        "progress_message",
    )
    readonly_fields = fields

    @admin.display(description="traceback")
    def traceback_text(self, attempt: Attempt) -> SafeString | str:
        return pre(attempt.traceback) if attempt.traceback else "-"


@admin.register(JobEvent)
class JobEventAdmin(HistoryAdmin):
    list_display = ("id", "job_link", "queue", "change", "attempt", "reason", "actor", "created_at")
    list_filter = (EventStatusFilter, QueueFilter, JobIdFilter)
    fields = ("job", "queue", "old_status", "new_status", "attempt", "reason", "actor", "created_at")
    readonly_fields = fields

    @admin.display(description="change")
    def change(self, event: JobEvent) -> str:
        return f"{event.old_status or 'new'} → {event.new_status}"


@admin.register(JobLog)
class JobLogAdmin(HistoryAdmin):
    list_display = ("id", "job_link", "attempt", "created_at", "level_label", "logger", "short_message")
    list_filter = (LevelFilter, JobIdFilter)
    fields = ("job", "attempt", "created_at", "level_label", "logger", "message_text")
    readonly_fields = fields

    @admin.display(description="level")
    def level_label(self, line: JobLog) -> str:
        return line.level_name

    @admin.display(description="message")
    def short_message(self, line: JobLog) -> str:
        return line.message if len(line.message) <= 120 else line.message[:120] + "…"

    @admin.display(description="message")
    def message_text(self, line: JobLog) -> SafeString:
        return pre(line.message)
