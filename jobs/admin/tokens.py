"""Admin for API tokens: created through jobs.tokens (the secret shown once), revoked, never edited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from jobs import tokens
from jobs.models import ApiToken

ADD_FIELDS = ("user", "name", "read_only")
VIEW_FIELDS = ("user", "name", "prefix_display", "read_only", "created_at", "last_used_at", "revoked_at")


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class TokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ADD_FIELDS


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = TokenAddForm
    list_display = ("prefix_display", "name", "user", "read_only", "created_at", "last_used_at", "revoked_at")
    list_filter = (RevokedFilter, "read_only")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username")
    raw_id_fields = ("user",)  # a select of every user would not scale
    readonly_fields = ("prefix_display",)
    actions = ("revoke_selected",)

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        # The hash is never shown; the add form asks only what create_token takes.
        return ADD_FIELDS if obj is None else VIEW_FIELDS

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a token is created or revoked, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # revoking keeps the record of who had access

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        token, secret = tokens.create_token(username=obj.user.get_username(), name=obj.name, read_only=obj.read_only)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, token.key_hash, token.created_at
        # Handed to response_add on the same instance; never stored, never put in a message or session.
        obj.__dict__["new_secret"] = secret

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        """Show the secret on the response to the POST itself: once, and nowhere else."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "API token created",
            "token": obj,
            "secret": obj.__dict__.pop("new_secret"),
        }
        response = TemplateResponse(request, "admin/jobs/apitoken/token_created.html", context)
        add_never_cache_headers(response)  # no copy of the page in any cache
        return response

    @admin.display(description="prefix", ordering="prefix")
    def prefix_display(self, token: ApiToken) -> str:
        return f"{token.prefix}…"

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for token_id in ids:
            tokens.revoke_token(token_id=token_id)
        self.message_user(request, f"{len(ids)} token{'s' if len(ids) != 1 else ''} revoked", messages.SUCCESS)
