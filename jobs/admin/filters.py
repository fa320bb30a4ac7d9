"""The admin's list filters: their choices come from small tables and the registry, never from
DISTINCT over jobs."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from jobs import registry, selectors
from jobs.admin.display import as_id
from jobs.models import Queue
from jobs.status import Status

LEVELS = [(logging.DEBUG, "debug"), (logging.INFO, "info"), (logging.WARNING, "warning"), (logging.ERROR, "error")]


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        names = set(Queue.objects.values_list("name", flat=True))
        names.update(registered.task.queue_name for registered in registry.all_tasks().values())
        if value := self.value():
            names.add(value)  # a queue no task uses any more still shows as selected
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(queue=self.value()) if self.value() else queryset


class TaskFilter(admin.SimpleListFilter):
    title = "task"
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        names = set(registry.all_tasks())
        if value := self.value():
            names.add(value)
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(task_name=self.value()) if self.value() else queryset


class TaskVersionFilter(admin.SimpleListFilter):
    """Jobs enqueued for one version of their task: the versions this process's registry and the live
    workers have (one read of the worker table), and the one selected."""

    title = "task version"
    parameter_name = "version"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        versions = {str(t.version) for t in registry.all_tasks().values() if t.version}
        versions.update(v for having in selectors.task_workers().values() for v in having if v)
        if value := self.value():
            versions.add(value)
        return [(v, f"@{v}") for v in sorted(versions)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(task_version=self.value()) if self.value() else queryset


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
        value = self.value()
        return [(value, f"Job {value}")] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        job_id = as_id(value)
        return queryset.none() if job_id is None else queryset.filter(job_id=job_id)
