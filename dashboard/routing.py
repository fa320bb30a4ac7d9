"""WebSocket routes of the live dashboard (mounted by project/asgi.py)."""

from typing import Any

from django.urls import path

from dashboard import consumers

# Channels routes ASGI applications with Django's path(), as its docs show; the two stubs disagree
# (django-stubs types path() for views, types-channels wants its own pattern class in URLRouter).
websocket_urlpatterns: list[Any] = [
    path("ws/overview/", consumers.OverviewConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/jobs/", consumers.JobListConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/jobs/<int:job_id>/", consumers.JobConsumer.as_asgi()),  # type: ignore[arg-type]
]
