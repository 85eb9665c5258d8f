"""Run the web app with uvicorn: in the foreground (:func:`serve`) or in a thread (:class:`BackgroundServer`).

Both bind ``127.0.0.1`` unless told otherwise. A server bound to any address but a loopback one
(:func:`is_loopback`) asks for a token (:mod:`siglip_retriever.app.auth`): :func:`serve` takes
one, or generates one and gives the page's URL with ``?token=`` once; :class:`BackgroundServer`,
which serves an app built beforehand, refuses to bind such an address unless the app asks for a
token. The rule follows the address the server is bound to, not the client's: a request from this
machine to a server bound to ``0.0.0.0`` needs the token too. uvicorn's loggers blank every token
(:class:`~siglip_retriever.app.auth.TokenRedactor`: its access log prints the query string).

The transport's own limits, beside those of :class:`~siglip_retriever.app.middleware.RequestGuard`:
a connection must send a complete request head within :attr:`Limits.keep_alive_seconds
<siglip_retriever.app.limits.Limits.keep_alive_seconds>` of opening or of its last response, or it
is closed (:func:`guarded_protocol`; uvicorn alone keeps a silent new connection open for ever),
and uvicorn's "Invalid HTTP request received." warnings about unparsable requests, which any port
scanner causes, are logged at debug level only.

Example:
    >>> import tempfile, urllib.request, json
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.app import create_app
    >>> from siglip_retriever.app.server import BackgroundServer
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> with BackgroundServer(create_app(store)) as server:  # a free port on 127.0.0.1
    ...     with urllib.request.urlopen(server.url + "health") as answer:
    ...         json.load(answer)["status"]
    'ok'
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from siglip_retriever.app.api import LOCAL_HOSTS, create_app
from siglip_retriever.app.auth import TokenRedactor, new_token
from siglip_retriever.app.limits import Limits
from siglip_retriever.errors import ConfigurationError, MissingDependencyError

try:
    import uvicorn
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("uvicorn", "app", "The web app") from exc

if TYPE_CHECKING:
    from siglip_retriever.store.store import MultimodalStore

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "BackgroundServer",
    "allowed_hosts_for",
    "guarded_protocol",
    "is_loopback",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def allowed_hosts_for(bind: str) -> list[str]:
    """The Host headers to accept for a bind address: this machine's names, plus the address.

    Binding every interface (``0.0.0.0``, ``::``) accepts any host name, since the server was
    deliberately exposed and its name on the network is not known here.

    Example:
        >>> from siglip_retriever.app.server import allowed_hosts_for
        >>> allowed_hosts_for("0.0.0.0")
        ['*']
        >>> allowed_hosts_for("192.168.1.20")[-1]
        '192.168.1.20'
    """
    if bind in ("0.0.0.0", "::", ""):
        return ["*"]
    hosts = list(LOCAL_HOSTS)
    if bind.lower() not in hosts:
        hosts.append(bind.lower())
    return hosts


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): a server bound there is reached
    from this machine only, and needs no token.

    Example:
        >>> from siglip_retriever.app.server import is_loopback
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("127.0.0.2")
        (True, True, True, True)
        >>> is_loopback("0.0.0.0"), is_loopback("::"), is_loopback("192.168.1.20"), is_loopback("photos.lan")
        (False, False, False, False)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        if ipaddress.ip_address(shown).version == 6:
            shown = f"[{shown}]"
    except ValueError:
        pass
    return f"http://{shown}:{port}/"


def guarded_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools, else h11), closing connections that send no complete
    request head within the keep-alive time of opening or of their last response.

    Example:
        >>> from siglip_retriever.app.server import guarded_protocol
        >>> guarded_protocol().__name__
        'HeadDeadline'
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - httptools is an optional speed-up of uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class HeadDeadline(Base):
        """Close a connection that sends no complete request head in time (slow or silent clients)."""

        _deadline: asyncio.TimerHandle | None = None
        _answered: object = None  # the request cycle whose response completed last

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and self.cycle is not self._answered:  # a request head arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._answered = self.cycle
            if not self.transport.is_closing() and not self.pipeline:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(self.timeout_keep_alive, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            waiting = self.cycle is None or self.cycle is self._answered
            if waiting and not self.transport.is_closing():
                self.transport.close()

    return HeadDeadline


class _ParserNoise(logging.Filter):
    """Drops the warnings about each unparsable request or form (scanners send many; the client
    gets its 400 or 422) unless uvicorn logs at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        noise = (
            record.name.startswith("python_multipart")
            or record.getMessage() == "Invalid HTTP request received."
        )
        return not noise or logging.getLogger("uvicorn.error").isEnabledFor(logging.DEBUG)


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"port must be between 0 and 65535, not {port!r}")
    limits = getattr(getattr(app, "state", None), "limits", None) or Limits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        timeout_keep_alive=limits.keep_alive_seconds,
        http=guarded_protocol(),
    )
    for name in ("uvicorn.error", "python_multipart.multipart"):  # it warns of each malformed form
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ParserNoise) for f in logger.filters):
            logger.addFilter(_ParserNoise())
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn.asgi"):  # the request line, traces of scopes
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) for f in logger.filters):
            logger.addFilter(TokenRedactor())
    return config


