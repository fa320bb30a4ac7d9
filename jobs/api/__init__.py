"""The REST API (django-ninja), mounted at /api/v1: one NinjaAPI with token or session auth."""

from django.views.decorators.http import require_safe
from ninja import NinjaAPI

from jobs.api import routes_jobs, routes_meta, routes_queues, routes_schedules
from jobs.api.auth import ApiAuth
from jobs.api.docs import LocalSwagger
from jobs.api.errors import JsonParser, install_handlers

api = NinjaAPI(
    title="Jobdeck",
    version="1",
    description='Submit and steer background jobs. Errors are always {"error": "..."}.',
    urls_namespace="api-v1",
    auth=ApiAuth(),
    parser=JsonParser(),
    docs=LocalSwagger(),
    docs_decorator=require_safe,  # the schema and the docs page answer GET and HEAD only (else a JSON 405)
)
install_handlers(api)
api.add_router("", routes_meta.router)
api.add_router("", routes_jobs.router)
api.add_router("", routes_queues.router)
api.add_router("", routes_schedules.router)
