"""Root URLs: admin, the REST API (/api/v1), Prometheus metrics, the web probes and the dashboard."""

from django.contrib import admin
from django.urls import include, path

from jobs.api import api
from jobs.api.metrics import metrics
from project import probes

admin.autodiscover()  # settings.py: the admin is a SimpleAdminConfig, so workers never import it

handler500 = "project.middleware.server_error"  # a database refusing a write answers 503, not 500

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", metrics, name="metrics"),
    path("healthz", probes.live, name="healthz"),
    path("readyz", probes.ready, name="readyz"),
    path("", include("dashboard.urls")),
]
