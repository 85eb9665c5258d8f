"""Run the web app with uvicorn: in the foreground (:func:`serve`) or in a thread (:class:`BackgroundServer`).

Both bind ``127.0.0.1`` unless told otherwise; binding another address exposes the pictures of
the store to whoever can reach it.

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

from siglip_retriever.app.api import LOCAL_HOSTS, create_app
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
        access_log=log_level == "debug",
        timeout_keep_alive=limits.keep_alive_seconds,
        http=guarded_protocol(),
    )
    for name in ("uvicorn.error", "python_multipart.multipart"):  # it warns of each malformed form
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ParserNoise) for f in logger.filters):
            logger.addFilter(_ParserNoise())
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
        on_started: called with the page's URL once the server listens.

    Example:
        >>> from siglip_retriever.app.server import serve
        >>> callable(serve)  # serve(MultimodalStore("my-store")) blocks until Ctrl+C
        True
    """
    app = create_app(store, limits=limits, allowed_hosts=allowed_hosts or allowed_hosts_for(host))
    server = uvicorn.Server(_config(app, host, port, log_level))

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            url = _url(host, _bound_port(server, port))
            if on_started is not None:
                on_started(url)
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

    Raises:
        ConfigurationError: the server did not start (the port is taken, say).

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

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.server = uvicorn.Server(_config(app, host, port, "warning"))
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
