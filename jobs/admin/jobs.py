"""Admin for jobs, their history (attempts, events, log lines) and queue settings.

Jobs are read-only here: they change only through jobs.services (the actions below), and the
lists never COUNT(*), SELECT DISTINCT or LIKE '%...%' over the job table (see pagination.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from jobs import options, registry, services
from jobs.admin.pagination import LargeTableAdmin
from jobs.exceptions import JobdeckError
from jobs.models import Attempt, Job, JobEvent, JobLog, Queue
from jobs.services import BulkResult
from jobs.status import Status

HISTORY_LIMIT = 50  # attempts, events and log lines shown on a job's page (the newest)
JSON_DISPLAY_LIMIT = 100_000  # characters of args, payload or result shown on a job's page
LEVELS = [(logging.DEBUG, "debug"), (logging.INFO, "info"), (logging.WARNING, "warning"), (logging.ERROR, "error")]
BOTH_PLACES = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]
ADMIN_CSS = {"all": ["jobs_admin/jobs.css"]}


def _pre(text: str, limit: int = JSON_DISPLAY_LIMIT) -> SafeString:
    if len(text) > limit:
        text = f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"
    return format_html('<pre class="job-text">{}</pre>', text)  # styled by ADMIN_CSS: the CSP forbids style=""


def _pretty_json(value: Any) -> SafeString:
    return _pre(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _job_link(job_id: int, text: object) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[job_id]), text)


def task_names_matching(term: str) -> list[str]:
    """Task names a search term stands for: itself, and registered names (or function names) it begins.

    Resolving against the registry turns a prefix search into an exact `task_name IN (...)`, which
    uses job_task_id_idx on every database and collation (LIKE 'x%' does not, outside the C one).
    """
    folded = term.casefold()
    names = {term}
    for name, registered in registry.all_tasks().items():
        if name.casefold().startswith(folded) or registered.short_name.casefold().startswith(folded):
            names.add(name)
    return sorted(names)


def _as_id(term: str) -> int | None:
    """A search term that is a row id ("123" or "#123"), else None."""
    term = term.strip().removeprefix("#")
    if term.isascii() and term.isdigit() and len(term) <= 18:  # 18 digits always fit a bigint
        return int(term)
    return None


# --- Filters: their choices come from small tables and the registry, never from DISTINCT over jobs ---


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        names = set(Queue.objects.values_list("name", flat=True))
        names.update(registered.task.queue_name for registered in registry.all_tasks().values())
        if self.value():
            names.add(self.value())  # a queue no task uses any more still shows as selected
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(queue=self.value()) if self.value() else queryset


class TaskFilter(admin.SimpleListFilter):
    title = "task"
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        names = set(registry.all_tasks())
        if self.value():
            names.add(self.value())
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(task_name=self.value()) if self.value() else queryset


class EventStatusFilter(admin.SimpleListFilter):
    title = "new status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in Status.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(new_status=self.value()) if self.value() else queryset


class LevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(level), f"{name.capitalize()} and above") for level, name in LEVELS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(level__gte=int(value)) if value and value.isdigit() else queryset


class JobIdFilter(admin.SimpleListFilter):
    """The history of one job (?job=<id>, as linked from the job's page); shown only while active."""

    title = "job"
    parameter_name = "job"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.value(), f"Job {self.value()}")] if self.value() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        job_id = _as_id(self.value())
        return queryset.none() if job_id is None else queryset.filter(job_id=job_id)


# --- Jobs ---


