"""Root URLs: admin, the REST API (/api/v1), Prometheus metrics and the dashboard."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from jobs.api import api
from jobs.api.metrics import metrics

admin.autodiscover()  # settings.py: the admin is a SimpleAdminConfig, so workers never import it


@csrf_exempt  # a 404 for any method, never Django's HTML CSRF page
def api_not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under /api/ answer in the API's own error shape, not Django's HTML page."""
    return JsonResponse({"error": "Not found"}, status=404)


handler500 = "project.middleware.server_error"  # a database refusing a write answers 503, not 500

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
    path("metrics", metrics, name="metrics"),
    path("", include("dashboard.urls")),
]
