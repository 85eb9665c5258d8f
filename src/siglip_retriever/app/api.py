"""The web app's assembly: :func:`create_app`, a REST API with OpenAPI docs and a search page over a store.

``create_app(store)`` returns a FastAPI application. Its routes (:mod:`siglip_retriever.app.routes`):

- ``GET /``: the search page (plain HTML, CSS and JavaScript from ``static/``);
- ``GET /health``: liveness, with the model name and the package version;
- ``GET /api/info``: the store's model, score kind, counts and the limits below;
- ``GET /api/search?q=&k=&min_probability=``: images matching a text query in any language, by
  what they show and what they say (each hit with ``matched``, ``says``, ``words``, and a PDF
  entry's ``page`` and ``page_label``);
- ``POST /api/similar``: images similar to an uploaded image (multipart field ``image``);
- ``GET /api/images/{id}/similar``: images similar to a stored image;
- ``POST /api/classify``: zero-shot probabilities of ``labels`` for an uploaded ``image``;
- ``GET /api/images/{id}``, ``GET /api/images/{id}/thumbnail`` and ``GET /api/images/{id}/file``:
  a stored picture (a PDF's page rendered), its thumbnail and its file (a PDF, which a hit's
  ``file_url`` opens at its page), found by id in the store and served from the path the store
  recorded; never a path taken from the request;
- ``GET /api/duplicates?max_bits=&similar=``: groups of stored files that hold the same picture,
  the one to keep first (nothing is deleted);
- ``POST /v1/embeddings`` and ``GET /v1/models``: OpenAI's embeddings API, the vectors of texts
  and pictures (data URIs) for other programs (:mod:`siglip_retriever.app.routes.openai`); its
  errors have OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``;
- ``GET /docs``, ``GET /redoc``, ``GET /openapi.json``: the API's documentation.

Every error is JSON: ``{"error": "<code>", "message": "<what happened and what to do>"}``, with
the limit that was passed where there is one. The codes: ``upload_too_large`` and
``too_many_pixels`` (413), ``k_too_large``, ``query_too_long``, ``empty_query``,
``too_many_labels``, ``label_too_long``, ``invalid_template``, ``invalid_image``,
``missing_image`` and ``invalid_request`` (422), ``unsupported_media_type`` (415),
``not_found`` (404), ``method_not_allowed`` (405, with ``Allow``), ``request_timeout`` (408),
``invalid_host`` (400), ``unauthorized`` (401, with a token: :mod:`~siglip_retriever.app.auth`),
``busy`` (503, with ``Retry-After``), ``store_unavailable`` (503) and
``internal_error`` (500) (:mod:`siglip_retriever.app.errors`). The OpenAPI document declares
each route's, and every limit of the app's :class:`Limits` (:mod:`siglip_retriever.app.openapi`).

Requests are accepted only with a ``Host`` header that is exactly a name of this machine
(``allowed_hosts``) with an optional port, which keeps other web sites from reading the pictures
through DNS rebinding; ``HEAD`` is served wherever ``GET`` is; request bodies are capped in size
and in time (:mod:`siglip_retriever.app.middleware`).

The pieces: :mod:`~siglip_retriever.app.schemas` (the response models),
:mod:`~siglip_retriever.app.errors`, :mod:`~siglip_retriever.app.middleware` (Host check, body
limit, security headers), :mod:`~siglip_retriever.app.service` (the work behind the routes, over
one :class:`~siglip_retriever.search.retriever.Retriever`) and :mod:`~siglip_retriever.app.routes`.

Example:
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.app import create_app
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> client = TestClient(create_app(store), base_url="http://127.0.0.1")
    >>> client.get("/health").json()["status"]
    'ok'
    >>> client.get("/api/search", params={"q": "un chat", "k": 1000}).json()["error"]
    'k_too_large'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from siglip_retriever import __version__
from siglip_retriever.app.auth import protect
from siglip_retriever.app.errors import ApiError, add_error_handlers
from siglip_retriever.app.limits import Limits
from siglip_retriever.app.middleware import LOCAL_HOSTS, RequestGuard
from siglip_retriever.app.openapi import install as install_openapi
from siglip_retriever.app.routes import ROUTERS
from siglip_retriever.app.routes.meta import STATIC_DIR
from siglip_retriever.app.service import SearchService

if TYPE_CHECKING:
    from fastapi import FastAPI

    from siglip_retriever.store.store import MultimodalStore

__all__ = ["LOCAL_HOSTS", "STATIC_DIR", "ApiError", "Limits", "create_app"]

_DESCRIPTION = (
    "Search pictures by text in any language, by example image, and classify images "
    "zero-shot with SigLIP's calibrated probabilities. Errors are JSON: "
    '`{"error": code, "message": text}`.'
)


def create_app(
    store: MultimodalStore,
    *,
    limits: Limits | None = None,
    allowed_hosts: Sequence[str] | None = None,
    title: str = "SigLIP image search",
    token: str | None = None,
) -> FastAPI:
    """The web app over ``store``: the search page and its REST API.

    Args:
        store: the store to search; its pictures are served by id.
        limits: what one request may ask for (default :class:`Limits`).
        allowed_hosts: host names the ``Host`` header may carry (default :data:`LOCAL_HOSTS`);
            ``["*"]`` accepts any, for a server deliberately exposed to a network.
        title: the page's and the API docs' title.
        token: a token every request but ``/health`` must carry (``Authorization: Bearer``, or
            the page's cookie after ``?token=``; :mod:`siglip_retriever.app.auth`); ``None``
            (the default) leaves the app open, for a server bound to a loopback address.

    Returns:
        A FastAPI application; run it with uvicorn, or use
        :func:`siglip_retriever.app.server.serve`. Its ``state`` holds ``store``, ``limits``,
        ``thumbnails`` (the thumbnail cache), ``service`` (the
        :class:`~siglip_retriever.app.service.SearchService` its routes share) and
        ``token_required``.

    Example:
        >>> import tempfile
        >>> from fastapi.testclient import TestClient
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.app import Limits, create_app
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> app = create_app(store, limits=Limits(max_k=10))
        >>> client = TestClient(app, base_url="http://127.0.0.1")
        >>> client.get("/api/info").json()["limits"]["max_k"]
        10
        >>> client.get("/api/images/../../etc/passwd").status_code
        404
    """
    from siglip_retriever.app.framework import FastAPI, StaticFiles

    limits = limits or Limits()
    service = SearchService(store, limits)
    app = FastAPI(title=title, version=__version__, description=_DESCRIPTION)
    app.state.store = store
    app.state.limits = limits
    app.state.thumbnails = service.thumbnails
    app.state.service = service
    hosts = tuple(allowed_hosts) if allowed_hosts is not None else LOCAL_HOSTS
    app.add_middleware(RequestGuard, limits=limits, allowed_hosts=hosts)
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app, limits)
    app.state.token_required = False
    if token is not None:  # outermost: a refused request's body is never read
        protect(app, token, limits=limits, allowed_hosts=hosts)
    return app
