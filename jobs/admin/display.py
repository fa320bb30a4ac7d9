"""How the admin pages show long text, JSON, row ids and links to a job, and read-only rows."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

JSON_DISPLAY_LIMIT = 100_000  # characters of args, payload or result shown on a job's page
ADMIN_CSS = {"all": ["jobs_admin/jobs.css"]}


def pre(text: str, limit: int = JSON_DISPLAY_LIMIT) -> SafeString:
    if len(text) > limit:
        text = f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"
    return format_html('<pre class="job-text">{}</pre>', text)  # styled by ADMIN_CSS: the CSP forbids style=""


def pretty_json(value: Any) -> SafeString:
    return pre(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def job_link(job_id: int, text: object) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[job_id]), text)


def as_id(term: str) -> int | None:
    """A search term that is a row id ("123" or "#123"), else None."""
    term = term.strip().removeprefix("#")
    if term.isascii() and term.isdigit() and len(term) <= 18:  # 18 digits always fit a bigint
        return int(term)
    return None


class ReadOnlyRows:
    """For an admin of rows only the engine and the services write (history, worker processes): they
    can be viewed, never added, changed or deleted here. Listed before the ModelAdmin base."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
