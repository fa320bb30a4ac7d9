"""Who may do what on the dashboard: roles are Django groups, checked by every view and the WebSocket consumer.

viewer   sees every page, takes no action; with JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS set, sees no
         payload or result and cannot search payloads
operator viewer + job actions (cancel, retry, run now, bulk)
admin    operator + queues, schedules and tokens
A superuser is an admin. A signed-in user in none of these groups sees nothing (403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from jobs.conf import read_setting

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}
LOGIN_URL = "dashboard:login"


@dataclass(frozen=True)
class Access:
    """What one user may do; templates read it to decide which controls to show."""

    role: str | None

    @property
    def view(self) -> bool:
        return self.role is not None

    @property
    def operate(self) -> bool:
        return RANK.get(self.role or "", 0) >= RANK[OPERATOR]

    @property
    def administer(self) -> bool:
        return RANK.get(self.role or "", 0) >= RANK[ADMIN]

    @property
    def see_payloads(self) -> bool:
        """Whether job payloads and results are shown (and may be searched)."""
        return self.operate or (self.view and not payloads_hidden_from_viewers())


def payloads_hidden_from_viewers() -> bool:
    """JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS (1: viewers see no payload or result)."""
    return bool(read_setting("JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS", 0))


def role_of(user: Any) -> str | None:
    """The user's highest dashboard role, or None (anonymous, inactive, or in no role group).

    Costs one query the first time per user object (the answer is kept on it).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_jobdeck_role", False)
    if cached is not False:
        return cast("str | None", cached)  # set below, on this user object
    names = set(user.groups.filter(name__in=RANK).values_list("name", flat=True))
    role = max(names, key=RANK.__getitem__) if names else None
    user._jobdeck_role = role
    return role


def access_for(user: Any) -> Access:
    return Access(role_of(user))


def require(level: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: anonymous users go to the login page; signed-in users below `level` get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if RANK.get(role_of(request.user) or "", 0) < RANK[level]:
                raise PermissionDenied(f"This needs the {level} role")
            return view(request, *args, **kwargs)

        return login_required(wrapped, login_url=LOGIN_URL)

    return decorator
