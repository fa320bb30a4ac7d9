"""The live-update addresses as plain HTTP: named in dashboard/urls.py so pages can reverse them."""

from typing import Any

from django.http import HttpRequest, HttpResponse


def websocket_only(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """Plain HTTP to a live-update address: it only speaks WebSocket (dashboard.routing serves it)."""
    return HttpResponse("This address serves WebSocket connections only.", status=426, content_type="text/plain")
