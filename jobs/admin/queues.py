"""Admin for queue settings: rows written through the queue services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from jobs import options, retry, services
from jobs.models import Queue


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

    retry_policy = forms.JSONField(
        required=False,
        help_text='Default retry policy of the queue\'s jobs, e.g. {"backoff": {"kind": "linear", "base": 10, '
        '"cap": 600, "jitter": 0.2}, "retry_on": ["app.errors.Flaky"], "discard_on": ["builtins.KeyError"]}. '
        "Empty: none (the settings apply). A job's or its task's own policy comes first.",
    )

    class Meta:
        model = Queue
        fields = ("name", "paused", "concurrency", "retry_policy")

    def clean_retry_policy(self) -> dict[str, object] | None:
        value = self.cleaned_data.get("retry_policy")
        if value in (None, {}, ""):
            return None
        if not isinstance(value, dict) or set(value) - set(retry.POLICY_KEYS):
            raise forms.ValidationError(f"Give an object with keys among {', '.join(retry.POLICY_KEYS)}.")
        try:
            return retry.policy_json(**value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = ("name", "paused", "concurrency", "retry_policy")
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
        if not change or "retry_policy" in form.changed_data:
            queue = services.set_queue_retry_policy(name=obj.name, **(obj.retry_policy or {}))
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