class JobChangeList(ChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        # The list shows none of the JSON or text columns: a page of jobs should not carry their payloads.
        return super().get_queryset(request, exclude_parameters).defer("args", "payload", "result", "last_error")


@admin.register(Job)
class JobAdmin(LargeTableAdmin):
    class Media:
        css = ADMIN_CSS

    list_display = (
        "id",
        "task_name",
        "queue",
        "status",
        "priority",
        "attempts",
        "run_at",
        "created_at",
        "worker",
    )
    list_filter = ("status", QueueFilter, TaskFilter)
    search_fields = ("=id", "task_name")  # shows the search box; get_search_results decides what runs
    search_help_text = "A job id, or a task name: in full, its beginning, or its function name."
    actions = ("cancel_selected", "retry_selected", "run_selected_now")
    fieldsets = (
        (None, {"fields": ("id", "task_name", "queue", "status", "priority", "attempts", "worker", "progress_text")}),
        (
            "Timing",
            {
                "fields": (
                    "created_at",
                    "run_at",
                    "started_at",
                    "finished_at",
                    "lease_expires_at",
                    "cancel_requested_at",
                )
            },
        ),
        ("Data", {"fields": ("args_json", "payload_json", "result_json", "error")}),
        ("Options", {"fields": ("max_attempts", "timeout", "idempotency_key")}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return JobChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """A number finds that job id; text finds task names exactly or by prefix (both indexed)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if (job_id := _as_id(term)) is not None:
            return queryset.filter(pk=job_id), False
        return queryset.filter(task_name__in=task_names_matching(term)), False

    # Jobs change only through the services: no add form, no edit form; a finished job can be deleted.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Without an object this also removes the bulk "delete selected" action: pruning deletes in bulk.
        return isinstance(obj, Job) and obj.is_finished and super().has_delete_permission(request, obj)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Cancel, retry and run now need the model's change permission, though the form is read-only."""
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    def get_deleted_objects(
        self, objs: Sequence[Model], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        # Django's collector would load and list every event, attempt and log line of the job, and
        # would refuse because the history admins allow no deletes: count them instead.
        job_ids = [obj.pk for obj in objs]
        model_count = {str(Job._meta.verbose_name_plural): len(job_ids)}
        for model in (Attempt, JobEvent, JobLog):
            if count := model.objects.filter(job_id__in=job_ids).count():
                model_count[str(model._meta.verbose_name_plural)] = count
        return [str(obj) for obj in objs], model_count, set(), []

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        try:
            services.delete_job(job_id=obj.pk, actor=request.user.get_username())
        except JobdeckError as exc:  # retried (or deleted) since the page loaded
            raise PermissionDenied(exc.message) from exc

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Model | None = None,
    ) -> TemplateResponse:
        if obj is not None:
            context.update(
                history_limit=HISTORY_LIMIT,
                attempts=list(Attempt.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
                events=list(JobEvent.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
                logs=list(JobLog.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
            )
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description="attempt")
    def attempts(self, job: Job) -> str:
        return f"{job.attempts_spent}/{job.max_attempts}"

    @admin.display(description="progress")
    def progress_text(self, job: Job) -> str:
        if job.progress is None:
            return job.progress_message or "-"
        return f"{job.progress:.0%} {job.progress_message}".strip()

    @admin.display(description="args")
    def args_json(self, job: Job) -> SafeString:
        return _pretty_json(job.args)

    @admin.display(description="payload (keyword arguments)")
    def payload_json(self, job: Job) -> SafeString:
        return _pretty_json(job.payload)

    @admin.display(description="result")
    def result_json(self, job: Job) -> SafeString:
        return _pretty_json(job.result)

    @admin.display(description="last error")
    def error(self, job: Job) -> SafeString | str:
        return _pre(job.last_error) if job.last_error else "-"

    # Actions: one service call each, reporting what changed and what was skipped and why.

    @admin.action(
        description="Cancel job",
        description_plural="Cancel selected jobs",
        permissions=["operate"],
        location=BOTH_PLACES,
    )
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._bulk(request, queryset, services.cancel_jobs, "cancelled (running ones when their worker stops)")

    @admin.action(
        description="Retry job",
        description_plural="Retry selected jobs",
        permissions=["operate"],
        location=BOTH_PLACES,
    )
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._bulk(request, queryset, services.retry_jobs, "queued again")

    @admin.action(
        description="Run job now",
        description_plural="Run selected jobs now",
        permissions=["operate"],
        location=BOTH_PLACES,
    )
    def run_selected_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._bulk(request, queryset, services.run_jobs_now, "runnable now")

    def _bulk(
        self, request: HttpRequest, queryset: QuerySet[Job], action: Callable[..., BulkResult], done: str
    ) -> None:
        # One id past the service's limit, so "select all" over a huge list gets its refusal
        # without reading every id first.
        ids = list(queryset.values_list("pk", flat=True)[: services.MAX_BULK + 1])
        try:
            result = action(ids=ids, actor=request.user.get_username())
        except JobdeckError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        text = f"{result.changed} {done}, {result.skipped} skipped"
        if result.errors:
            reasons = list(result.errors.values())
            text += ": " + "; ".join(reasons[:5]) + ("; …" if len(reasons) > 5 else "")
        self.message_user(request, text, messages.WARNING if result.skipped else messages.SUCCESS)


# --- History: attempts, events and log lines are read-only records ---


class HistoryAdmin(LargeTableAdmin):
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
        job_id = _as_id(search_term)
        return (queryset.none() if job_id is None else queryset.filter(job_id=job_id)), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="job")
    def job_link(self, obj: Attempt | JobEvent | JobLog) -> SafeString:
        return _job_link(obj.job_id, obj.job)


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
        return _pre(attempt.traceback) if attempt.traceback else "-"


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
        return _pre(line.message)


# --- Queues: settings rows, written through the services ---


class QueueForm(forms.ModelForm):
    name = forms.RegexField(
        regex=options.QUEUE_NAME,
        max_length=100,
        error_messages={"invalid": "Use 1-100 letters, digits, '_', '.', ':' or '-'."},
    )
    concurrency = forms.IntegerField(
        min_value=1,
        required=False,
        help_text="Most jobs of this queue running at once, over all workers. Empty: no limit.",
    )

    class Meta:
        model = Queue
        fields = ("name", "paused", "concurrency")


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = ("name", "paused", "concurrency")
    list_filter = ("paused",)
    search_fields = ("name",)
    ordering = ("name",)
    actions = ("pause_selected", "resume_selected")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        # Renaming a row would silently move its settings to another queue.
        return ("name",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # no service removes a queue's settings; set them back instead

    def save_model(self, request: HttpRequest, obj: Queue, form: forms.ModelForm, change: bool) -> None:
        queue = obj
        if not change or "concurrency" in form.changed_data:
            queue = services.set_queue_concurrency(name=obj.name, limit=obj.concurrency)
        if not change or "paused" in form.changed_data:
            queue = (services.pause_queue if obj.paused else services.resume_queue)(name=obj.name)
        obj.pk = queue.pk

    @admin.action(description="Pause selected queues", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        names = self._names(queryset)
        for name in names:
            services.pause_queue(name=name)
        self.message_user(request, f"Paused: {', '.join(names)}", messages.SUCCESS)

    @admin.action(description="Resume selected queues", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        names = self._names(queryset)
        for name in names:
            services.resume_queue(name=name)
        self.message_user(request, f"Resumed: {', '.join(names)}", messages.SUCCESS)

    @staticmethod
    def _names(queryset: QuerySet[Queue]) -> list[str]:
        return sorted(queryset.values_list("name", flat=True))
