"""Images from http(s) URLs, fetched within limits. Off unless asked for.

:func:`siglip_retriever.encoding.images.load_image` (and so every encoder and adapter) treats a string that
starts with ``scheme://`` as a URL. By default it refuses it with
:class:`~siglip_retriever.errors.UrlNotAllowedError`; with ``allow_urls=True`` (or a
:class:`UrlPolicy`) it fetches it under the policy's limits:

- ``http`` and ``https`` only, also after a redirect (a redirect to ``file://``, ``ftp://`` or from
  https down to plain http is refused);
- a connect timeout, a timeout on each read, and a deadline on the whole fetch (a server that
  sends one byte a second cannot hold a worker forever);
- a byte limit, checked against ``Content-Length`` before reading and while reading;
- at most ``max_redirects`` redirects, and no URL visited twice (a loop is named as such);
- a reply that says it is not an image (``text/html``, say) is refused before its body is read;
- optionally, an allow-list of hosts, checked on every hop.

Proxies from the environment are not used, and ``Content-Encoding`` is not decoded (the request
asks for ``identity``). Errors are :class:`~siglip_retriever.errors.RemoteImageError` (an
``ImageLoadError``), with the URL's query string left out of messages, since it may hold tokens.

Only the standard library is used (``http.client``), imported when a URL is fetched.

Example:
    >>> from siglip_retriever.encoding.remote import UrlPolicy
    >>> policy = UrlPolicy(allowed_hosts=("images.example.com", ".cdn.example.org"))
    >>> policy.allows_host("a.cdn.example.org"), policy.allows_host("evil.example.net")
    (True, False)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urljoin, urlsplit

from siglip_retriever.errors import ConfigurationError, RemoteImageError, UrlNotAllowedError

if TYPE_CHECKING:
    import socket
    from http.client import HTTPConnection, HTTPResponse

__all__ = ["DEFAULT_MAX_BYTES", "UrlPolicy", "looks_like_url", "redact", "resolve_url_policy"]

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
"""The default byte limit of one fetched image (32 MiB: a 50-megapixel JPEG fits)."""

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_SCHEMES = ("http", "https")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
_CHUNK = 64 * 1024


def looks_like_url(text: str) -> bool:
    """Whether ``text`` starts with ``scheme://`` (``https://``, ``file://``, ``s3://``, ...)."""
    return _URL.match(text.strip()) is not None


