"""The ``serve`` command: the web app (a search page and a REST API) over the store.

After ``serve``, ``--host`` and ``--port`` are the web app's address and port (``--bind`` and
``--listen-port`` are the same options); the Chroma server's are ``--chroma-host`` and
``--chroma-port`` there, or the global ``--host`` and ``--port`` before ``serve``.

Bound to any address but a loopback one, the web app asks for a token: ``--token`` (or
``SIGLIP_RETRIEVER_TOKEN``), else a generated one, printed once in the page's URL (``?token=``),
as Jupyter does; a token given is never printed (:mod:`siglip_retriever.app.auth`).

Example:
    >>> from siglip_retriever.cli.serve import serve_command
    >>> {p.name: p.default for p in serve_command.params if p.name.startswith("max")}  # the limits
    {'max_upload_mb': 10.0, 'max_pixels': 50000000, 'max_k': 100}
"""

from __future__ import annotations

import click

from siglip_retriever.cli.options import ENV, SettingsCommand, option, with_global_options
from siglip_retriever.cli.settings import Settings

__all__ = ["CHROMA_SPELLINGS", "serve_command"]

CHROMA_SPELLINGS = {"host": ["--chroma-host"], "port": ["--chroma-port"]}
"""How the Chroma server's host and port are spelled after ``serve``: its --host and --port are the
web app's (what "serve --port 9000" means); before ``serve`` they are the Chroma server's."""


@click.command("serve", cls=SettingsCommand)
@option(
    "--host",
    "--bind",
    "--host-address",
    "bind",
    envvar=ENV + "BIND",
    show_envvar=True,
    default="127.0.0.1",
    help="Address the web app listens on. 0.0.0.0 exposes your pictures to the network. "
    "(The Chroma server's host: --chroma-host, or --host before serve.)",
)
@option(
    "--port",
    "--listen-port",
    "listen_port",
    envvar=ENV + "LISTEN_PORT",
    show_envvar=True,
    type=click.IntRange(0, 65535),
    default=8765,
    help="Port the web app listens on (0: a free one). "
    "(The Chroma server's port: --chroma-port, or --port before serve.)",
)
@click.option(
    "--token",
    envvar=ENV + "TOKEN",
    show_envvar=True,
    default=None,
    help="Token clients must send (API: 'Authorization: Bearer TOKEN'; the page: open it once "
    "with ?token=TOKEN). Needed when --host is not a loopback address: without it, serve "
    "generates one and prints it once in the page's URL. With 127.0.0.1, the app is open unless "
    "a token is given.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser once it is up.")
@option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    help="Largest upload (request body) in MiB.",
)
@option(
    "--max-pixels", type=click.IntRange(min=1), default=50_000_000, help="Largest uploaded image in pixels."
)
@option("--max-k", type=click.IntRange(min=1), default=100, help="Most hits per search.")
@option(
    "--decode-slots",
    type=click.IntRange(min=1),
    default=None,
    help="Uploads and thumbnails decoded at once (default: one per CPU core, 1 to 4); more wait, "
    "which bounds memory to one decoded picture per slot.",
)
@option(
    "--body-timeout",
    type=click.IntRange(min=1, max=3600),
    default=30,
    help="Seconds a request body may take to arrive in full; slower uploads get 408 and are dropped.",
)
@with_global_options(spellings=CHROMA_SPELLINGS)
def serve_command(
    settings: Settings,
    bind: str,
    listen_port: int,
    open_browser: bool,
    max_upload_mb: float,
    max_pixels: int,
    max_k: int,
    decode_slots: int | None,
    body_timeout: int,
    token: str | None,
) -> None:
    """Start the web app: a search page and a REST API (docs at /docs) over the store."""
    from siglip_retriever.app.auth import check_token
    from siglip_retriever.app.limits import Limits
    from siglip_retriever.app.server import serve as run_server

    if token is not None:
        check_token(token)  # before the store opens: a bad token is a usage error

    limits = Limits(
        max_upload_bytes=max(1, int(max_upload_mb * 1024 * 1024)),
        max_pixels=max_pixels,
        max_k=max_k,
        body_timeout_seconds=body_timeout,
        **({"max_concurrent_decodes": decode_slots} if decode_slots else {}),
    )
    store = settings.store(must_exist=True)
    images = store.count("image")

    def started(url: str) -> None:
        note = ""
        if token is not None:
            note = "; clients send the token it was given ('Authorization: Bearer', or the page's ?token=)"
        elif "?token=" in url:
            note = "; API clients send this address's token in 'Authorization: Bearer'"
        click.echo(f"Serving {images} pictures of {store.location} at {url} (Ctrl+C to stop){note}")

    run_server(
        store,
        host=bind,
        port=listen_port,
        limits=limits,
        open_browser=open_browser,
        log_level="info" if settings.verbose else "warning",
        on_started=started,
        token=token,
    )
