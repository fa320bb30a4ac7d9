"""Admin for worker processes: read-only rows that `runworkers` writes, with whether each is alive."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from jobs.admin.display import ReadOnlyRows
from jobs.models import WorkerProcess, WorkerProcessQuerySet


class AliveFilter(admin.SimpleListFilter):
    title = "alive"
    parameter_name = "alive"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Alive"), ("no", "Gone (stopped or silent)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(WorkerProcessQuerySet.alive_condition())  # as .alive()
        if self.value() == "no":
            return queryset.exclude(WorkerProcessQuerySet.alive_condition())  # as .gone()
        return queryset


@admin.register(WorkerProcess)
class WorkerProcessAdmin(ReadOnlyRows, admin.ModelAdmin):
    list_display = (
        "name",
        "host",
        "pid",
        "queue_names",
        "concurrency",
        "worker_type",
        "started_at",
        "last_heartbeat",
        "stopped_at",
        "alive",
        "jobs_link",
    )
    list_filter = (AliveFilter,)  # field filters would SELECT DISTINCT over a table that grows with every start
    search_fields = ("name", "host")
    ordering = ("-started_at", "-id")
    fields = (
        "name",
        "host",
        "pid",
        "queue_names",
        "concurrency",
        "worker_type",
        "started_at",
        "last_heartbeat",
        "stopped_at",
        "alive",
        "jobs_link",
        "task_refs",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkerProcess]:
        # The admin's queryset comes from WorkerProcess.objects, a WorkerProcessQuerySet's manager.
        return cast(WorkerProcessQuerySet, super().get_queryset(request)).with_liveness()

    @admin.display(description="queues")
    def queue_names(self, worker: WorkerProcess) -> str:
        return ", ".join(worker.queues) if isinstance(worker.queues, list) else str(worker.queues)

    @admin.display(description="tasks")
    def task_refs(self, worker: WorkerProcess) -> str:
        """The tasks (and versions) it claims; a worker from before versioned tasks claims any."""
        if worker.tasks is None:
            return "any (a worker from before versioned tasks)"
        return ", ".join(worker.tasks) or "none"

    @admin.display(description="alive", boolean=True, ordering="is_alive")
    def alive(self, worker: WorkerProcess) -> bool:
        return bool(getattr(worker, "is_alive", False))

    @admin.display(description="jobs")
    def jobs_link(self, worker: WorkerProcess) -> SafeString:
        query = urlencode({"worker": worker.name})
        return format_html('<a href="{}?{}">jobs</a>', reverse("admin:jobs_job_changelist"), query)
