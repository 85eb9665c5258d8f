"""The web app's token: who may use a server that other machines can reach.

A server bound to a loopback address is open, as before; one bound to any other address asks
for a token (:func:`~siglip_retriever.app.server.serve` takes it, or generates one with
:func:`new_token` and prints it once in the page's URL, as Jupyter does). :func:`protect` puts
:class:`TokenGuard` in front of an app:

- an API client sends ``Authorization: Bearer <token>``;
- a browser opens the page once with ``?token=<token>``: the answer is a ``303`` to the same URL
  without the token, with a ``HttpOnly``, ``SameSite=Strict`` cookie that holds a value derived
  from the token (never the token itself), which every later request of the page carries (a
  browser that came by a link on another site, which would not send that cookie after a
  redirect, gets a page that refreshes to the URL instead);
- a missing or wrong token gets ``401 unauthorized`` (JSON, with ``WWW-Authenticate: Bearer``;
  in OpenAI's error shape under ``/v1/``, whose clients send their ``api_key`` as the bearer
  token) on every route but ``/health``; a page a browser asks for (``GET /``, or any ``GET`` that
  accepts ``text/html``) gets the sign-in box instead (``static/signin.html``, self-contained:
  a form that opens the page with ``?token=``). A refusal goes through the app's
  :class:`~siglip_retriever.app.middleware.RequestGuard` (Host check, security headers, ``HEAD``)
  with its request body left unread.

Tokens are compared in constant time (:func:`hmac.compare_digest`). A token is never logged
(:class:`TokenRedactor`, which :mod:`~siglip_retriever.app.server` puts on uvicorn's loggers,
blanks ``token=`` values, ``Bearer`` credentials and the cookie), never in an error message and
never in the OpenAPI document, which declares the ``bearer`` scheme and each route's ``401``.

Example:
    >>> from starlette.responses import PlainTextResponse
    >>> from starlette.testclient import TestClient
    >>> from siglip_retriever.app import auth
    >>> from siglip_retriever.app.limits import Limits
    >>> token = auth.new_token()
    >>> app = auth.TokenGuard(PlainTextResponse("ok"), token=token, limits=Limits(), allowed_hosts=["*"])
    >>> refused = TestClient(app).get("/api/info")
    >>> refused.status_code, refused.headers["www-authenticate"], refused.json()["error"]
    (401, 'Bearer', 'unauthorized')
    >>> TestClient(app).get("/api/info", headers={"Authorization": "Bearer " + token}).text
    'ok'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from siglip_retriever.app.errors import OPENAI_PREFIX, ApiError
from siglip_retriever.app.framework import Response
from siglip_retriever.app.middleware import ASGIApp, Receive, RequestGuard, Scope, Send
from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from siglip_retriever.app.limits import Limits

__all__ = [
    "MIN_TOKEN_CHARS",
    "OPEN_PATHS",
    "TOKEN_ENV",
    "TokenGuard",
    "TokenRedactor",
    "check_token",
    "new_token",
    "protect",
    "redact",
]

TOKEN_ENV = "SIGLIP_RETRIEVER_TOKEN"
"""The environment variable ``siglip-retriever serve`` reads its token from."""
MIN_TOKEN_CHARS = 16
"""The shortest token a server accepts (a generated one is longer)."""
OPEN_PATHS = ("/health",)
"""The paths answered without a token (liveness checks of load balancers and orchestrators)."""

_SIGNIN = (Path(__file__).parent / "static" / "signin.html").read_text(encoding="utf-8")
_STYLE = re.search(r"<style>(.*?)</style>", _SIGNIN, re.DOTALL)
_STYLE_HASH = base64.b64encode(hashlib.sha256((_STYLE[1] if _STYLE else "").encode()).digest()).decode()
_SIGNIN_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_PROBLEM = (
    '<p class="problem" role="alert">That is not this server\'s token. Paste the one in the address '
    "the server printed, or the one it was started with.</p>"
)
_ONWARD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta http-equiv="refresh" content="0; url=\'{target}\'"><title>Signed in</title></head>'
    '<body><p>Signed in. <a href="{target}">Continue</a></p></body></html>'
)
_SECRET_IN_TEXT = re.compile(
    r"(?P<key>(?:^|[?&;\s\"'(])[^=&;?(\s\"']*=)(?P<value>[^&\s\"']*)"  # name=value pairs
    r"|(?P<bearer>\bbearer\s+)[^\s\"',)]+",  # an Authorization header's credential
    re.IGNORECASE,
)
_COOKIE_PREFIX = "siglip-retriever-"
_REDACTED = "[redacted]"


def new_token() -> str:
    """A fresh random token (:func:`secrets.token_urlsafe`, 32 bytes), safe in URLs and headers.

    Example:
        >>> from siglip_retriever.app.auth import check_token, new_token
        >>> check_token(new_token()) != new_token()
        True
    """
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """``token`` if a server may use it: at least :data:`MIN_TOKEN_CHARS` letters, digits, ``-``,
    ``.``, ``_`` or ``~`` (the characters a URL and a header carry as they are).

    Raises:
        ConfigurationError: the token is too short or has other characters. The message never
            repeats the token.

    Example:
        >>> from siglip_retriever.app.auth import check_token
        >>> check_token("correct-horse-battery-staple")
        'correct-horse-battery-staple'
        >>> check_token("hunter2")
        Traceback (most recent call last):
        siglip_retriever.errors.ConfigurationError: the token is too short: ...
    """
    make = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    if not isinstance(token, str) or not re.fullmatch(r"[A-Za-z0-9._~-]*", token):
        raise ConfigurationError(
            "the token may hold only letters, digits and the characters - . _ ~ (clients send it "
            f"in URLs and headers as it is); {make}"
        )
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigurationError(
            f"the token is too short: it needs {MIN_TOKEN_CHARS} characters or more; {make}"
        )
    return token


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` query parameter (its name percent-decoded),
    every ``Bearer`` credential and the page's cookie replaced by ``[redacted]``.

    Example:
        >>> from siglip_retriever.app.auth import redact
        >>> redact('127.0.0.1:5000 - "GET /?q=cat&token=s3cret HTTP/1.1" 303')
        '127.0.0.1:5000 - "GET /?q=cat&token=[redacted] HTTP/1.1" 303'
        >>> redact("GET /?%74oken=s3cret"), redact("(b'authorization', b'Bearer s3cret')")
        ('GET /?%74oken=[redacted]', "(b'authorization', b'Bearer [redacted]')")
    """

    def blank(match: re.Match[str]) -> str:
        if match["key"] is not None:
            name = unquote_plus(match["key"].lstrip("?&; \"'(").rstrip("=")).strip().lower()
            secret = name == "token" or name.startswith(_COOKIE_PREFIX)
            return match["key"] + (_REDACTED if secret else match["value"])
        return match["bearer"] + _REDACTED

    return _SECRET_IN_TEXT.sub(blank, text)


