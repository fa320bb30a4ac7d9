"""Admin for jobs: read-only pages and lists, and the actions, each one service call.

Jobs are read-only here: they change only through jobs.services (the actions below), and the
lists never COUNT(*), SELECT DISTINCT or LIKE '%...%' over the job table (see pagination.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import SafeString

from jobs import registry, services
from jobs.admin.display import ADMIN_CSS, as_id, pre, pretty_json
from jobs.admin.filters import QueueFilter, TaskFilter, TaskVersionFilter
from jobs.admin.pagination import LargeTableAdmin
from jobs.exceptions import JobdeckError
from jobs.models import Attempt, Job, JobEvent, JobLog
from jobs.services import BulkResult

HISTORY_LIMIT = 50  # attempts, events and log lines shown on a job's page (the newest)
BOTH_PLACES = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


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
        "task",
        "queue",
        "status",
        "priority",
        "attempts",
        "run_at",
        "created_at",
        "worker",
    )
    list_filter = ("status", QueueFilter, TaskFilter, TaskVersionFilter)
    search_fields = ("=id", "task_name")  # shows the search box; get_search_results decides what runs
    search_help_text = "A job id, or a task name: in full, its beginning, or its function name."
    actions = ("cancel_selected", "retry_selected", "run_selected_now")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "task_name",
                    "task_version",
                    "queue",
                    "status",
                    "priority",
                    "attempts",
                    "worker",
                    "progress_text",
                )
            },
        ),
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
        (
            "Options",
            {
                "fields": (
                    "max_attempts",
                    "timeout",
                    "idempotency_key",
                    "unique_for",
                    "unique_until",
                    "expires_at",
                    "concurrency_key",
                    "concurrency_limit",
                    "retry_policy",
                    "snoozes",
                )
            },
        ),
    )
    # Every entry above is a single field name (none is a tuple shown on one line).
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"] if isinstance(name, str))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return JobChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """A number finds that job id; text finds task names exactly or by prefix (both indexed)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if (job_id := as_id(term)) is not None:
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
        self, objs: Sequence[Any] | QuerySet[Any], request: HttpRequest
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
    ) -> HttpResponse:
        if obj is not None:
            context.update(
                history_limit=HISTORY_LIMIT,
                attempts=list(Attempt.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
                events=list(JobEvent.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
                logs=list(JobLog.objects.filter(job_id=obj.pk).order_by("-id")[:HISTORY_LIMIT]),
            )
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description="task", ordering="task_name")
    def task(self, job: Job) -> str:
        return f"{job.task_name}@{job.task_version}" if job.task_version else job.task_name

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
        return pretty_json(job.args)

    @admin.display(description="payload (keyword arguments)")
    def payload_json(self, job: Job) -> SafeString:
        return pretty_json(job.payload)

    @admin.display(description="result")
    def result_json(self, job: Job) -> SafeString:
        return pretty_json(job.result)

    @admin.display(description="last error")
    def error(self, job: Job) -> SafeString | str:
        return pre(job.last_error) if job.last_error else "-"

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
