"""The web app's guard: ASGI middleware for the Host check, request bodies, HEAD and security headers.

:class:`RequestGuard` runs before FastAPI sees a request:

- a ``Host`` header that is not exactly one of ``allowed_hosts`` (default :data:`LOCAL_HOSTS`),
  with an optional numeric port, is refused with ``400 invalid_host``, which keeps other web sites
  from reading the pictures through DNS rebinding (:func:`host_name`: ``127.0.0.1:80@evil.example``
  or ``localhost:80/evil`` name no host);
- a request body over :attr:`Limits.max_upload_bytes
  <siglip_retriever.app.limits.Limits.max_upload_bytes>` is refused with ``413
  upload_too_large`` as soon as its Content-Length says so, or as soon as the bytes received pass
  the limit (chunked uploads), so a large upload is never held in full;
- a body that has not arrived in full within :attr:`Limits.body_timeout_seconds
  <siglip_retriever.app.limits.Limits.body_timeout_seconds>` gets ``408 request_timeout`` and
  its connection is closed, so a stalled upload holds nothing for long;
- ``HEAD`` is answered wherever ``GET`` is, with the headers of the ``GET`` and no body (the
  request goes on as a ``GET`` marked :data:`HEAD_KEY`, so a stored file is not read), and a
  ``405`` whose ``Allow`` names ``GET`` names ``HEAD`` too;
- every response gets ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options`` and,
  except on the API docs pages (their scripts come from a CDN), a ``Content-Security-Policy``:
  the app's, unless the route set its own (a served PDF's lets the browser's
  PDF viewer show it).

Example:
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> from siglip_retriever.app.limits import Limits
    >>> from siglip_retriever.app.middleware import RequestGuard
    >>> app = FastAPI()
    >>> app.add_middleware(RequestGuard, limits=Limits(), allowed_hosts=["127.0.0.1"])
    >>> answer = TestClient(app, base_url="http://rebound.example").get("/")
    >>> answer.status_code, answer.json()["error"], answer.headers["x-frame-options"]
    (400, 'invalid_host', 'DENY')
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from siglip_retriever.app.errors import ApiError
from siglip_retriever.app.limits import Limits

__all__ = [
    "HEAD_KEY",
    "LOCAL_HOSTS",
    "ASGIApp",
    "Message",
    "Receive",
    "RequestGuard",
    "Scope",
    "Send",
    "host_name",
]

LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Host names accepted by default: this machine only."""

