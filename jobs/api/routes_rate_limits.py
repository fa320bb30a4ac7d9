"""/rate-limits: the rate limits of queues, tasks and concurrency keys, listed, set and removed.

A name may hold ':', '/' and '.' (keys such as customer:42 or tenant/7, tasks' module paths), so
{name} takes the rest of the path; a client percent-encodes what a URL path cannot hold (space, ?, #).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.params.functions import Path as PathParam

from jobs import limit_selectors
from jobs.api.schemas.common import ACTION_ERRORS, READ_ERRORS, WRITE_ERRORS, ErrorOut, RateLimitScope
from jobs.api.schemas.system import RateLimitIn, RateLimitOut
from jobs.exceptions import RateLimitNotFound
from jobs.services import rate_limits

router = Router(tags=["rate-limits"])
# A path parameter typed with the enum would inline it (tests/api/test_contract.py wants one component).
Scope = PathParam(..., pattern="^(queue|task|key)$", description="queue, task or key")
LimitName = PathParam(..., min_length=1, max_length=255, description="the queue, the task's module path, or the key")


@router.get(
    "/rate-limits",
    response={200: list[RateLimitOut], **READ_ERRORS},
    operation_id="list_rate_limits",
    summary="List rate limits",
)
def list_limits(request: HttpRequest, scope: RateLimitScope | None = None) -> Status[Any]:
    """Every rate limit (or one scope's), by scope and name, with the starts in its current window and
    when it next has room."""
    return Status(200, limit_selectors.rate_limit_usage(scope=None if scope is None else scope.value))


@router.put(
    "/rate-limits/{scope}/{path:name}",
    response={200: RateLimitOut, 404: ErrorOut, **WRITE_ERRORS},
    operation_id="set_rate_limit",
    summary="Set a rate limit",
)
def put(request: HttpRequest, body: RateLimitIn, scope: str = Scope, name: str = LimitName) -> Status[Any]:
    """Set or replace the limit of a queue, a task or a concurrency key; starts already made in the
    window keep counting."""
    rate_limits.set_rate_limit(scope=scope, name=name, max_starts=body.max_starts, period=body.period)
    return Status(200, limit_selectors.rate_limit_detail(scope=scope, name=name))


@router.delete(
    "/rate-limits/{scope}/{path:name}",
    response={204: None, 404: ErrorOut, **ACTION_ERRORS},
    operation_id="delete_rate_limit",
    summary="Remove a rate limit",
)
def delete(request: HttpRequest, scope: str = Scope, name: str = LimitName) -> Status[Any]:
    """Remove the limit (404 "Rate limit not found"); jobs it held may start at once."""
    if not rate_limits.remove_rate_limit(scope=scope, name=name):
        raise RateLimitNotFound()
    return Status(204, None)
