"""Which pages may open the dashboard's WebSockets: the dashboard's own origin, or a trusted one.

A browser sends the session cookie with a WebSocket handshake from any page of the same site, and
other ports of the same host name are the same site. So a page served by another app on this host
could open /ws/jobs/ as the signed-in user and read payloads, results and logs. The handshake's
`Origin` must therefore be exactly this server's origin (scheme, host and port, the host being in
ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS: the rule Django's CSRF check applies to forms.
A handshake without `Origin` is refused: every browser sends one, and the sockets serve only pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin1")
    return None


def _allowed_hosts() -> list[str]:
    # As HttpRequest.get_host(): with DEBUG and no ALLOWED_HOSTS, local names are allowed.
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _is_secure(scope: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> bool:
    # As HttpRequest.is_secure(): behind a TLS-terminating proxy, SECURE_PROXY_SSL_HEADER says so.
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        value = _header(headers, name)
        if value is not None:
            return value.split(",")[0].strip() == expected
    return scope.get("scheme") == "wss"


def own_origin(scope: dict[str, Any]) -> str | None:
    """This server's origin as the handshake names it (`http://host:port`), or None for a bad Host."""
    headers = scope.get("headers", [])
    host = _header(headers, b"host")
    if host is None and scope.get("server"):
        name, port = scope["server"]
        host = f"{name}:{port}"
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    return f"{'https' if _is_secure(scope, headers) else 'http'}://{host}"


def _trusted(origin: str) -> bool:
    """Whether `origin` is in CSRF_TRUSTED_ORIGINS (exactly, or by a `https://*.example.com` pattern)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        if "*" in trusted:
            allowed = urlsplit(trusted)
            if allowed.scheme == parts.scheme and is_same_domain(parts.netloc, allowed.netloc.replace("*", "", 1)):
                return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the WebSocket handshake in `scope` comes from a page the dashboard trusts."""
    origin = _header(scope.get("headers", []), b"origin")
    if not origin:
        return False
    return origin == own_origin(scope) or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403 at the handshake) a WebSocket whose origin is not allowed."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)  # type: ignore[arg-type]  # a plain ASGI scope
        return await self.application(scope, receive, send)