class TokenRedactor(logging.Filter):
    """A logging filter that passes every record with its tokens blanked (:func:`redact`).

    uvicorn's access log prints each request line with its query string; this filter on the
    ``uvicorn.access`` logger keeps a page's ``?token=`` out of it (its arguments are blanked one
    by one, so uvicorn's formatter still finds the path and the status).

    Example:
        >>> import logging
        >>> from siglip_retriever.app.auth import TokenRedactor
        >>> line = ("127.0.0.1:5000", "GET", "/?token=x")
        >>> record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s "%s %s"', line, None)
        >>> TokenRedactor().filter(record), record.getMessage()
        (True, '127.0.0.1:5000 "GET /?token=[redacted]"')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Blank the tokens of ``record`` in place; always keep it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(argument) for argument in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted_argument(value) for key, value in record.args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it, token blanked
            return True
        if redact(message) != message:  # something formatted into a secret: keep the text only
            record.msg, record.args = redact(message), ()
        return True


def _redacted_argument(argument: Any) -> Any:
    if isinstance(argument, str):
        return redact(argument)
    if isinstance(argument, (int, float)) or argument is None:
        return argument
    text = str(argument)
    return redact(text) if redact(text) != text else argument


class TokenGuard:
    """Answers only requests that carry the token (see the module's docstring), and ``/health``.

    Args:
        app: the ASGI application behind the guard.
        token: the token clients must send (:func:`check_token`).
        limits: the app's limits, for the guard its refusals go through.
        allowed_hosts: the app's Host names (``"*"``: any), for the same guard.

    Example:
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.testclient import TestClient
        >>> from siglip_retriever.app.auth import TokenGuard
        >>> from siglip_retriever.app.limits import Limits
        >>> token = "correct-horse-battery-staple"
        >>> guard = TokenGuard(PlainTextResponse("page"), token=token, limits=Limits(), allowed_hosts=["*"])
        >>> client = TestClient(guard, base_url="http://127.0.0.1", follow_redirects=False)
        >>> signed_in = client.get(f"/?q=cat&token={token}")
        >>> signed_in.status_code, signed_in.headers["location"]
        (303, '/?q=cat')
        >>> "HttpOnly; SameSite=Strict" in signed_in.headers["set-cookie"]
        True
        >>> client.get("/").text  # the client keeps the cookie
        'page'
    """

    def __init__(self, app: ASGIApp, *, token: str, limits: Limits, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.limits = limits
        self.allowed_hosts = list(allowed_hosts)
        self._token = check_token(token).encode()
        # derived from the token, one name per token (servers on other ports keep their own cookie)
        self._cookie_name = _COOKIE_PREFIX + self._derived(b"cookie name")[:16]
        self._cookie_value = self._derived(b"cookie value")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an authorised request on; answer any other with a ``401`` or the sign-in page."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])]
        if scope["type"] != "http":  # a WebSocket: only with a credential (the app has none today)
            if self._credential(headers) is True:
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        root = str(scope.get("root_path", ""))
        path = str(scope.get("path", ""))
        local = path[len(root) :] if root and path.startswith(root) else path
        if local in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        offered = _query_tokens(scope.get("query_string", b""))
        reading = scope.get("method") in ("GET", "HEAD")
        if reading and offered:
            if hmac.compare_digest(offered[-1].encode(), self._token):
                answer = self._signed_in(scope, headers, root, path)
            else:
                answer = self._refusal(local, headers, wrong=True)
            await self._answer(answer, scope, receive, send)
            return
        credential = self._credential(headers)
        if credential is True:
            await self.app(scope, receive, send)
            return
        await self._answer(self._refusal(local, headers, wrong=credential is False), scope, receive, send)

    def _derived(self, purpose: bytes) -> str:
        return hmac.new(self._token, b"siglip-retriever " + purpose, hashlib.sha256).hexdigest()

    def _credential(self, headers: list[tuple[bytes, bytes]]) -> bool | None:
        """True: a right token; False: a wrong one; None: none. An ``Authorization`` header
        decides when there is one, else the page's cookie."""
        authorization = [v for k, v in headers if k == b"authorization"]
        if authorization:
            scheme, _, credential = authorization[0].strip().partition(b" ")
            return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(), self._token)
        name = self._cookie_name.encode()
        for value in (v for k, v in headers if k == b"cookie"):
            for pair in value.split(b";"):
                key, _, given = pair.strip().partition(b"=")
                if key == name:
                    return hmac.compare_digest(given, self._cookie_value.encode())
        return None

    def _signed_in(self, scope: Scope, headers: list[tuple[bytes, bytes]], root: str, path: str) -> Response:
        """The ``303`` to the same URL without ``token=``, setting the page's cookie.

        A browser that followed a link from another site (``Sec-Fetch-Site: cross-site``) would
        not send a ``SameSite=Strict`` cookie after a redirect, nor on a reload: it gets a page
        that goes on to the URL by itself (a ``refresh``), a navigation of this site's own."""
        kept = _without_tokens(scope.get("query_string", b""))
        cookie = f"{self._cookie_name}={self._cookie_value}; Path={root or '/'}; HttpOnly; SameSite=Strict"
        if scope.get("scheme") == "https":
            cookie += "; Secure"
        raw = scope.get("raw_path")
        location = root + bytes(raw).decode("latin-1") if raw else path
        if not location.startswith("/") or location.startswith(("//", "/\\")):  # never another site
            location = "/"
        location = (location + (f"?{kept}" if kept else "")).replace("'", "%27")
        fetched_from = b"".join(v for k, v in headers if k == b"sec-fetch-site").strip().lower()
        if fetched_from in (b"cross-site", b"same-site"):
            target = html.escape(location, quote=True)
            page = _ONWARD.format(target=target)
            answer_headers = {"Set-Cookie": cookie, "Content-Security-Policy": "default-src 'none'"}
            return Response(
                page, media_type="text/html", headers={**answer_headers, "Cache-Control": "no-store"}
            )
        answer_headers = {"Location": location, "Set-Cookie": cookie, "Cache-Control": "no-store"}
        return Response(status_code=303, headers=answer_headers)

    def _refusal(self, local: str, headers: list[tuple[bytes, bytes]], *, wrong: bool) -> Response:
        """The sign-in page for a browser's page, else ``401 unauthorized`` as JSON."""
        challenge = 'Bearer error="invalid_token"' if wrong else "Bearer"
        accept = b",".join(v for k, v in headers if k == b"accept").lower()
        if local == "/" or b"text/html" in accept:
            page = _SIGNIN.replace("<!--problem-->", _PROBLEM if wrong else "")
            return Response(
                page,
                status_code=401,
                media_type="text/html",
                headers={
                    "WWW-Authenticate": challenge,
                    "Cache-Control": "no-store",
                    "Content-Security-Policy": _SIGNIN_CSP,
                },
            )
        message = (
            "the token sent is not this server's token"
            if wrong
            else "this server asks for its token and none was sent"
        )
        return ApiError(
            401,
            "unauthorized",
            f"{message}; send the header 'Authorization: Bearer <token>' with the token the "
            "server printed in its address (or was started with: --token or "
            f"{TOKEN_ENV}); in a browser, open the address the server printed",
            headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
        ).response(local)  # in OpenAI's shape under /v1/

    async def _answer(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        """``response`` through the app's :class:`RequestGuard` (Host check, security headers,
        HEAD), the request's body left unread."""
        body = (b"content-length", b"transfer-encoding")
        bodiless = [(k, v) for k, v in scope["headers"] if bytes(k).lower() not in body]
        guard = RequestGuard(response, limits=self.limits, allowed_hosts=self.allowed_hosts)
        await guard({**scope, "headers": bodiless}, receive, send)


def _query_pairs(query: bytes) -> list[tuple[str, str]]:
    """The raw ``name=value`` pairs of a query string, with each name percent-decoded."""
    pairs = []
    for part in query.decode("latin-1").split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote_plus(name), value))
    return pairs


