"""The page a locked-out sign-in gets (django-axes calls locked_out; settings: AXES_LOCKOUT_CALLABLE).

One page for the dashboard's and the admin's login forms: it says why, for how long, and how an
administrator lifts the lock, and answers 429 so scripts see a throttle rather than a bad password.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None) -> HttpResponse:
    cool_off = get_cool_off(request)
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "locked_out.html", context, status=429)
