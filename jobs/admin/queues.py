"""Admin for queue settings: rows written through the queue services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from jobs import options, retry, services
from jobs.models import Overflow, Queue


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

    max_depth = forms.IntegerField(
        min_value=1,
        max_value=options.MAX_DEPTH_LIMIT,
        required=False,
        help_text="Most waiting jobs (scheduled, queued, retrying); past it new jobs are refused or wait. "
        "Empty: no limit.",
    )
    overflow = forms.ChoiceField(
        choices=Overflow.choices,
        required=False,
        help_text="What an enqueue into a full queue does: refuse at once, or block up to block seconds.",
    )
    block_seconds = forms.FloatField(
        min_value=0.001,
        max_value=options.BLOCK_SECONDS_LIMIT,
        required=False,
        help_text="With overflow Block: how long an enqueue into a full queue waits for room before it is refused.",
    )

    retry_policy = forms.JSONField(
        required=False,
        help_text='Default retry policy of the queue\'s jobs, e.g. {"backoff": {"kind": "linear", "base": 10, '
        '"cap": 600, "jitter": 0.2}, "retry_on": ["app.errors.Flaky"], "discard_on": ["builtins.KeyError"]}. '
        "Empty: none (the settings apply). A job's or its task's own policy comes first.",
    )

    class Meta:
        model = Queue
        fields = ("name", "paused", "concurrency", "max_depth", "overflow", "block_seconds", "retry_policy")

    def clean_overflow(self) -> str:
        return self.cleaned_data.get("overflow") or Overflow.REFUSE

    def clean_block_seconds(self) -> float:
        value = self.cleaned_data.get("block_seconds")
        return 5.0 if value is None else float(value)

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
    list_display = ("name", "paused", "concurrency", "max_depth", "overflow", "retry_policy")
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
        if not change or {"max_depth", "overflow", "block_seconds"} & set(form.changed_data):
            queue = services.set_queue_max_depth(
                name=obj.name, max_depth=obj.max_depth, overflow=obj.overflow, block_seconds=obj.block_seconds
            )
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