def _query_tokens(query: bytes) -> list[str]:
    return [unquote_plus(value) for name, value in _query_pairs(query) if name == "token"]


def _without_tokens(query: bytes) -> str:
    """The query string without its ``token=`` parameters, the others as they were sent."""
    parts = [part for part in query.decode("latin-1").split("&") if part]
    return "&".join(part for part in parts if unquote_plus(part.partition("=")[0]) != "token")


def protect(app: FastAPI, token: str, *, limits: Limits, allowed_hosts: Sequence[str]) -> None:
    """Make ``app`` (built by :func:`~siglip_retriever.app.api.create_app`) ask for ``token``.

    Adds :class:`TokenGuard` in front of every other middleware, declares the ``bearer`` scheme
    and each guarded route's ``401`` in the OpenAPI document, and sets
    ``app.state.token_required``.

    Raises:
        ConfigurationError: the token is not one a server may use (:func:`check_token`).
    """
    check_token(token)
    app.add_middleware(TokenGuard, token=token, limits=limits, allowed_hosts=allowed_hosts)
    app.state.token_required = True
    written = app.openapi

    def openapi() -> dict[str, Any]:
        return _with_bearer(written())

    app.openapi = openapi  # type: ignore[method-assign]


def _with_bearer(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` declaring the bearer token on each operation but :data:`OPEN_PATHS`; in place."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The server's token (a browser's page keeps it in a cookie after ?token=).",
    }
    for path, operations in document.get("paths", {}).items():
        if path in OPEN_PATHS:
            continue
        shape = "OpenAIErrorBody" if path.startswith(OPENAI_PREFIX) else "ErrorBody"
        unauthorized = {
            "description": "No token, or a wrong one (unauthorized).",
            "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}},
        }
        for operation in operations.values():
            operation["security"] = [{"bearer": []}]
            operation.setdefault("responses", {})["401"] = unauthorized
    return document
