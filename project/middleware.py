"""The last word on a database that refuses a write: 503 with Retry-After, never Django's 500 page.

The services raise DatabaseUnavailable; a stray OperationalError (a write outside them, or the
lock bound of a web process tripping in a read) is treated the same. The API answers these itself
(jobs/api/errors.py); the middleware catches them in the dashboard's, the admin's and /metrics'
views, and `server_error` (handler500) where a middleware meets them (the session save at login).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from jobs import dbguard
from jobs.exceptions import DatabaseUnavailable


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return unavailable_response(request, exc)


def unavailable_response(request: HttpRequest, exc: BaseException | None) -> HttpResponse | None:
    """503 with Retry-After (JSON under /api/ and /metrics, a plain page elsewhere) when `exc` is the
    database refusing a write; None for anything else."""
    if isinstance(exc, dbguard.REFUSALS):
        exc = DatabaseUnavailable(dbguard.record_refusal(exc))
    if not isinstance(exc, DatabaseUnavailable):
        return None
    dbguard.log_refusal(f"{request.method} {request.path}", exc)
    if request.path.startswith(("/api/", "/metrics")):
        response: HttpResponse = JsonResponse({"error": exc.message}, status=503)
    else:
        # A plain page: the dashboard's base template would read the database again.
        response = HttpResponse(render_to_string("503.html", {"message": exc.message}), status=503)
    response["Retry-After"] = str(exc.retry_after)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a refused write raised outside a view (a middleware saving the session, say) is a
    503 too; anything else is Django's own 500 page."""
    return unavailable_response(request, sys.exception()) or defaults.server_error(request)
