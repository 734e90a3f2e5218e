"""ASGI middleware in front of every route: body size and pace, Host, Origin, HEAD, and the security headers.

Order (outermost first, see :func:`install_middleware`): security headers on every answer, the Host check
(DNS rebinding), the Origin check (cross-site requests), HEAD answered as GET without the body, then the
body limits (size, and a body that stops arriving). :func:`refuse_unknown_fields` is the one per-route check:
a dependency every route of the API takes, so it knows the route's declared fields.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gmcnn.web.errors import ApiError, BodyTimeout, UploadTooLarge, error_response
from gmcnn.web.limits import DEFAULT_BODY_TIMEOUT

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
    """Refuse request bodies over ``max_bytes`` (by Content-Length first, then while streaming), and close a
    body that stops arriving: no part of it for ``idle_timeout`` seconds answers 408 and drops the connection.

    Checked before FastAPI parses the multipart body, so a huge upload is never spooled to disk whole.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, idle_timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout

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
            try:
                message = await asyncio.wait_for(receive(), self.idle_timeout)
            except TimeoutError:
                raise BodyTimeout(self.idle_timeout) from None
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class SameOriginOnly:
    """Refuse state-changing requests sent by other web sites.

    No CORS headers are ever sent, so other origins cannot read answers; this also stops them from making a
    visitor's browser *send* work (a cross-site form POST needs no CORS permission). An origin is its
    scheme, host and port, all three compared: ``https://127.0.0.1:8000`` is another site than
    ``http://127.0.0.1:8000``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and not same_origin(origin, str(scope.get("scheme", "http")), host):
                response = error_response(403, f"cross-origin requests are refused (Origin {origin}, Host {host})")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(origin: str, scheme: str, host_header: str) -> bool:
    """True when ``origin`` (an Origin header) is this server: same scheme, host name and port."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        host_port = urlsplit(f"//{host_header}").port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number: not this server
        return False
    if origin == "null" or parts.scheme != scheme or not parts.hostname:
        return False
    return (parts.hostname.lower(), origin_port) == (host_name(host_header).lower(), host_port)


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


class HeadAsGet:
    """Answer ``HEAD`` wherever ``GET`` is answered: run the request as ``GET`` and send its headers only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the GET's body is dropped; the headers (Content-Length included) stay
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


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


def install_middleware(
    app: FastAPI, *, max_upload_bytes: int, allowed_hosts: Iterable[str], body_timeout: float = DEFAULT_BODY_TIMEOUT
) -> None:
    """Add the middleware; the last added runs first, so the headers wrap everything, even refusals."""
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes, idle_timeout=body_timeout)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SameOriginOnly)
    app.add_middleware(TrustedHosts, names=[*LOCAL_NAMES, *allowed_hosts])
    app.add_middleware(SecurityHeaders)


def _declared(dependant: Any) -> tuple[set[str], set[str]]:
    """The query parameter and form field names a route (and its dependencies) declares."""
    query = {p.alias for p in dependant.query_params}
    form: set[str] = set()
    for param in dependant.body_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a form given as one model: its fields
            form |= {f.alias or name for name, f in model.model_fields.items()}
        else:
            form.add(param.alias)
    for sub in dependant.dependencies:
        q, f = _declared(sub)
        query |= q
        form |= f
    return query, form


async def refuse_unknown_fields(request: Request) -> None:
    """Refuse query parameters and form fields the route does not declare (422 naming them): an option sent
    in the wrong place or misspelt would otherwise be silently ignored. Generic over the route's own
    declaration (``request.scope["route"]``), so routes need no list of their own."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    query, form = _declared(dependant)
    unknown = [f"query parameter {name!r}" for name in sorted(set(request.query_params) - query)]
    kind = request.headers.get("content-type", "")
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        unknown += [f"form field {name!r}" for name in sorted(set((await request.form()).keys()) - form)]
    if unknown:
        takes = ", ".join(sorted(query | form)) or "no fields"
        raise ApiError(
            422,
            f"unknown {', '.join(unknown)}: this route takes {takes}",
            {"unknown": unknown, "fields": sorted(query | form)},
        )
