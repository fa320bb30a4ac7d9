"""App config for the dashboard."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from dashboard import livesession  # noqa: F401 - connects the logout receiver
