"""One rule for query strings: every operation refuses a parameter it does not take, and one given more
than once (400). No operation takes a list in its query string, so a repeated parameter is a mistake
whose last value would otherwise win silently."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja.signature.details import ViewSignature

from jobs.exceptions import JobdeckError


class UnknownParameter(JobdeckError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown parameter '{name}'")


class RepeatedParameter(JobdeckError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Parameter '{name}' is given more than once")


def query_names(view: Callable[..., Any]) -> frozenset[str]:
    """The query parameters a view takes, as ninja reads its signature."""
    models = ViewSignature("", view).models
    return frozenset(name for m in models if m.__ninja_param_source__ == "query" for name in m.__ninja_flatten_map__)


def refuse_unknown_parameters(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an operation's view (after authentication and validation, so a 401 still comes first).

    A misspelt filter must not silently list every job, and a client must learn that a parameter it
    sends does nothing, on every endpoint alike.
    """
    known = query_names(view)

    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        unknown = sorted(set(request.GET) - known)
        if unknown:
            raise UnknownParameter(unknown[0])
        repeated = sorted(name for name, values in request.GET.lists() if len(values) > 1)
        if repeated:
            raise RepeatedParameter(repeated[0])
        return view(request, *args, **kwargs)

    return checked