def _bound_port(server: uvicorn.Server, fallback: int) -> int:
    for listener in getattr(server, "servers", []) or []:
        for sock in getattr(listener, "sockets", []) or []:
            return int(sock.getsockname()[1])
    return fallback


def serve(
    store: MultimodalStore,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    limits: Limits | None = None,
    allowed_hosts: Sequence[str] | None = None,
    open_browser: bool = False,
    log_level: str = "warning",
    on_started: Callable[[str], None] | None = None,
    token: str | None = None,
) -> None:
    """Serve the web app over ``store`` until interrupted (Ctrl+C).

    Args:
        store: the store to search.
        host: the address to bind; ``127.0.0.1`` keeps the app on this machine.
        port: the port; 0 picks a free one (``on_started`` receives the URL).
        limits: request limits (default :class:`Limits`).
        allowed_hosts: Host headers to accept (default :func:`allowed_hosts_for` the bind address).
        open_browser: open the page in the default browser once the server is up.
        log_level: uvicorn's log level; ``"debug"`` also logs every request.
        on_started: called with the page's URL once the server listens; when the server
            generated its token, the URL carries it (``?token=``), and without ``on_started`` it
            is printed. This is the only time the generated token is shown.
        token: the token clients must send (:func:`~siglip_retriever.app.auth.check_token`);
            ``None``: none on a loopback address, a generated one
            (:func:`~siglip_retriever.app.auth.new_token`) on any other.

    Raises:
        ConfigurationError: the token is too short or has characters a URL cannot carry as
            they are.

    Example:
        >>> from siglip_retriever.app.server import serve
        >>> callable(serve)  # serve(MultimodalStore("my-store")) blocks until Ctrl+C
        True
    """
    generated = new_token() if token is None and not is_loopback(host) else None
    app = create_app(
        store, limits=limits, allowed_hosts=allowed_hosts or allowed_hosts_for(host), token=generated or token
    )
    server = uvicorn.Server(_config(app, host, port, log_level))

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            url = _url(host, _bound_port(server, port))
            if generated is not None:
                url += "?token=" + quote(generated, safe="")
            if on_started is not None:
                on_started(url)
            elif generated is not None:
                print(f"Serving at {url} (the token is in this address)", flush=True)
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, name="siglip-app-announce", daemon=True).start()
    server.run()


class BackgroundServer:
    """The web app served by uvicorn in a background thread, for tests and notebooks.

    Args:
        app: an ASGI application, such as :func:`create_app`'s.
        host: the address to bind (``127.0.0.1``).
        port: the port; 0 (the default) picks a free one.
        timeout: seconds to wait for the server to start or stop.
        log_level: uvicorn's log level (``"warning"``); ``"debug"`` also logs every request.

    Raises:
        ConfigurationError: the server did not start (the port is taken, say), or ``host`` is
            not a loopback address and ``app`` asks for no token (``create_app(..., token=...)``).

    Example:
        >>> import tempfile, urllib.request
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.app import create_app
        >>> from siglip_retriever.app.server import BackgroundServer
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> server = BackgroundServer(create_app(store)).start()
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.stop()
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        timeout: float = 30.0,
        log_level: str = "warning",
    ) -> None:
        if not is_loopback(host) and not getattr(getattr(app, "state", None), "token_required", False):
            raise ConfigurationError(
                f"a server bound to {host} can be reached from other machines, so its app must "
                "ask for a token: build it with create_app(store, token=...), or bind 127.0.0.1"
            )
        self.host = host
        self.port = port
        self.timeout = timeout
        self.server = uvicorn.Server(_config(app, host, port, log_level))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's URL (ends with ``/``)."""
        return _url(self.host, self.port)

    def start(self) -> BackgroundServer:
        """Start serving; returns once the server listens."""
        self._thread = threading.Thread(target=self.server.run, name="siglip-app", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(f"the web app did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        self.port = _bound_port(self.server, self.port)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.timeout)
            self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
