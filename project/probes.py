"""/healthz and /readyz: the web process's own probes, cheaper and narrower than /api/v1/health.

/api/v1/health says whether jobs are being served (a queue without a live worker makes it 503), so
a load balancer or a kubelet that took web processes out of service on it would hide the dashboard
exactly when an operator needs it. These two say only what a probe of this process should:
- /healthz (liveness): the process answers requests. No database query, so a database outage does
  not get every web process restarted.
- /readyz (readiness): the process can serve, i.e. its database answers a trivial query.
Both answer JSON, also when failing: 503 {"status": "DEGRADED", "reasons": [...]}, never a bare 5xx.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from jobs import selectors


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """200 while this process answers requests."""
    return JsonResponse({"status": "OK"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, else 503 with the reason."""
    if not selectors.database_ok():
        return JsonResponse({"status": "DEGRADED", "reasons": ["database unreachable"]}, status=503)
    return JsonResponse({"status": "OK"})
