"""The web app: a search page and a REST API over any :class:`~siglip_retriever.MultimodalStore`.

Needs the ``app`` extra (``pip install 'siglip-retriever[app]'``: FastAPI, uvicorn,
python-multipart); without it, :func:`create_app` and :func:`serve` raise
:class:`~siglip_retriever.errors.MissingDependencyError`. Importing this package is cheap:
FastAPI and uvicorn load on first use. From the command line: ``siglip-retriever serve``.

Its modules, each with one job: :mod:`~siglip_retriever.app.api` (:func:`create_app` assembles
the app), :mod:`~siglip_retriever.app.routes` (the routes, one router a module),
:mod:`~siglip_retriever.app.service` (the work behind them, over one
:class:`~siglip_retriever.search.retriever.Retriever`), :mod:`~siglip_retriever.app.schemas`
(the response models), :mod:`~siglip_retriever.app.errors` (JSON errors),
:mod:`~siglip_retriever.app.middleware` (Host check, body limit, security headers),
:mod:`~siglip_retriever.app.limits`, :mod:`~siglip_retriever.app.thumbnails` and
:mod:`~siglip_retriever.app.server` (uvicorn).

Example:
    >>> from siglip_retriever.app import Limits
    >>> Limits(max_k=20).max_k
    20
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from siglip_retriever.app.limits import Limits

if TYPE_CHECKING:
    from siglip_retriever.app.api import create_app
    from siglip_retriever.app.server import BackgroundServer, serve

__all__ = ["BackgroundServer", "Limits", "create_app", "serve"]

_LAZY = {
    "create_app": "siglip_retriever.app.api",
    "serve": "siglip_retriever.app.server",
    "BackgroundServer": "siglip_retriever.app.server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
