"""Admin for cron schedules: forms validated and saved through jobs.services.schedules; runs shown read-only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from jobs import cron, schedule_selectors
from jobs.exceptions import JobdeckError
from jobs.models import Schedule
from jobs.services import schedules
from jobs.services.schedule_definitions import FIELDS, validate_schedule

RUNS_SHOWN = 20


class ScheduleForm(forms.ModelForm):
    """The definition fields; the cron expression and timezone are checked field by field, the
    whole definition by the same validation the services use."""

    # Text rather than the model's number field, so a named priority ("high") is accepted here as
    # everywhere else; validate_schedule() stores it as its number and checks the range.
    priority = forms.CharField(required=False, help_text="Empty: the task's default. A number, or high, medium, low.")

    class Meta:
        model = Schedule
        fields = list(FIELDS)
        help_texts = {
            "cron": "Five fields: minute hour day-of-month month day-of-week (e.g. 0 3 * * MON-FRI), "
            "or @hourly, @daily, @weekly, @monthly, @yearly.",
            "timezone": "An IANA name such as UTC or Europe/Paris; the cron fields are read in this timezone.",
            "task_name": "The task's module path (jobs.tasks.echo), or its name when unambiguous.",
            "args": "Positional arguments, a JSON list.",
            "payload": "Keyword arguments, a JSON object.",
            "queue": "Empty: the task's own queue.",
            "max_attempts": "Empty: the task's default.",
            "timeout": "Seconds per attempt. Empty: the task's default.",
        }

    def clean_cron(self) -> str:
        try:
            return cron.parse(self.cleaned_data["cron"])
        except JobdeckError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_priority(self) -> int | str | None:
        value: str = self.cleaned_data["priority"].strip()
        if not value:
            return None
        try:
            return int(value)
        except ValueError:
            return value  # a name, or a mistake validate_schedule() names

    def clean_timezone(self) -> str:
        try:
            return cron.validate_timezone(self.cleaned_data["timezone"])
        except JobdeckError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns
        if self.errors:
            return cleaned
        values: dict[str, Any] = {f: cleaned.get(f) for f in FIELDS}
        values["args"] = values["args"] or []  # an emptied JSON box arrives as None
        try:
            definition = validate_schedule(**values)
        except JobdeckError as exc:
            raise forms.ValidationError(exc.message) from None
        cleaned.update(asdict(definition))  # normalized: the stored cron, the task's full name
        return cleaned


def _job_link(job_id: int | None) -> str:
    if job_id is None:
        return "-"  # the job was pruned, or the fire could not enqueue
    try:
        return format_html('<a href="{}">#{}</a>', reverse("admin:jobs_job_change", args=[job_id]), job_id)
    except NoReverseMatch:
        return f"#{job_id}"


def _report(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    queryset: QuerySet[Schedule],
    action: Callable[[Schedule], bool],
    done: str,
    unchanged: str,
) -> None:
    """Run `action` on each schedule and say what happened: done, already so, or refused and why."""
    changed = same = 0
    refused: list[str] = []
    for schedule in queryset:
        try:
            if action(schedule):
                changed += 1
            else:
                same += 1
        except JobdeckError as exc:
            refused.append(exc.message)
    parts = [f"{changed} {done}"] + ([f"{same} {unchanged}"] if same else [])
    if refused:
        parts.append(f"{len(refused)} skipped ({'; '.join(refused[:5])})")
    level = messages.WARNING if refused else messages.SUCCESS
    model_admin.message_user(request, ", ".join(parts), level=level)


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ("name", "cron", "timezone", "task_name", "enabled", "next_run_at", "last_run_at", "source")
    list_filter = ("enabled", "source")
    search_fields = ("name", "task_name")
    readonly_fields = ("origin", "next_run_at", "last_run_at", "latest_runs", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "origin", "cron", "timezone", "enabled")}),
        ("Job", {"fields": ("task_name", "args", "payload", "queue", "priority", "max_attempts", "timeout")}),
        ("Runs", {"fields": ("next_run_at", "last_run_at", "latest_runs", "created_at", "updated_at")}),
    )
    actions = ("run_now", "enable", "disable")

    @admin.display(description="Defined in")
    def origin(self, obj: Schedule) -> str:
        if obj.source == Schedule.Source.CODE:
            return "Settings (JOBDECK_SCHEDULES): read-only here, rewritten at every worker start; change it there."
        return "The database: edit it here."

    @admin.display(description=f"Latest {RUNS_SHOWN} runs")
    def latest_runs(self, obj: Schedule) -> str:
        if obj.pk is None:
            return "-"
        runs = schedule_selectors.schedule_runs(schedule_id=obj.pk, limit=RUNS_SHOWN)
        if not runs:
            return "No runs yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((run.fire_at.isoformat(), "run now" if run.manual else "cron", _job_link(run.job_id)) for run in runs),
        )
        return format_html("<table><tr><th>Fire time (UTC)</th><th>By</th><th>Job</th></tr>{}</table>", rows)

    # Settings rows belong to JOBDECK_SCHEDULES: viewable, never changed or deleted here.
    def has_change_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        if obj is not None and obj.source == Schedule.Source.CODE:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        if obj is not None and obj.source == Schedule.Source.CODE:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Schedule, form: ScheduleForm, change: bool) -> None:
        values = {f: form.cleaned_data[f] for f in FIELDS}
        actor = request.user.get_username()
        if change:
            saved = schedules.update_schedule(schedule_id=obj.pk, actor=actor, **values)
        else:
            saved = schedules.create_schedule(actor=actor, **values)
        # The admin goes on with `obj` (history entry, redirect): give it the stored row.
        for field in Schedule._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        schedules.delete_schedule(schedule_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            schedules.delete_schedule(schedule_id=schedule.pk)

    @admin.action(description="Run selected schedules now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        actor = request.user.get_username()

        def run(schedule: Schedule) -> bool:
            schedules.run_schedule_now(schedule_id=schedule.pk, actor=actor)
            return True

        _report(request, self, queryset, run, "jobs enqueued", "")

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Schedule], *, enabled: bool) -> None:
        actor = request.user.get_username()

        def toggle(schedule: Schedule) -> bool:
            if schedule.enabled == enabled and schedule.source == Schedule.Source.DATABASE:
                return False
            schedules.set_schedule_enabled(schedule_id=schedule.pk, enabled=enabled, actor=actor)
            return True

        word = "enabled" if enabled else "disabled"
        _report(request, self, queryset, toggle, f"schedules {word}", f"already {word}")
