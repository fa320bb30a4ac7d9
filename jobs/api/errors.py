"""How the API reads request bodies and turns every failure into `{"error": "..."}` with the right 4xx."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser

from jobs import dbguard
from jobs.conf import api_settings
from jobs.exceptions import DatabaseUnavailable, JobdeckError, QueueFull

MAX_JSON_DEPTH = 32  # deeper request JSON is refused: nothing legitimate nests that far
# NUL cannot be stored in PostgreSQL text or jsonb, and a lone surrogate cannot be encoded as UTF-8.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class NotAuthenticated(JobdeckError):
    status_code = 401


class Forbidden(JobdeckError):
    status_code = 403


class BodyTooLarge(JobdeckError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than {limit} bytes")


class BadBody(JobdeckError):
    """The request body is not acceptable JSON."""


def _refuse_constant(name: str) -> NoReturn:
    raise BadBody(f"Malformed JSON: {name} is not valid JSON")


def _check_values(data: Any) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and strings no database can store (iteratively)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadBody(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep")
            children = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in children:
                if isinstance(key, str) and UNSTORABLE.search(key):
                    raise BadBody("JSON strings must not contain NUL characters or lone surrogates")
                stack.append((child, depth + 1))
        elif isinstance(value, str) and UNSTORABLE.search(value):
            raise BadBody("JSON strings must not contain NUL characters or lone surrogates")


class JsonParser(Parser):
    """Ninja's JSON parser with a size limit, a depth limit and precise messages."""

    def parse_body(self, request: HttpRequest) -> Any:
        limit = api_settings().api_max_body_bytes
        if len(request.body) > limit:
            raise BodyTooLarge(limit)
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadBody("Request body is not valid UTF-8") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise BadBody(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise BadBody(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
        except ValueError as exc:  # e.g. an integer with more digits than Python converts
            raise BadBody(f"Malformed JSON: {exc}") from None
        _check_values(data)
        return data


def _field(loc: tuple[Any, ...]) -> str:
    """'priority' from ('body', 'body', 'priority'); list positions as 'jobs[2].queue'."""
    parts = list(loc[1:])
    if parts and parts[0] == "body":  # every view names its body parameter `body`
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def validation_message(errors: list[dict[str, Any]]) -> str:
    """One readable sentence for the first validation error, naming the field."""
    error = errors[0]
    kind, msg = error.get("type", ""), str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if kind.startswith("jobdeck_"):  # our own messages (see schemas/) are shown as they are
        return msg
    field, where = _field(tuple(error.get("loc", ()))), error.get("loc", ("body",))[0]
    if not field:
        return "Request body must be a JSON object" if where == "body" else msg
    if kind == "missing":
        return f"Missing '{field}' field" if where == "body" else f"Missing '{field}' parameter"
    if kind == "extra_forbidden":
        return f"Unknown field '{field}'" if where == "body" else f"Unknown parameter '{field}'"
    return f"Invalid '{field}': {msg}"


def error_response(api: NinjaAPI, request: HttpRequest, status: int, message: str) -> HttpResponse:
    response = api.create_response(request, {"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="jobdeck"'
    return response


def install_handlers(api: NinjaAPI) -> None:
    """Map every failure an operation can meet to `{"error": ...}`; anything else stays a 500.

    A database refusing a write (DatabaseUnavailable, or a raw OperationalError) answers 503 with
    Retry-After; a full queue (QueueFull) 429 with Retry-After."""

    @api.exception_handler(JobdeckError)
    def jobdeck_error(request: HttpRequest, exc: JobdeckError) -> HttpResponse:
        response = error_response(api, request, exc.status_code, exc.message)
        if isinstance(exc, DatabaseUnavailable):
            dbguard.log_refusal(f"{request.method} {request.path}", exc)
            response["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, QueueFull):  # back-pressure: 429, try again later
            response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(OperationalError)
    @api.exception_handler(InterfaceError)
    def database_refused(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
        # A refusal outside the write services (e.g. a read meeting the web lock bound): the same 503.
        return jobdeck_error(request, DatabaseUnavailable(dbguard.record_refusal(exc)))

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(api, request, 400, validation_message(exc.errors))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # Ninja wraps the parser's errors in "Cannot parse request body"; the cause says what is wrong.
        if isinstance(exc.__cause__, JobdeckError):
            return jobdeck_error(request, exc.__cause__)
        return error_response(api, request, exc.status_code, exc.message)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        # Django's own DATA_UPLOAD_MAX_MEMORY_SIZE tripped before our limit could be checked.
        return jobdeck_error(request, BodyTooLarge(api_settings().api_max_body_bytes))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, 404, "Not found")


API_PREFIX = "/api/"


class JsonErrorsMiddleware:
    """Under /api/, turn any error response that is not JSON into `{"error": ...}` with its status.

    Ninja's own errors are JSON already (install_handlers). This catches what happens outside an
    operation: a wrong method (ninja's bare 405), an unknown path (Django's 404 page), a disallowed
    Host (400) or an unhandled exception (Django's 500 page). Headers such as `Allow` are kept.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        return self._as_json(request, response)

    @staticmethod
    def _as_json(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        status = response.status_code
        if status == 405:
            allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
            message = f"Method {request.method} is not allowed here" + (f" (allowed: {allowed})" if allowed else "")
        elif status == 404:
            message = "Not found"
        elif status >= 500:
            message = "Internal server error"
        else:
            try:
                message = HTTPStatus(status).phrase
            except ValueError:
                message = "Request refused"
        json_response = JsonResponse({"error": message}, status=status)
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if header in response:
                json_response[header] = response[header]
        return json_response