HEAD_KEY = "siglip_retriever.head"
"""The scope key that marks a ``HEAD`` request the guard passes on as ``GET`` (a file's answer
reads nothing of the file for it)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::[0-9]{1,5})?")
_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_DOC_PATHS = ("/docs", "/redoc")  # FastAPI's doc pages load their scripts from a CDN
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class RequestGuard:
    """Checks the Host header, caps request bodies before they are parsed, adds security headers.

    Args:
        app: the ASGI application behind the guard.
        limits: the upload limit (:attr:`~siglip_retriever.app.limits.Limits.max_upload_bytes`).
        allowed_hosts: host names the ``Host`` header may carry; ``"*"`` accepts any.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> from siglip_retriever.app.limits import Limits
        >>> from siglip_retriever.app.middleware import RequestGuard
        >>> hello = PlainTextResponse("hello")  # any ASGI application
        >>> client = TestClient(RequestGuard(hello, limits=Limits(max_upload_bytes=10), allowed_hosts=["*"]))
        >>> client.get("/").text, client.post("/", content=b"0123456789A").json()["limit"]
        ('hello', 10)
    """

    def __init__(self, app: ASGIApp, *, limits: Limits, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.limits = limits
        hosts = {h.lower().strip("[]") for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI call: refuse it, or pass it on with the body read and headers added."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = str(scope.get("path", ""))
        head = scope.get("method") == "HEAD"
        secured = _with_headers(send, csp=not path.startswith(_DOC_PATHS), head=head)
        if head:
            scope = {**scope, "method": "GET", HEAD_KEY: True}
        if not self.any_host and host_name(headers.get("host", "")) not in self.hosts:
            error = ApiError(
                400,
                "invalid_host",
                "this server answers only requests addressed to "
                f"{', '.join(sorted(self.hosts))} (with an optional port); start it with another "
                "--bind to change that",
            )
            await error.response(path)(scope, receive, secured)
            return
        if _has_body(headers):
            replay = await self._read_body(headers, receive)
            if isinstance(replay, ApiError):
                await replay.response(path)(scope, receive, secured)
                return
            receive = replay
        await self.app(scope, receive, secured)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> Receive | ApiError:
        """The whole body, read within the size and time limits and handed on by a replaying
        ``receive``."""
        try:
            return await asyncio.wait_for(
                self._receive_body(headers, receive), self.limits.body_timeout_seconds
            )
        except asyncio.TimeoutError:
            seconds = self.limits.body_timeout_seconds
            return ApiError(
                408,
                "request_timeout",
                f"the request body did not arrive in full within {seconds} s; send it again "
                "(or start the server with a longer --body-timeout)",
                headers={"Connection": "close"},
                limit=seconds,
            )

    async def _receive_body(self, headers: dict[str, str], receive: Receive) -> Receive | ApiError:
        """The whole body, read within the size limit."""
        limit = self.limits.max_upload_bytes
        too_large = ApiError(
            413,
            "upload_too_large",
            f"the upload is larger than the limit of {self.limits.upload_limit_text}; "
            "send a smaller image (or start the server with a larger --max-upload-mb)",
            limit=limit,
        )
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return ApiError(400, "invalid_request", "the Content-Length header is not a number")
            if int(declared) > limit:
                return too_large
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return ApiError(400, "invalid_request", "the client disconnected during the upload")
            body = bytes(message.get("body", b""))
            total += len(body)
            if total > limit:
                return too_large
            chunks.append(body)
            if not message.get("more_body", False):
                break
        return _replay(b"".join(chunks), receive)


def host_name(header: str) -> str | None:
    """The host name of a ``Host`` header, without its port or IPv6 brackets; ``None`` unless the
    header is exactly a host name or address with an optional numeric port.

    Example:
        >>> from siglip_retriever.app.middleware import host_name
        >>> host_name("127.0.0.1:8080"), host_name("[::1]:80"), host_name("Photos.LAN")
        ('127.0.0.1', '::1', 'photos.lan')
        >>> host_name("127.0.0.1:8080@evil.example"), host_name("localhost:80/x"), host_name("localhost:abc")
        (None, None, None)
    """
    match = _HOST.fullmatch(header.strip().lower())
    if match is None:
        return None
    return match["ipv6"] or match["name"].rstrip(".")


def _has_body(headers: dict[str, str]) -> bool:
    """Whether a request says it sends a body (a Content-Length other than 0, or chunked)."""
    return headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers


def _replay(data: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands on ``data`` as the whole body, then whatever ``receive`` gets."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": data, "more_body": False}
        return await receive()

    return replay


def _with_headers(send: Send, *, csp: bool, head: bool) -> Send:
    """A ``send`` that adds the security headers to the response's start, names ``HEAD`` in a
    ``405``'s ``Allow`` beside ``GET``, and for a ``HEAD`` request sends no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = list(_SECURITY_HEADERS)
            headers = message.get("headers", [])
            if csp and not any(name.lower() == b"content-security-policy" for name, _ in headers):
                extra.append((b"content-security-policy", _CSP.encode()))  # unless a route set its own
            message["headers"] = [_with_head(k, v) for k, v in headers] + extra
        elif head and message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return wrapped


def _with_head(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """An ``Allow`` header that names ``GET`` names ``HEAD`` too (the guard serves it)."""
    if name.lower() == b"allow":
        methods = [m.strip() for m in value.decode("latin-1").split(",") if m.strip()]
        if "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
        return name, ", ".join(methods).encode("latin-1")
    return name, value
