"""Admin for rate limits: rows written and removed through the rate-limit services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from jobs.models import RateLimit
from jobs.services import rate_limits


class RateLimitForm(forms.ModelForm):
    max_starts = forms.IntegerField(min_value=1, help_text="Job starts allowed per period, over all workers.")
    period = forms.FloatField(
        min_value=0.001, max_value=rate_limits.MAX_PERIOD, help_text="The window in seconds (at most a day)."
    )

    class Meta:
        model = RateLimit
        fields = ("scope", "name", "max_starts", "period")
        help_texts = {"name": "The queue, the task's module path, or the concurrency key (customer:42)."}


@admin.register(RateLimit)
class RateLimitAdmin(admin.ModelAdmin):
    form = RateLimitForm
    list_display = ("scope", "name", "max_starts", "period")
    list_filter = ("scope",)
    search_fields = ("name",)
    ordering = ("scope", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        # Renaming a row would silently move its starts to another queue, task or key.
        return ("scope", "name") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: RateLimit, form: forms.ModelForm, change: bool) -> None:
        limit = rate_limits.set_rate_limit(scope=obj.scope, name=obj.name, max_starts=obj.max_starts, period=obj.period)
        obj.pk = limit.pk

    def delete_model(self, request: HttpRequest, obj: RateLimit) -> None:
        rate_limits.remove_rate_limit(scope=obj.scope, name=obj.name)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RateLimit]) -> None:
        for scope, name in queryset.values_list("scope", "name"):
            rate_limits.remove_rate_limit(scope=scope, name=name)
