"""ASGI middleware in front of every route: body size, Host, Origin and the security headers.

Order (outermost first, see :func:`install_middleware`): security headers on every answer, the Host check
(DNS rebinding), the Origin check (cross-site requests), then the body size limit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gmcnn.web.errors import UploadTooLarge, error_response

# The page loads only its own files; blob:/data: for the images it shows. Sent on every answer (also /static).
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for old browsers
    (b"referrer-policy", b"no-referrer"),
]
LOCAL_NAMES = ("localhost",)


class UploadLimit:
    """Refuse request bodies over ``max_bytes`` (by Content-Length first, then while streaming).

    Checked before FastAPI parses the multipart body, so a huge upload is never spooled to disk whole.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = error_response(
                413, f"the upload is {int(length):,} bytes, more than the limit of {self.max_bytes:,}"
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class SameOriginOnly:
    """Refuse state-changing requests sent by other web sites.

    No CORS headers are ever sent, so other origins cannot read answers; this also stops them from making a
    visitor's browser *send* work (a cross-site form POST needs no CORS permission).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and (origin == "null" or urlsplit(origin).netloc != host):
                response = error_response(403, f"cross-origin requests are refused (Origin {origin}, Host {host})")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(host_header: str) -> str:
    """The name part of a Host header: ``[::1]:8000`` -> ``::1``, ``example:80`` -> ``example``."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class TrustedHosts:
    """Answer only requests whose Host is an IP address or one of ``names`` (stops DNS rebinding).

    A rebinding attack points a name the attacker owns (``evil.example``) at this machine, so the browser
    sends ``Host: evil.example`` and treats the answers as that site's. An IP literal in the Host cannot be
    such a name, so it is always accepted: that keeps ``http://192.168.1.20:8000`` working from a phone.
    """

    def __init__(self, app: ASGIApp, *, names: Iterable[str]) -> None:
        self.app = app
        self.names = {n.lower() for n in names}

    def allowed(self, host_header: str) -> bool:
        name = host_name(host_header).lower()
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.allowed(host):
                known = ", ".join(sorted(self.names)) or "none"
                response = error_response(
                    400,
                    f"this server does not answer to Host {host or '(none)'!r}: use its IP address or one of its "
                    f"names ({known}; add more with gmcnn serve --allowed-host)",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Add the CSP (with ``frame-ancestors 'none'``), ``nosniff`` and friends to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_middleware(app: FastAPI, *, max_upload_bytes: int, allowed_hosts: Iterable[str]) -> None:
    """Add the middleware; the last added runs first, so the headers wrap everything, even refusals."""
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)
    app.add_middleware(SameOriginOnly)
    app.add_middleware(TrustedHosts, names=[*LOCAL_NAMES, *allowed_hosts])
    app.add_middleware(SecurityHeaders)