def redact(url: str) -> str:
    """``url`` without its user info, query string and fragment, for messages and reports."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an invalid port, say
        return url.split("?", 1)[0].split("#", 1)[0][:200]
    text = f"{parts.scheme}://{host}{port}{parts.path}"
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True)
class UrlPolicy:
    """Which image URLs may be fetched, and the limits of one fetch.

    Pass ``allow_urls=UrlPolicy(...)`` to :func:`~siglip_retriever.encoding.images.load_image` or
    :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`; ``allow_urls=True`` is ``UrlPolicy()``.

    Args:
        allowed_hosts: host names that may be fetched from; empty (the default) allows any host.
            ``"example.com"`` matches that host only; ``".example.com"`` (or
            ``"*.example.com"``) matches its sub-domains too. Checked on every redirect.
        connect_timeout: seconds to wait for the TCP (and TLS) connection.
        read_timeout: seconds to wait for each piece of the reply.
        total_timeout: seconds the whole fetch may take, redirects included.
        max_bytes: refuse replies larger than this.
        max_redirects: follow at most this many redirects.
        user_agent: the ``User-Agent`` header sent.

    Raises:
        ConfigurationError: a limit is not positive.

    Example:
        >>> from siglip_retriever.encoding.remote import UrlPolicy
        >>> UrlPolicy(max_bytes=1_000_000).allows_host("example.com")
        True
        >>> UrlPolicy(max_redirects=-1)
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.ConfigurationError: max_redirects must be 0 or more, not -1
    """

    allowed_hosts: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = 5
    user_agent: str = "siglip-retriever"

    def __post_init__(self) -> None:
        if isinstance(self.allowed_hosts, str):
            raise ConfigurationError("allowed_hosts takes a tuple of host names, not one string")
        object.__setattr__(self, "allowed_hosts", tuple(h.strip().lower() for h in self.allowed_hosts))
        for name in ("connect_timeout", "read_timeout", "total_timeout", "max_bytes"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(f"{name} must be a positive number, not {value!r}")
        if not isinstance(self.max_redirects, int) or self.max_redirects < 0:
            raise ConfigurationError(f"max_redirects must be 0 or more, not {self.max_redirects!r}")

    def allows_host(self, host: str) -> bool:
        """Whether ``host`` is on the allow-list (always, when the list is empty)."""
        if not self.allowed_hosts:
            return True
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            suffix = entry.removeprefix("*")
            if host == entry or (suffix.startswith(".") and (host.endswith(suffix) or host == suffix[1:])):
                return True
        return False

    def fetch(self, url: str) -> bytes:
        """Download ``url`` under this policy and return its body.

        Raises:
            UrlNotAllowedError: the URL, or a redirect, is not http(s) or not an allowed host.
            RemoteImageError: the fetch failed, timed out, was too large or not an image.
        """
        name = redact(url)
        deadline = time.monotonic() + self.total_timeout
        visited: set[str] = set()
        current = url.strip()
        for _hop in range(self.max_redirects + 1):
            parts = self._checked(current, name, first=not visited)
            if current in visited:
                raise RemoteImageError(
                    name,
                    f"redirect loop: redirected back to {redact(current)}; the server is misconfigured",
                )
            visited.add(current)
            location = self._get(parts, name, deadline)
            if isinstance(location, bytes):
                return location
            following = urljoin(current, location)
            if parts.scheme == "https" and urlsplit(following).scheme == "http":
                raise UrlNotAllowedError(
                    name, f"redirect from https to plain http ({redact(following)}) refused; use an https URL"
                )
            current = following
        raise RemoteImageError(
            name,
            f"more than {self.max_redirects} redirects; the URL may loop, or give the final address "
            "(or raise UrlPolicy.max_redirects)",
        )

    # -- internals -----------------------------------------------------------------------------

    def _checked(self, url: str, name: str, *, first: bool) -> SplitResult:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise RemoteImageError(name, f"malformed URL ({exc})") from None
        where = "" if first else f"redirected to {redact(url)}, but "
        if parts.scheme.lower() not in _SCHEMES:
            hint = "; for a local file pass its path" if parts.scheme.lower() == "file" else ""
            raise UrlNotAllowedError(
                name, f"{where}only http:// and https:// URLs are fetched, not {parts.scheme}://{hint}"
            )
        if not parts.hostname:
            raise RemoteImageError(name, "malformed URL (no host)")
        if not self.allows_host(parts.hostname):
            raise UrlNotAllowedError(
                name,
                f"{where}host {parts.hostname!r} is not in the allowed hosts "
                f"({', '.join(self.allowed_hosts)}); add it to UrlPolicy.allowed_hosts if it is trusted",
            )
        return parts

    def _get(self, parts: SplitResult, name: str, deadline: float) -> bytes | str:
        """One GET: the body, or the ``Location`` of a redirect."""
        import socket
        import ssl

        connection = _connection(parts, timeout=min(self.connect_timeout, self._left(deadline, name)))
        sock = None
        try:
            try:
                connection.connect()
            except TimeoutError:
                raise RemoteImageError(
                    name, f"no connection to {parts.hostname} within {self.connect_timeout:g}s; check the URL"
                ) from None
            # kept: the connection drops its own reference once a reply says it will close
            sock = connection.sock
            if sock is not None:
                sock.settimeout(min(self.read_timeout, self._left(deadline, name)))
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            connection.request(
                "GET",
                target,
                headers={"User-Agent": self.user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
            )
            response = connection.getresponse()
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise RemoteImageError(name, f"HTTP {response.status} redirect without a Location header")
                return location
            if response.status != 200:
                raise RemoteImageError(
                    name, f"the server answered HTTP {response.status} {response.reason}; check the URL"
                )
            self._check_headers(response, name)
            return self._read(sock, response, name, deadline)
        except RemoteImageError:
            raise
        except TimeoutError:
            if time.monotonic() >= deadline - 0.01:  # the wait was cut short by the deadline
                self._left(deadline - 0.01, name)
            raise RemoteImageError(
                name,
                f"the server sent nothing for {self.read_timeout:g}s (UrlPolicy.read_timeout); "
                "try again later, or raise the timeout",
            ) from None
        except ssl.SSLError as exc:
            reason = exc.reason or str(exc)
            raise RemoteImageError(name, f"TLS error ({reason}); is the certificate valid?") from None
        except socket.gaierror as exc:
            raise RemoteImageError(name, f"cannot resolve host {parts.hostname!r} ({exc.strerror})") from None
        except (OSError, ValueError, _http_errors()) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise RemoteImageError(name, f"fetch failed ({reason}); check the URL and the server") from None
        finally:
            connection.close()

    def _check_headers(self, response: HTTPResponse, name: str) -> None:
        kind = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind and not kind.startswith(_IMAGE_TYPES):
            raise RemoteImageError(
                name,
                f"the server sent {kind}, not an image; give the address of the image itself, "
                "not of a page that shows it",
            )
        length = response.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > self.max_bytes:
            raise RemoteImageError(name, self._too_large(f"{int(length):,} bytes"))

    def _read(self, sock: socket.socket | None, response: HTTPResponse, name: str, deadline: float) -> bytes:
        body = bytearray()
        while True:
            left = self._left(deadline, name)  # checked before every read, whatever the socket
            if sock is not None:
                sock.settimeout(min(self.read_timeout, left))
            chunk = response.read1(_CHUNK)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > self.max_bytes:
                raise RemoteImageError(name, self._too_large(f"more than {self.max_bytes:,} bytes"))

    def _left(self, deadline: float, name: str) -> float:
        """Seconds left before the deadline of the whole fetch; raises once it has passed."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise RemoteImageError(
                name,
                f"the fetch took longer than {self.total_timeout:g}s (UrlPolicy.total_timeout); "
                "try again later, or raise the limit",
            )
        return left

    def _too_large(self, size: str) -> str:
        return (
            f"the reply is {size}, over the limit of {self.max_bytes:,} bytes (UrlPolicy.max_bytes); "
            "raise it if the image is trusted"
        )


def _connection(parts: SplitResult, *, timeout: float) -> HTTPConnection:
    import http.client
    import ssl

    host = parts.hostname or ""
    if parts.scheme.lower() == "https":
        return http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _http_errors() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def resolve_url_policy(allow_urls: bool | UrlPolicy | None) -> UrlPolicy | None:
    """``True`` -> the default :class:`UrlPolicy`; ``False``/``None`` -> ``None`` (URLs off).

    Raises:
        InputTypeError: ``allow_urls`` is something else.
    """
    from siglip_retriever.errors import InputTypeError

    if allow_urls is None or allow_urls is False:
        return None
    if allow_urls is True:
        return UrlPolicy()
    if isinstance(allow_urls, UrlPolicy):
        return allow_urls
    raise InputTypeError(f"allow_urls must be a bool or a UrlPolicy, not {type(allow_urls).__name__}")
