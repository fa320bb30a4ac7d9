"""The finishing touches of the OpenAPI document that no single operation can state."""

from __future__ import annotations

import json
from typing import Any

# Every 401 answer says how to authenticate (jobs/api/errors.py sets it).
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": 'always `Bearer realm="jobdeck"`',
        "schema": {"type": "string"},
    }
}


# Every 503 error answer (the database refused) and 429 (a full queue) says when to try again
# (jobs/api/errors.py).
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the headers every operation shares and drop schemas no operation refers to."""
    for operation in _operations(document):
        responses = operation.get("responses", {})
        if 401 in responses:
            responses[401].setdefault("headers", {}).update(WWW_AUTHENTICATE)
        if 503 in responses and "ErrorOut" in json.dumps(responses[503]):  # not /health's own 503
            responses[503].setdefault("headers", {}).update(RETRY_AFTER)
        if 429 in responses:
            responses[429].setdefault("headers", {}).update(RETRY_AFTER)
    _drop_unused_schemas(document)
    return document


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for path in document.get("paths", {}).values() for operation in path.values()]


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    # ninja adds the models it flattens into query parameters (JobListQuery, LogQuery) as components
    # although nothing refers to them; a generated client would get classes nobody can use.
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [json.dumps(document.get("paths", {}), default=str)]
    while pending:
        text = pending.pop()
        for name in schemas:
            if name not in used and f'"#/components/schemas/{name}"' in text:
                used.add(name)
                pending.append(json.dumps(schemas[name], default=str))
    for name in set(schemas) - used:
        del schemas[name]
