"""The REST API (django-ninja), mounted at /api/v1: one NinjaAPI with token or session auth."""

from typing import Any

from django.views.decorators.http import require_safe
from ninja import NinjaAPI

from jobs.api import (
    document,
    routes_batches,
    routes_jobs,
    routes_meta,
    routes_queues,
    routes_rate_limits,
    routes_schedules,
    routes_tasks,
    routes_workflows,
)
from jobs.api.auth import ApiAuth
from jobs.api.docs import LocalSwagger
from jobs.api.errors import JsonParser, install_handlers
from jobs.api.params import refuse_unknown_parameters


class JobdeckApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        return document.finish(super().get_openapi_schema(**kwargs))

    def get_openapi_operation_id(self, operation: Any) -> str:
        # Every operation names its own short id (tests/api/operation_ids.txt lists them).
        raise AssertionError(f"{operation.view_func.__qualname__} needs an operation_id")


api = JobdeckApi(
    title="Jobdeck",
    version="1",
    description='Submit and steer background jobs. Errors are always {"error": "..."}.',
    urls_namespace="api-v1",
    auth=ApiAuth(),
    parser=JsonParser(),
    docs=LocalSwagger(),
    docs_decorator=require_safe,  # the schema and the docs page answer GET and HEAD only (else a JSON 405)
    servers=[{"url": "/", "description": "the server that serves this document"}],
)
install_handlers(api)
api.add_decorator(refuse_unknown_parameters)
api.add_router("", routes_meta.router)
api.add_router("", routes_jobs.router)
api.add_router("", routes_workflows.router)
api.add_router("", routes_batches.router)
api.add_router("", routes_queues.router)
api.add_router("", routes_rate_limits.router)
api.add_router("", routes_schedules.router)
api.add_router("", routes_tasks.router)
