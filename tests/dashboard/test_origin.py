"""dashboard/origin.py: a WebSocket handshake is accepted only from the dashboard's own origin (scheme, host
and port) or from CSRF_TRUSTED_ORIGINS, as Django's CSRF check does for forms."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from dashboard.origin import origin_allowed


def handshake(
    origin: str | None, *, host: str = "127.0.0.1:8000", scheme: str = "ws", **headers: str
) -> dict[str, Any]:
    pairs = [(b"host", host.encode())] if host else []
    if origin is not None:
        pairs.append((b"origin", origin.encode()))
    pairs += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": pairs, "server": ("127.0.0.1", 8000)}


def test_same_origin_is_accepted() -> None:
    assert origin_allowed(handshake("http://127.0.0.1:8000"))
    assert origin_allowed(handshake("https://127.0.0.1:8000", scheme="wss"))


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9000",  # another app on another port of the same host: same site, other origin
        "http://127.0.0.1",  # default port
        "https://127.0.0.1:8000",  # other scheme
        "http://localhost:8000",  # another name in ALLOWED_HOSTS is another origin
        "https://evil.example",
        "null",  # sandboxed frames and file: pages
        "",
    ],
)
def test_other_origins_are_refused(origin: str) -> None:
    assert not origin_allowed(handshake(origin))


def test_a_plain_ws_page_cannot_pose_as_https() -> None:
    assert not origin_allowed(handshake("http://127.0.0.1:8000", scheme="wss"))


def test_missing_origin_is_refused() -> None:
    """Every browser sends Origin on a WebSocket handshake; the sockets serve only the dashboard's pages."""
    assert not origin_allowed(handshake(None))


def test_a_host_outside_allowed_hosts_is_refused_even_when_origin_matches() -> None:
    assert not origin_allowed(handshake("http://evil.example:8000", host="evil.example:8000"))


@override_settings(CSRF_TRUSTED_ORIGINS=["https://ops.example.com", "https://*.corp.example"])
def test_trusted_origins_are_accepted() -> None:
    assert origin_allowed(handshake("https://ops.example.com"))
    assert origin_allowed(handshake("https://dash.corp.example"))
    assert not origin_allowed(handshake("http://ops.example.com"))  # the scheme is part of the origin
    assert not origin_allowed(handshake("https://ops.example.com:8443"))
    assert not origin_allowed(handshake("https://corp.example.evil"))


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_tls_proxy_the_origin_is_https() -> None:
    assert origin_allowed(handshake("https://127.0.0.1:8000", x_forwarded_proto="https"))
    assert not origin_allowed(handshake("http://127.0.0.1:8000", x_forwarded_proto="https"))


def test_without_a_host_header_the_server_address_is_the_origin() -> None:
    assert origin_allowed(handshake("http://127.0.0.1:8000", host=""))
